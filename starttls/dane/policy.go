package dane

import (
	"crypto/tls"
	"errors"
	"strconv"

	"github.com/smtpsec/smtpsec/starttls"
)

// Errors of Host.Policy, wrapped in *PolicyError.
var (
	// ErrRequired: level dane-only, but the host has no secure TLSA
	// records (TLS-RPT result type dane-required, RFC 8460 §4.3.2.1).
	ErrRequired = errors.New("dane: DANE required but no secure TLSA records")
	// ErrNoUsableRecords: level dane-only, but every TLSA record is
	// unusable (TLS-RPT result type tlsa-invalid).
	ErrNoUsableRecords = errors.New("dane: DANE required but no usable TLSA records")
)

// PolicyError reports an MX host that a mandatory DANE level cannot use.
// Such failures are temporary: the records may be fixed, and another MX
// host may have them.
type PolicyError struct {
	// Host is the MX host.
	Host string
	// Kind is ErrRequired or ErrNoUsableRecords.
	Kind error
}

// Error implements error.
func (e *PolicyError) Error() string { return e.Kind.Error() + ": " + strconv.Quote(e.Host) }

// Unwrap returns Kind.
func (e *PolicyError) Unwrap() error { return e.Kind }

// Temporary reports true: the message should stay queued.
func (e *PolicyError) Temporary() bool { return true }

// ResultType returns dane-required or tlsa-invalid.
func (e *PolicyError) ResultType() starttls.ResultType {
	if errors.Is(e.Kind, ErrNoUsableRecords) {
		return starttls.ResultTLSAInvalid
	}
	return starttls.ResultDANERequired
}

// ResultType returns dnssec-invalid (RFC 8460 §4.3.2.1: no valid records
// were returned from the recursive resolver).
func (e *LookupError) ResultType() starttls.ResultType { return starttls.ResultDNSSECInvalid }

// Temporary reports true: RFC 7672 §2.1.1 says to defer delivery or try
// another MX host.
func (e *LookupError) Temporary() bool { return true }

// ResultType maps the failure to its RFC 8460 result type: tlsa-invalid
// when no record matched, certificate-expired, certificate-host-mismatch,
// and certificate-not-trusted for a broken chain or no certificate.
func (e *VerifyError) ResultType() starttls.ResultType {
	switch {
	case errors.Is(e.Kind, ErrNoMatch):
		return starttls.ResultTLSAInvalid
	case errors.Is(e.Kind, ErrExpired):
		return starttls.ResultCertificateExpired
	case errors.Is(e.Kind, ErrNameMismatch):
		return starttls.ResultCertificateHostMismatch
	}
	return starttls.ResultCertificateNotTrusted
}

// VerifyConnection implements starttls.Verifier: it runs Verify and reports
// DANE-EE or DANE-TA authentication.
func (v *Verifier) VerifyConnection(cs tls.ConnectionState) (starttls.Authentication, error) {
	r, err := v.Verify(cs)
	if err != nil {
		return starttls.Unauthenticated, err
	}
	if r.Usage == DANETA {
		return starttls.AuthDANETA, nil
	}
	return starttls.AuthDANEEE, nil
}

// Policy returns the starttls.Policy for delivering to h under level, which
// must be starttls.DANE or starttls.DANEOnly (Postfix's dane and
// dane-only):
//
//   - Authenticated: level with a Verifier for h's records and names, and
//     SNI set to the TLSA base domain (RFC 7672 §8.1). fallback is ignored:
//     a DANE failure is never overridden by MTA-STS (RFC 8461 §2).
//   - EncryptOnly: under DANE, level Encrypt (TLS mandatory, no
//     authentication, RFC 7672 §2.2); under DANEOnly, a *PolicyError
//     wrapping ErrNoUsableRecords.
//   - Insecure: under DANE, fallback, which is the policy that applies
//     without DANE: an MTA-STS policy (mtasts.Result.Policy) or an
//     opportunistic one (starttls.Policy{Level: starttls.May}); under
//     DANEOnly, a *PolicyError wrapping ErrRequired.
//
// MinVersion and RootCAs of fallback carry over to the DANE policies.
// Other levels return fallback unchanged.
func (h *Host) Policy(level starttls.Level, fallback starttls.Policy) (starttls.Policy, error) {
	if level != starttls.DANE && level != starttls.DANEOnly {
		return fallback, nil
	}
	switch h.Status {
	case Authenticated:
		return starttls.Policy{
			Level:      level,
			SNI:        h.BaseDomain,
			Verifier:   h.Verifier(),
			MinVersion: fallback.MinVersion,
			RootCAs:    fallback.RootCAs,
		}, nil
	case EncryptOnly:
		if level == starttls.DANEOnly {
			return starttls.Policy{}, &PolicyError{Host: h.Host, Kind: ErrNoUsableRecords}
		}
		return starttls.Policy{Level: starttls.Encrypt, SNI: h.BaseDomain, MinVersion: fallback.MinVersion}, nil
	}
	if level == starttls.DANEOnly {
		return starttls.Policy{}, &PolicyError{Host: h.Host, Kind: ErrRequired}
	}
	return fallback, nil
}
