package starttls

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// DefaultMinVersion is the minimum TLS version when Policy.MinVersion is 0:
// TLS 1.2, as RFC 8996 deprecates 1.0 and 1.1 and RFC 8997 applies that to
// mail.
const DefaultMinVersion = tls.VersionTLS12

// Policy is how a client secures one SMTP connection: the level and what the
// level verifies against. The zero value is level Verify against the system
// roots for the server name given to Upgrade or TLSConfig.
//
// A Policy is not modified by this package and may be shared by concurrent
// upgrades.
type Policy struct {
	// Level is the security level. The zero value is Verify.
	Level Level

	// Names are the acceptable server names (reference identifiers, RFC
	// 6125) for Verify and MTASTS. A name may be an MTA-STS pattern
	// "*.example.net", which accepts any certificate name exactly one label
	// below example.net (RFC 8461 §4.1), or an IP literal. If empty, the
	// server name passed to Upgrade or TLSConfig is the only acceptable name.
	Names []string

	// RootCAs are the roots for Verify and MTASTS. If nil, the base
	// tls.Config's RootCAs are used, and if those are nil too, the system
	// roots.
	RootCAs *x509.CertPool

	// Pins are the accepted SHA-256 digests for level Fingerprint. Each
	// matches the DER certificate or its DER SubjectPublicKeyInfo, as
	// Postfix's fingerprint level does.
	Pins []Pin

	// MinVersion is the lowest TLS version offered. 0 means
	// DefaultMinVersion (TLS 1.2) at every level, may included. Values below
	// TLS 1.2 violate RFC 8996.
	MinVersion uint16

	// SNI, when set, is sent as the TLS server name instead of the server
	// name given to Upgrade or TLSConfig. The dane package sets it to the
	// TLSA base domain (RFC 7672 §8.1).
	SNI string

	// Verifier is the certificate check of levels DANE and DANEOnly (where
	// it is required, and the only check), and an extra check after PKIX for
	// MTASTS. The starttls/dane and starttls/mtasts packages provide it. Its
	// error is wrapped as ErrCertificate; if it implements ResultTyper, its
	// result type is reported.
	Verifier Verifier
}

// Verifier checks a TLS connection's certificates for a policy that this
// package does not implement itself (DANE). It runs inside the handshake,
// from tls.Config.VerifyConnection, on full and resumed handshakes.
type Verifier interface {
	VerifyConnection(cs tls.ConnectionState) (Authentication, error)
}

// VerifierFunc adapts a function to a Verifier.
type VerifierFunc func(cs tls.ConnectionState) (Authentication, error)

// VerifyConnection calls f(cs).
func (f VerifierFunc) VerifyConnection(cs tls.ConnectionState) (Authentication, error) {
	return f(cs)
}

// Pin is the SHA-256 digest of a certificate or of its public key
// (SubjectPublicKeyInfo), for level Fingerprint.
type Pin [sha256.Size]byte

// PinCertificate returns the pin of the whole certificate.
func PinCertificate(c *x509.Certificate) Pin { return sha256.Sum256(c.Raw) }

// PinPublicKey returns the pin of the certificate's public key, which
// survives renewals that keep the key.
func PinPublicKey(c *x509.Certificate) Pin { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }

// ParsePin parses 64 hexadecimal digits, optionally separated by colons as
// Postfix's smtp_tls_fingerprint_cert_match and openssl print them.
func ParsePin(s string) (Pin, error) {
	var p Pin
	h := strings.ReplaceAll(s, ":", "")
	if len(h) != 2*len(p) {
		return p, fmt.Errorf("starttls: pin %q: want %d hex digits", s, 2*len(p))
	}
	if _, err := hex.Decode(p[:], []byte(h)); err != nil {
		return p, fmt.Errorf("starttls: pin %q: %w", s, err)
	}
	return p, nil
}

// String returns the pin as colon-separated upper-case hex pairs.
func (p Pin) String() string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(p)-1)
	for i, c := range p {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return string(b)
}

// TLSConfig returns a tls.Config that enforces p when connecting to
// serverName, for any SMTP client (net/smtp, go-smtp, ...) or other TLS
// user. It is a clone of base (which may be nil) with:
//
//   - ServerName set to p.SNI or serverName, for SNI;
//   - MinVersion raised to p.MinVersion (default TLS 1.2);
//   - InsecureSkipVerify set and all verification done in VerifyConnection,
//     which crypto/tls runs on every handshake, resumed ones included.
//     Under May and Encrypt nothing is verified; under every other level a
//     failure aborts the handshake with an *Error of kind ErrCertificate.
//     base.VerifyConnection, when set, runs after a successful check.
//
// base.RootCAs is used when p.RootCAs is nil. A policy that cannot be
// applied (Verify with no name, DANE without Verifier, an unknown level)
// yields a config whose every handshake fails with ErrPolicy, never one that
// verifies less. Note that level None and the plaintext fallback of May are
// decisions about whether to start TLS, which a tls.Config cannot express:
// only Upgrade applies them.
func (p *Policy) TLSConfig(base *tls.Config, serverName string) *tls.Config {
	return p.tlsConfig(base, serverName, nil)
}

// tlsConfig is TLSConfig, storing the authentication achieved in *auth.
func (p *Policy) tlsConfig(base *tls.Config, serverName string, auth *Authentication) *tls.Config {
	if p == nil {
		p = &Policy{}
	}
	var cfg *tls.Config
	if base == nil {
		cfg = &tls.Config{}
	} else {
		cfg = base.Clone()
	}
	cfg.ServerName = serverName
	if p.SNI != "" {
		cfg.ServerName = p.SNI
	}
	min := p.MinVersion
	if min == 0 {
		min = DefaultMinVersion
	}
	if cfg.MinVersion < min {
		cfg.MinVersion = min
	}
	if cfg.MaxVersion != 0 && cfg.MaxVersion < cfg.MinVersion {
		cfg.MaxVersion = cfg.MinVersion
	}
	roots := p.RootCAs
	if roots == nil {
		roots = cfg.RootCAs
	}
	names := p.Names
	if len(names) == 0 && serverName != "" {
		names = []string{serverName}
	}
	v := verification{policy: p, roots: roots, names: names, now: cfg.Time, next: cfg.VerifyConnection, auth: auth}
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = v.verify
	return cfg
}

// verification is one TLSConfig's VerifyConnection.
type verification struct {
	policy *Policy
	roots  *x509.CertPool
	names  []string
	now    func() time.Time
	next   func(tls.ConnectionState) error
	auth   *Authentication
}

func (v *verification) verify(cs tls.ConnectionState) error {
	a, err := v.policy.check(cs, v.roots, v.names, v.now)
	if err != nil {
		return err
	}
	if v.next != nil {
		if err := v.next(cs); err != nil {
			return &Error{Kind: ErrCertificate, Result: certificateResult(err), Level: v.policy.Level, Err: err}
		}
	}
	if v.auth != nil {
		*v.auth = a
	}
	return nil
}

// check applies the level's verification to a completed handshake.
func (p *Policy) check(cs tls.ConnectionState, roots *x509.CertPool, names []string, now func() time.Time) (Authentication, error) {
	fail := func(err error) (Authentication, error) {
		return Unauthenticated, &Error{Kind: ErrCertificate, Result: certificateResult(err), Level: p.Level, Err: err}
	}
	switch p.Level {
	case None, May, Encrypt:
		return Unauthenticated, nil
	case Verify, MTASTS:
		if len(names) == 0 {
			return Unauthenticated, &Error{Kind: ErrPolicy, Level: p.Level, Err: errNoNames}
		}
		if len(cs.PeerCertificates) == 0 {
			return fail(ErrNoCertificate)
		}
		if err := verifyChain(cs.PeerCertificates, roots, now); err != nil {
			return fail(err)
		}
		if err := matchNames(cs.PeerCertificates[0], names); err != nil {
			return fail(err)
		}
		if p.Level == MTASTS && p.Verifier != nil {
			if _, err := p.Verifier.VerifyConnection(cs); err != nil {
				return fail(err)
			}
		}
		return AuthPKIX, nil
	case Fingerprint:
		if len(p.Pins) == 0 {
			return Unauthenticated, &Error{Kind: ErrPolicy, Level: p.Level, Err: errNoPins}
		}
		if len(cs.PeerCertificates) == 0 {
			return fail(ErrNoCertificate)
		}
		leaf := cs.PeerCertificates[0]
		cert, spki := PinCertificate(leaf), PinPublicKey(leaf)
		match := 0
		for i := range p.Pins {
			// Constant time, so a pin cannot be learnt from timing.
			match |= subtle.ConstantTimeCompare(p.Pins[i][:], cert[:]) | subtle.ConstantTimeCompare(p.Pins[i][:], spki[:])
		}
		if match == 0 {
			return fail(ErrPinMismatch)
		}
		return AuthFingerprint, nil
	case DANE, DANEOnly:
		if p.Verifier == nil {
			return Unauthenticated, &Error{Kind: ErrPolicy, Level: p.Level, Err: errNoVerifier}
		}
		a, err := p.Verifier.VerifyConnection(cs)
		if err != nil {
			return fail(err)
		}
		return a, nil
	}
	return Unauthenticated, &Error{Kind: ErrPolicy, Level: p.Level, Err: fmt.Errorf("unknown level %d", int(p.Level))}
}

var (
	errNoNames    = fmt.Errorf("no server name to verify the certificate against")
	errNoPins     = fmt.Errorf("level fingerprint with no pins")
	errNoVerifier = fmt.Errorf("level dane with no Verifier")
)

// verifyChain builds a chain from the leaf through the intermediates the
// server sent to one of roots (nil: the system roots), checking validity
// periods and the server-auth key usage.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, now func() time.Time) error {
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if len(certs) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	if now != nil {
		opts.CurrentTime = now()
	}
	_, err := certs[0].Verify(opts)
	return err
}

// matchNames checks that the leaf is valid for one of the acceptable names
// (RFC 6125 §6 via x509.VerifyHostname; RFC 8461 §4.1 for "*." patterns).
func matchNames(leaf *x509.Certificate, names []string) error {
	for _, n := range names {
		n = referenceName(n)
		if suffix, ok := strings.CutPrefix(n, "*."); ok {
			if matchPattern(leaf, suffix) {
				return nil
			}
			continue
		}
		if _, err := netip.ParseAddr(n); err != nil && strings.Contains(n, "*") {
			continue // a wildcard elsewhere is not a valid reference identifier
		}
		if leaf.VerifyHostname(n) == nil {
			return nil
		}
	}
	return &NameError{Names: names, Certificate: leaf}
}

// referenceName returns a reference identifier in the form certificates
// use: lower case, no trailing dot, A-labels for internationalised names
// (RFC 6125 §6.2.1). An "*." prefix is kept; names that do not normalise
// are compared as given, lower-cased, and will simply not match.
func referenceName(n string) string {
	n = strings.TrimSuffix(strings.ToLower(n), ".")
	if _, err := netip.ParseAddr(n); err == nil {
		return n
	}
	prefix, rest := "", n
	if r, ok := strings.CutPrefix(n, "*."); ok {
		prefix, rest = "*.", r
	}
	if a, err := dnsname.Normalize(rest); err == nil && a != "" {
		return prefix + a
	}
	return n
}

// matchPattern reports whether a DNS-ID of leaf lies exactly one label
// below suffix: "*.example.net" accepts "mx.example.net" and a wildcard
// certificate "*.example.net", but neither "example.net" nor
// "a.b.example.net" (RFC 8461 §4.1).
func matchPattern(leaf *x509.Certificate, suffix string) bool {
	for _, d := range leaf.DNSNames {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		label, ok := strings.CutSuffix(d, "."+suffix)
		if ok && label != "" && !strings.Contains(label, ".") {
			return true
		}
	}
	return false
}
