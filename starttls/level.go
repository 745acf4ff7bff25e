package starttls

import "fmt"

// Level is a client's TLS security level for one destination, modelled on
// Postfix's smtp_tls_security_level. The zero value is Verify: a Policy that
// names no level requires STARTTLS and a PKIX-valid certificate for the
// expected name. Weaker levels must be spelled out, as
// tls.Config.InsecureSkipVerify is.
//
// The same levels apply to implicit TLS (Client.ImplicitTLS), except None
// and May, which are about plaintext and are refused there with ErrPolicy.
type Level int

// The levels. Each names the Postfix level it corresponds to.
const (
	// Verify requires STARTTLS and a certificate that chains to a trusted
	// root (Policy.RootCAs, or the system roots) and matches one of the
	// acceptable names. Postfix: "verify" (and "secure", whose only
	// difference is which names are acceptable: pass them in Policy.Names).
	Verify Level = iota
	// None never sends STARTTLS. Postfix: "none".
	None
	// May uses STARTTLS when the server offers it and does not check the
	// certificate. STARTTLS missing or refused: the session goes on in
	// plaintext and says so (Session.Plaintext). A failed handshake after the
	// 220: the connection is closed and the error asks the caller to
	// reconnect in plaintext (Error.RetryPlaintext). Postfix: "may".
	May
	// Encrypt requires STARTTLS but does not authenticate the server: a
	// man in the middle can still read the mail. Postfix: "encrypt".
	Encrypt
	// Fingerprint requires STARTTLS and a server certificate (or its public
	// key) whose SHA-256 digest is one of Policy.Pins. No CA, name or
	// expiry checks. Postfix: "fingerprint".
	Fingerprint
	// DANE requires STARTTLS and a certificate that Policy.Verifier accepts;
	// the starttls/dane package builds such policies from DNSSEC-signed TLSA
	// records (RFC 7672) and gives May instead when a destination has no
	// secure TLSA records. Without a Verifier, every certificate fails.
	// Postfix: "dane".
	DANE
	// DANEOnly is DANE with no fallback: the starttls/dane package never
	// weakens it to May. At this layer it behaves as DANE. Postfix:
	// "dane-only".
	DANEOnly
	// MTASTS requires STARTTLS and a PKIX-valid certificate for one of
	// Policy.Names, which the starttls/mtasts package fills from an MTA-STS
	// policy in mode enforce (RFC 8461 §4.2), then runs Policy.Verifier when
	// set. It verifies as Verify does; the level tells reports (RFC 8460
	// policy type "sts") which policy applied. Postfix: a policy plugin's
	// "secure" with match patterns.
	MTASTS
	numLevels
)

var levelNames = [numLevels]string{
	Verify:      "verify",
	None:        "none",
	May:         "may",
	Encrypt:     "encrypt",
	Fingerprint: "fingerprint",
	DANE:        "dane",
	DANEOnly:    "dane-only",
	MTASTS:      "mta-sts",
}

// String returns the level's name as Postfix spells it ("verify", "may",
// "dane-only", ...) and "mta-sts" for MTASTS.
func (l Level) String() string {
	if l >= 0 && l < numLevels {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel returns the level named s, as String writes it.
func ParseLevel(s string) (Level, error) {
	for l, n := range levelNames {
		if n == s {
			return Level(l), nil
		}
	}
	return 0, fmt.Errorf("starttls: unknown security level %q", s)
}

// Mandatory reports whether the level requires TLS: every level but None and
// May. Under a mandatory level no failure ever leads to plaintext.
func (l Level) Mandatory() bool { return l != None && l != May }

// Authenticates reports whether the level authenticates the server:
// Verify, Fingerprint, DANE, DANEOnly and MTASTS.
func (l Level) Authenticates() bool { return l.Mandatory() && l != Encrypt }

// Authentication says how a server was authenticated.
type Authentication int

// How a server was authenticated.
const (
	// Unauthenticated: plaintext, or TLS without a certificate check (May,
	// Encrypt).
	Unauthenticated Authentication = iota
	// AuthPKIX: the certificate chains to a trusted root and matches an
	// acceptable name (Verify, MTASTS).
	AuthPKIX
	// AuthFingerprint: the certificate or its public key matched a pin.
	AuthFingerprint
	// AuthDANEEE: a DANE-EE(3) TLSA record matched the leaf (RFC 7672
	// §3.1.1). Set by Policy.Verifier.
	AuthDANEEE
	// AuthDANETA: the chain verified to a DANE-TA(2) trust anchor and the name
	// matched (RFC 7672 §3.1.2). Set by Policy.Verifier.
	AuthDANETA
)

func (a Authentication) String() string {
	switch a {
	case Unauthenticated:
		return "none"
	case AuthPKIX:
		return "pkix"
	case AuthFingerprint:
		return "fingerprint"
	case AuthDANEEE:
		return "dane-ee"
	case AuthDANETA:
		return "dane-ta"
	}
	return fmt.Sprintf("Authentication(%d)", int(a))
}
