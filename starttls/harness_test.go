package starttls_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peer is the server side of a scripted SMTP dialogue over real TCP.
type peer struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// send writes s as one write, so that it travels in one TCP segment.
func (p *peer) send(s string) {
	_, _ = p.c.Write([]byte(s))
}

// line reads one line from the client, "" on error.
func (p *peer) line() string {
	_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := p.br.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimRight(l, "\r\n")
}

// upgrade runs the server side of the TLS handshake, returning a peer on
// the TLS connection, or nil when the handshake failed.
func (p *peer) upgrade(cfg *tls.Config) *peer {
	tc := tls.Server(p.c, cfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return nil
	}
	_ = tc.SetDeadline(time.Time{})
	return &peer{t: p.t, c: tc, br: bufio.NewReader(tc)}
}

// listen starts a one-connection-at-a-time scripted server on 127.0.0.1
// and returns its address. Every accepted connection runs script.
func listen(t testing.TB, script func(p *peer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer c.Close()
				script(&peer{t: t, c: c, br: bufio.NewReader(c)})
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// pki is the certificates the tests use.
type pki struct {
	ca, other                                    *testcert.CA
	good, wrongName, expired, untrusted, selfish *testcert.Leaf
}

func newPKI(t testing.TB) *pki {
	ca, other := testcert.NewCA(t), testcert.NewCA(t)
	return &pki{
		ca:        ca,
		other:     other,
		good:      ca.Leaf("mx.example.test"),
		wrongName: ca.Leaf("mx.example.net"),
		expired:   ca.Expired("mx.example.test"),
		untrusted: other.Leaf("mx.example.test"),
		selfish:   testcert.SelfSigned(t, testcert.Spec{Names: []string{"mx.example.test"}}),
	}
}

func serverTLS(l *testcert.Leaf) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{l.TLS}}
}

// daneEE is a stand-in for the dane package's verifier: it accepts a leaf
// whose SPKI digest is listed, ignoring names and expiry, as DANE-EE does.
func daneEE(leaves ...*testcert.Leaf) starttls.Verifier {
	return starttls.VerifierFunc(func(cs tls.ConnectionState) (starttls.Authentication, error) {
		if len(cs.PeerCertificates) > 0 {
			got := starttls.PinPublicKey(cs.PeerCertificates[0])
			for _, l := range leaves {
				if got == l.SPKISHA256() {
					return starttls.AuthDANEEE, nil
				}
			}
		}
		return starttls.Unauthenticated, errTLSAMismatch
	})
}

type tlsaError struct{}

func (tlsaError) Error() string                   { return "no TLSA record matches" }
func (tlsaError) ResultType() starttls.ResultType { return starttls.ResultValidationFailure }

var errTLSAMismatch = tlsaError{}

// levelCase is one level under test, with the policy that applies it.
type levelCase struct {
	name   string
	policy *starttls.Policy
	auth   starttls.Authentication
}

// strictLevels are the mandatory levels, configured so that p.good passes.
// Fingerprint and DANE also accept p.expired, as they ignore validity.
func strictLevels(p *pki) []levelCase {
	return []levelCase{
		{"verify", &starttls.Policy{RootCAs: p.ca.Pool()}, starttls.AuthPKIX},
		{"encrypt", &starttls.Policy{Level: starttls.Encrypt}, starttls.Unauthenticated},
		{"fingerprint", &starttls.Policy{Level: starttls.Fingerprint, Pins: []starttls.Pin{starttls.PinCertificate(p.good.Cert), starttls.PinPublicKey(p.expired.Cert)}}, starttls.AuthFingerprint},
		{"mta-sts", &starttls.Policy{Level: starttls.MTASTS, Names: []string{"*.example.test"}, RootCAs: p.ca.Pool()}, starttls.AuthPKIX},
		{"dane", &starttls.Policy{Level: starttls.DANE, Verifier: daneEE(p.good, p.expired)}, starttls.AuthDANEEE},
		{"dane-only", &starttls.Policy{Level: starttls.DANEOnly, Verifier: daneEE(p.good, p.expired)}, starttls.AuthDANEEE},
	}
}

func allLevels(p *pki) []levelCase {
	return append(strictLevels(p), levelCase{"may", &starttls.Policy{Level: starttls.May}, starttls.Unauthenticated})
}

// assertEstablished checks a Session that lc's policy should have given
// against a harness server: TLS 1.2 or later, authenticated as lc says, the
// extensions of the EHLO inside TLS, and a working dialogue (one NOOP, which
// the server counts in executed, then QUIT).
func assertEstablished(t *testing.T, s *starttls.Session, lc levelCase, executed *atomic.Int32) {
	t.Helper()
	assert.True(t, s.Encrypted())
	assert.Nil(t, s.PlaintextReason())
	assert.Equal(t, lc.auth, s.Authentication())
	assert.Equal(t, lc.policy.Level, s.Level())
	cs, ok := s.ConnectionState()
	require.True(t, ok)
	assert.True(t, cs.HandshakeComplete)
	assert.GreaterOrEqual(t, cs.Version, uint16(tls.VersionTLS12))
	assert.Equal(t, []string{"PIPELINING", "8BITMIME"}, s.Extensions().Keywords())
	r, err := s.Command(context.Background(), "NOOP")
	require.NoError(t, err)
	assert.Equal(t, 250, r.Code)
	require.NoError(t, s.Quit(context.Background()))
	assert.EqualValues(t, 1, executed.Load())
}
