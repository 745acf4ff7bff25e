package mtasts

import (
	"errors"
	"strconv"
	"strings"

	"github.com/smtpsec/smtpsec/starttls/internal/txtrecord"
)

// Sentinel errors. Functions return them wrapped in the detail types below,
// so match them with errors.Is.
var (
	// ErrNoRecord: the domain publishes no _mta-sts TXT record starting with
	// v=STSv1; it has no MTA-STS policy (RFC 8461 §3.1).
	ErrNoRecord = errors.New("mtasts: no MTA-STS record")
	// ErrMultipleRecords: more than one TXT record starts with v=STSv1; the
	// domain is treated as having no policy (RFC 8461 §3.1).
	ErrMultipleRecords = errors.New("mtasts: more than one MTA-STS record")
	// ErrRecordSyntax: the TXT record does not follow the §3.1 grammar.
	ErrRecordSyntax = errors.New("mtasts: invalid MTA-STS record")
	// ErrDNS: the TXT lookup failed without a definite answer (timeout,
	// SERVFAIL).
	ErrDNS = errors.New("mtasts: DNS lookup failed")
	// ErrPolicySyntax: the policy file does not follow the §3.2 grammar or
	// misses a required field (TLS-RPT result type sts-policy-invalid).
	ErrPolicySyntax = errors.New("mtasts: invalid policy")
	// ErrPolicyFetch: the policy could not be fetched: network error,
	// status other than 200, redirect, wrong media type, size or time limit
	// (TLS-RPT result type sts-policy-fetch-error).
	ErrPolicyFetch = errors.New("mtasts: policy fetch failed")
	// ErrWebPKI: the policy host's certificate is not PKIX-valid for
	// mta-sts.<domain> (TLS-RPT result type sts-webpki-invalid).
	ErrWebPKI = errors.New("mtasts: policy host certificate invalid")
	// ErrBackoff: a fetch for this domain failed recently, and no new fetch
	// is attempted until the back-off period ends (RFC 8461 §3.3).
	ErrBackoff = errors.New("mtasts: policy fetch in back-off after a failure")
	// ErrMXMismatch: the MX host name matches no mx pattern of the policy
	// (RFC 8461 §4.1; TLS-RPT result type validation-failure).
	ErrMXMismatch = errors.New("mtasts: MX host not allowed by the policy")
	// ErrDomain: the policy domain is not a valid domain name.
	ErrDomain = errors.New("mtasts: invalid policy domain")
)

// SyntaxError reports a TXT record or policy file that could not be parsed.
type SyntaxError struct {
	// Text is the record, or the offending policy line, truncated to 100
	// octets.
	Text string
	// Line is the 1-based line of a policy file; 0 for TXT records.
	Line int
	// Reason says what is wrong, for humans; its wording is not stable.
	Reason string
	// Err is ErrRecordSyntax or ErrPolicySyntax.
	Err error
}

// Error implements error.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Line > 0 {
		b.WriteString(" at line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Text))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *SyntaxError) Unwrap() error { return e.Err }

func truncate(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max]
	}
	return s
}

// FetchError reports a policy fetch that failed.
type FetchError struct {
	// Domain is the policy domain.
	Domain string
	// URL is the policy URL fetched.
	URL string
	// StatusCode is the HTTP status received, 0 when none was.
	StatusCode int
	// Kind is ErrPolicyFetch, ErrWebPKI or ErrPolicySyntax.
	Kind error
	// Err is the cause, such as a *tls.CertificateVerificationError, a
	// net.Error or a *SyntaxError; nil when Kind says it all.
	Err error
}

// Error implements error.
func (e *FetchError) Error() string {
	s := e.Kind.Error() + ": " + e.URL
	if e.StatusCode != 0 {
		s += ": HTTP status " + strconv.Itoa(e.StatusCode)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and the cause.
func (e *FetchError) Unwrap() []error { return txtrecord.Unwrap(e.Kind, e.Err) }

// LookupError reports a failed or unusable _mta-sts TXT lookup.
type LookupError struct {
	// Domain is the policy domain.
	Domain string
	// Kind is ErrNoRecord, ErrMultipleRecords, ErrRecordSyntax or ErrDNS.
	Kind error
	// Err is the resolver's error or a *SyntaxError; may be nil.
	Err error
}

// Error implements error.
func (e *LookupError) Error() string { return txtrecord.LookupErrorText(e.Kind, e.Domain, e.Err) }

// Unwrap returns Kind and the cause.
func (e *LookupError) Unwrap() []error { return txtrecord.Unwrap(e.Kind, e.Err) }

// MXError reports an MX host that an enforced policy does not allow.
type MXError struct {
	// Domain is the policy domain.
	Domain string
	// Host is the MX host name that matched no pattern.
	Host string
}

// Error implements error.
func (e *MXError) Error() string {
	return ErrMXMismatch.Error() + ": " + strconv.Quote(e.Host) + " for " + strconv.Quote(e.Domain)
}

// Unwrap returns ErrMXMismatch.
func (e *MXError) Unwrap() error { return ErrMXMismatch }
