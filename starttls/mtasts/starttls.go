package mtasts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/starttls"
)

// TLSPolicy returns the starttls.Policy for delivering to the MX host
// mxHost of r's domain (RFC 8461 §4 and §5):
//
//   - no policy, mode None: fallback, the policy that applies without
//     MTA-STS (say starttls.Policy{Level: starttls.May});
//   - mode Testing: fallback too; delivery never fails because of the
//     policy. Call Evaluate after the handshake to learn, for TLS-RPT,
//     what enforce would have decided;
//   - mode Enforce: level starttls.MTASTS, which requires STARTTLS and a
//     PKIX-valid certificate for mxHost (§4.2), with fallback's RootCAs and
//     MinVersion. An mxHost that matches no mx pattern (§4.1) gives a
//     *MXError: skip this host and try the next (§8.4).
//
// Every failure under Enforce is temporary (§5.1): the starttls errors say
// so (Temporary), and so does *MXError. A DANE policy for the same host
// takes precedence and must be chosen before this one (RFC 8461 §2; see
// dane.Host.Policy).
func (r *Result) TLSPolicy(mxHost string, fallback starttls.Policy) (starttls.Policy, error) {
	if r == nil || !r.Enforced() {
		return fallback, nil
	}
	host, err := dnsname.Normalize(mxHost)
	if err != nil || !r.Policy.Match(host) {
		return starttls.Policy{}, &MXError{Domain: r.Domain, Host: mxHost}
	}
	return starttls.Policy{
		Level:      starttls.MTASTS,
		Names:      []string{host},
		RootCAs:    fallback.RootCAs,
		MinVersion: fallback.MinVersion,
	}, nil
}

// Evaluate says what r's policy, applied as if in mode Enforce, concludes
// about a session with mxHost whose TLS state is cs (nil when the session
// did not use TLS): nil when it passes, else the error that enforcement
// would have raised, for a TLS-RPT report of a policy in mode Testing
// (tlsrpt.Classify maps it). roots are the trusted roots, nil for the
// system's. It returns nil for a domain without an active policy.
func (r *Result) Evaluate(mxHost string, cs *tls.ConnectionState, roots *x509.CertPool) error {
	if r == nil || !r.Active() {
		return nil
	}
	host, err := dnsname.Normalize(mxHost)
	if err != nil || !r.Policy.Match(host) {
		return &MXError{Domain: r.Domain, Host: mxHost}
	}
	if cs == nil {
		return &starttls.Error{Kind: starttls.ErrNotOffered, Result: starttls.ResultSTARTTLSNotSupported, Level: starttls.MTASTS}
	}
	p := starttls.Policy{Level: starttls.MTASTS, Names: []string{host}, RootCAs: roots}
	return p.TLSConfig(nil, host).VerifyConnection(*cs)
}

// ResultType returns validation-failure: RFC 8460 has no type of its own
// for an MX host outside the policy.
func (e *MXError) ResultType() starttls.ResultType { return starttls.ResultValidationFailure }

// Temporary reports true: under enforce, nothing is a permanent failure
// before the policy is looked up again (RFC 8461 §5.1).
func (e *MXError) Temporary() bool { return true }

// ResultType returns sts-policy-fetch-error, sts-webpki-invalid or
// sts-policy-invalid, by Kind (RFC 8460 §4.3.2.2).
func (e *FetchError) ResultType() starttls.ResultType {
	switch {
	case errors.Is(e.Kind, ErrWebPKI):
		return starttls.ResultSTSWebPKIInvalid
	case errors.Is(e.Kind, ErrPolicySyntax):
		return starttls.ResultSTSPolicyInvalid
	}
	return starttls.ResultSTSPolicyFetchError
}

// ResultType returns sts-policy-invalid for an invalid or duplicated
// record, sts-policy-fetch-error for a DNS failure or back-off, and "" for
// ErrNoRecord, which is no failure: the domain has no policy.
func (e *LookupError) ResultType() starttls.ResultType {
	switch {
	case errors.Is(e.Kind, ErrNoRecord):
		return ""
	case errors.Is(e.Kind, ErrRecordSyntax), errors.Is(e.Kind, ErrMultipleRecords):
		return starttls.ResultSTSPolicyInvalid
	}
	return starttls.ResultSTSPolicyFetchError
}
