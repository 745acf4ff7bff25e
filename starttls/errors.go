package starttls

import (
	"crypto/x509"
	"errors"
	"strings"

	"github.com/smtpsec/smtpsec"
)

// ResultType is an RFC 8460 §4.3 result type: the token a TLS report
// (starttls/tlsrpt) records for a failed session.
type ResultType string

// The result types of RFC 8460 §4.3 (IANA "STARTTLS Validation Result Types").
const (
	// §4.3.1 negotiation failures
	ResultSTARTTLSNotSupported    ResultType = "starttls-not-supported"
	ResultCertificateHostMismatch ResultType = "certificate-host-mismatch"
	ResultCertificateNotTrusted   ResultType = "certificate-not-trusted"
	ResultCertificateExpired      ResultType = "certificate-expired"
	ResultValidationFailure       ResultType = "validation-failure"
	// §4.3.2.1 DANE-specific policy failures (set by starttls/dane)
	ResultTLSAInvalid   ResultType = "tlsa-invalid"
	ResultDNSSECInvalid ResultType = "dnssec-invalid"
	ResultDANERequired  ResultType = "dane-required"
	// §4.3.2.2 MTA-STS-specific policy failures (set by starttls/mtasts)
	ResultSTSPolicyFetchError ResultType = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid    ResultType = "sts-policy-invalid"
	ResultSTSWebPKIInvalid    ResultType = "sts-webpki-invalid"
)

// ResultTyper is implemented by errors that know their RFC 8460 result
// type. A Policy.Verifier's errors should implement it (the dane package's
// return ResultTLSAInvalid and friends); other verifier errors are reported
// as ResultValidationFailure.
type ResultTyper interface {
	ResultType() ResultType
}

// Kinds of failure, matched with errors.Is on an *Error.
var (
	// ErrNotOffered: the server's EHLO reply did not list STARTTLS (a
	// STRIPTLS attack looks exactly like this), or it rejected EHLO; under
	// implicit TLS, the server answered the ClientHello with a plaintext
	// SMTP reply.
	ErrNotOffered = errors.New("starttls: STARTTLS not offered")
	// ErrRefused: the server answered STARTTLS with something other than
	// 220 (454, or a 5xx); Error.Reply holds the reply.
	ErrRefused = errors.New("starttls: STARTTLS refused")
	// ErrHandshake: the TLS handshake failed or timed out, for a reason other
	// than the certificate (protocol version, alert, garbage).
	ErrHandshake = errors.New("starttls: TLS handshake failed")
	// ErrCertificate: the handshake completed but the policy rejected the
	// certificate. The cause tells why: x509.UnknownAuthorityError,
	// x509.CertificateInvalidError, *NameError, ErrPinMismatch, or a
	// Verifier's error.
	ErrCertificate = errors.New("starttls: server certificate rejected")
	// ErrProtocol: the server broke the SMTP protocol: a malformed or
	// oversized reply, an unexpected reply code after TLS, or plaintext
	// after the 220 (ErrPlaintextInjection).
	ErrProtocol = errors.New("starttls: SMTP protocol error")
	// ErrRejected: the server rejected the session before STARTTLS came
	// into play (a 4xx or 5xx greeting, or EHLO and HELO both refused under
	// a level that allows plaintext). Not a TLS failure: Error.Result is "".
	ErrRejected = errors.New("starttls: session rejected")
	// ErrConnection: the connection failed, was closed or timed out before
	// the handshake (a stalled greeting, a reply dripping in too slowly).
	// RFC 8460 §4.3.4 counts these as transient: Error.Result is "".
	ErrConnection = errors.New("starttls: connection failed")
	// ErrPolicy: the Policy cannot be applied, e.g. Verify with no name to
	// verify, or DANE with no Verifier. Nothing was sent.
	ErrPolicy = errors.New("starttls: invalid policy")
)

// Causes carried inside an *Error.
var (
	// ErrPlaintextInjection: bytes followed the server's 220 reply to
	// STARTTLS before the TLS handshake. Someone (the server or a man in the
	// middle) sent plaintext that the client would otherwise have read as
	// replies inside TLS (RFC 3207 §6, CVE-2011-1575 class).
	ErrPlaintextInjection = errors.New("starttls: plaintext after the 220 reply to STARTTLS")
	// ErrPinMismatch: neither the certificate's nor its public key's SHA-256
	// digest is among Policy.Pins.
	ErrPinMismatch = errors.New("starttls: certificate matches no pinned fingerprint")
	// ErrNoCertificate: the server sent no certificate.
	ErrNoCertificate = errors.New("starttls: server sent no certificate")
)

// Error is the error of an upgrade and of a Policy's verification. It
// carries what a caller needs to act (Temporary, RetryPlaintext) and to
// report (Result, Reply).
type Error struct {
	// Kind is one of ErrNotOffered, ErrRefused, ErrHandshake,
	// ErrCertificate, ErrProtocol, ErrRejected, ErrPolicy.
	Kind error
	// Result is the RFC 8460 result type, "" when the failure is not a TLS
	// negotiation failure (ErrRejected, ErrPolicy, a dropped connection).
	Result ResultType
	// Level is the level that was being applied.
	Level Level
	// Reply is the server's reply that caused the failure, if any: the
	// refusal of STARTTLS, or an unexpected reply.
	Reply *smtpsec.Reply
	// RetryPlaintext is set under level May when TLS failed after the 220:
	// the connection has been closed, and the caller may reconnect and
	// deliver in plaintext with level None. Never set under other levels.
	RetryPlaintext bool
	// Err is the cause, when there is one.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Reply != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace((&smtpsec.ReplyError{Reply: *e.Reply}).Error()))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is e's Kind, so errors.Is(err, ErrRefused) works
// while Unwrap still exposes the cause.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ResultType returns e.Result.
func (e *Error) ResultType() ResultType { return e.Result }

// Temporary reports whether the message should stay queued rather than
// bounce. TLS failures are always temporary, whatever reply code the server
// used (a 5xx to STARTTLS included): the next attempt may meet a different
// MX, a fixed certificate, or no attacker, and RFC 8461 §5.1 forbids a
// permanent failure under MTA-STS enforce without a policy refresh. Only
// ErrRejected with a 5xx reply is permanent.
func (e *Error) Temporary() bool {
	if e.Kind == ErrRejected && e.Reply != nil {
		return !e.Reply.Permanent()
	}
	return true
}

// NameError means the certificate matches none of the acceptable names.
type NameError struct {
	// Names are the acceptable names (reference identifiers).
	Names []string
	// Certificate is the server's leaf certificate.
	Certificate *x509.Certificate
}

func (e *NameError) Error() string {
	var got []string
	if e.Certificate != nil {
		got = e.Certificate.DNSNames
		for _, ip := range e.Certificate.IPAddresses {
			got = append(got, ip.String())
		}
	}
	return "starttls: certificate is valid for [" + strings.Join(got, " ") + "], not for any of [" + strings.Join(e.Names, " ") + "]"
}

// certificateResult maps a certificate verification error to its RFC 8460
// result type (§4.3.1).
func certificateResult(err error) ResultType {
	var rt ResultTyper
	var inv x509.CertificateInvalidError
	var host x509.HostnameError
	var name *NameError
	switch {
	case errors.As(err, &name), errors.As(err, &host):
		return ResultCertificateHostMismatch
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return ResultCertificateExpired
	case errors.As(err, &rt) && rt.ResultType() != "":
		return rt.ResultType()
	case errors.Is(err, ErrPinMismatch), errors.Is(err, ErrNoCertificate):
		return ResultCertificateNotTrusted
	case errors.As(err, &inv):
		return ResultCertificateNotTrusted
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return ResultCertificateNotTrusted
	}
	return ResultValidationFailure
}
