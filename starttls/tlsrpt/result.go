package tlsrpt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"

	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

// ResultType is a result type of RFC 8460 §4.3, the same type as
// starttls.ResultType so that values flow between the packages unchanged.
type ResultType = starttls.ResultType

// The result types of RFC 8460 §4.3 (IANA "STARTTLS Validation Result
// Types").
const (
	// §4.3.1 Negotiation failures.
	STARTTLSNotSupported    = starttls.ResultSTARTTLSNotSupported
	CertificateHostMismatch = starttls.ResultCertificateHostMismatch
	CertificateNotTrusted   = starttls.ResultCertificateNotTrusted
	CertificateExpired      = starttls.ResultCertificateExpired
	ValidationFailure       = starttls.ResultValidationFailure
	// §4.3.2.1 DANE-specific policy failures.
	TLSAInvalid   = starttls.ResultTLSAInvalid
	DNSSECInvalid = starttls.ResultDNSSECInvalid
	DANERequired  = starttls.ResultDANERequired
	// §4.3.2.2 MTA-STS-specific policy failures.
	STSPolicyFetchError = starttls.ResultSTSPolicyFetchError
	STSPolicyInvalid    = starttls.ResultSTSPolicyInvalid
	STSWebPKIInvalid    = starttls.ResultSTSWebPKIInvalid
)

// Session describes the session a failure happened in, for the fields of
// FailureDetails that an error does not carry.
type Session struct {
	// SendingMTAIP is the IP address the sending MTA connected from.
	SendingMTAIP string
	// ReceivingMXHostname is the MX host name connected to.
	ReceivingMXHostname string
	// ReceivingMXHelo is the name in the server's greeting, if known.
	ReceivingMXHelo string
	// ReceivingIP is the server's IP address.
	ReceivingIP string
}

// Details returns the failure details for a session that failed with err
// (RFC 8460 §4.4): the result type and reason code of Classify, and the
// session's addresses and names. It returns nil when err is nil or is not
// a reportable failure (Classify's ok is false).
func Details(err error, s Session) *FailureDetails {
	rt, code, ok := Classify(err)
	if !ok {
		return nil
	}
	return &FailureDetails{
		ResultType:          rt,
		SendingMTAIP:        s.SendingMTAIP,
		ReceivingMXHostname: s.ReceivingMXHostname,
		ReceivingMXHelo:     s.ReceivingMXHelo,
		ReceivingIP:         s.ReceivingIP,
		FailureReasonCode:   code,
	}
}

// Classify maps an error of the starttls, mtasts or dane packages (or of
// crypto/tls and crypto/x509) to its RFC 8460 result type and a short,
// stable failure reason code:
//
//   - a *starttls.Error carries its result type; one with an empty type
//     (the server rejected the session, or the connection dropped) is not
//     a TLS failure, and ok is false;
//   - mtasts: a fetch error is sts-policy-fetch-error, sts-webpki-invalid
//     or sts-policy-invalid by its kind; an invalid or duplicated TXT
//     record is sts-policy-invalid; a DNS failure or back-off is
//     sts-policy-fetch-error; an MX host outside the policy is
//     validation-failure with code "mx-mismatch"; no record at all is not
//     a failure (ok false);
//   - dane: a failed TLSA lookup is dnssec-invalid; a certificate that
//     matches no record is tlsa-invalid; DANE-TA chain, expiry and name
//     failures are certificate-not-trusted, certificate-expired and
//     certificate-host-mismatch; a destination without DANE under
//     dane-only is dane-required;
//   - other errors that implement starttls.ResultTyper report their type;
//   - x509 errors map as crypto/x509 describes them; anything else is
//     validation-failure (RFC 8460 §4.3.3).
//
// ok is false for a nil error.
func Classify(err error) (rt ResultType, code string, ok bool) {
	if err == nil {
		return "", "", false
	}
	var (
		se  *starttls.Error
		mfe *mtasts.FetchError
		mle *mtasts.LookupError
		mxe *mtasts.MXError
		dle *dane.LookupError
		dve *dane.VerifyError
		dpe *dane.PolicyError
		rtr starttls.ResultTyper
	)
	switch {
	case errors.As(err, &se):
		if se.Result == "" {
			return "", "", false
		}
		return se.Result, reason(se), true
	case errors.As(err, &mfe):
		return mfe.ResultType(), reason(mfe.Kind), true
	case errors.As(err, &mle):
		if errors.Is(mle.Kind, mtasts.ErrNoRecord) {
			return "", "", false
		}
		return mle.ResultType(), reason(mle.Kind), true
	case errors.As(err, &mxe):
		return mxe.ResultType(), "mx-mismatch", true
	case errors.As(err, &dle):
		return dle.ResultType(), reason(dle.Kind), true
	case errors.As(err, &dpe):
		return dpe.ResultType(), reason(dpe.Kind), true
	case errors.As(err, &dve):
		return dve.ResultType(), reason(dve.Kind), true
	case errors.As(err, &rtr) && rtr.ResultType() != "":
		return rtr.ResultType(), reason(err), true
	}
	return x509Result(err), reason(err), true
}

// x509Result maps crypto errors to §4.3.1 result types.
func x509Result(err error) ResultType {
	var (
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		ua  x509.UnknownAuthorityError
		cve *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &hn):
		return CertificateHostMismatch
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return CertificateExpired
	case errors.As(err, &ci), errors.As(err, &ua), errors.As(err, &cve):
		return CertificateNotTrusted
	}
	return ValidationFailure
}

// reason returns a short code for the most specific cause in err's chain
// that has a stable text: a sentinel of this module's packages, a TLS
// alert, a timeout. Messages that hold addresses or ports are avoided, so
// that failures group well in reports.
func reason(err error) string {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return "tls-alert-" + strconv.Itoa(int(alert))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	for _, s := range sentinels() {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return ""
}

// sentinels returns the errors reason knows, most specific first.
func sentinels() []error {
	return []error{
		starttls.ErrPlaintextInjection, starttls.ErrPinMismatch, starttls.ErrNoCertificate,
		dane.ErrNoMatch, dane.ErrChain, dane.ErrExpired, dane.ErrNameMismatch, dane.ErrNoCertificate,
		dane.ErrLookup, dane.ErrRequired, dane.ErrNoUsableRecords,
		mtasts.ErrPolicyFetch, mtasts.ErrPolicySyntax, mtasts.ErrWebPKI, mtasts.ErrMultipleRecords,
		mtasts.ErrRecordSyntax, mtasts.ErrDNS, mtasts.ErrBackoff, mtasts.ErrMXMismatch,
		starttls.ErrNotOffered, starttls.ErrRefused, starttls.ErrHandshake, starttls.ErrCertificate,
		starttls.ErrProtocol,
	}
}

// STSPolicy returns the report policy for an MTA-STS result: type sts with
// the policy's lines and mx patterns when a policy in mode enforce or
// testing applies, else NoPolicy for the domain.
func STSPolicy(r *mtasts.Result) Policy {
	if !r.Active() {
		return NoPolicy(r.Domain)
	}
	return Policy{Type: PolicySTS, String: r.Policy.Lines(), Domain: r.Domain, MXHost: append([]string(nil), r.Policy.MX...)}
}

// TLSAPolicy returns the report policy for the DANE outcome h of an MX
// host of domain: type tlsa with the TLSA records (usable and unusable) in
// presentation format and the MX host, or NoPolicy when h has no secure
// TLSA records.
func TLSAPolicy(domain string, h *dane.Host) Policy {
	if h.Status == dane.Insecure {
		return NoPolicy(domain)
	}
	var recs []string
	for _, r := range h.Records {
		recs = append(recs, r.String())
	}
	for _, r := range h.Unusable {
		recs = append(recs, r.String())
	}
	return Policy{Type: PolicyTLSA, String: recs, Domain: domain, MXHost: []string{h.Host}}
}

// NoPolicy returns the report policy of a domain without a policy.
func NoPolicy(domain string) Policy {
	return Policy{Type: PolicyNone, Domain: domain}
}
