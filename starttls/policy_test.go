package starttls_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

func TestLevel(t *testing.T) {
	t.Parallel()
	var zero starttls.Policy
	assert.Equal(t, starttls.Verify, zero.Level, "the zero level is the strict one")
	for _, name := range []string{"verify", "none", "may", "encrypt", "fingerprint", "dane", "dane-only", "mta-sts"} {
		l, err := starttls.ParseLevel(name)
		require.NoError(t, err)
		assert.Equal(t, name, l.String())
	}
	_, err := starttls.ParseLevel("secure")
	assert.Error(t, err)
	assert.False(t, starttls.May.Mandatory())
	assert.False(t, starttls.None.Mandatory())
	assert.True(t, starttls.Encrypt.Mandatory())
	assert.False(t, starttls.Encrypt.Authenticates())
	assert.True(t, starttls.DANEOnly.Authenticates())
	assert.Equal(t, "Level(42)", starttls.Level(42).String())
	assert.Equal(t, "dane-ta", starttls.AuthDANETA.String())
}

func TestPin(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	p := starttls.PinCertificate(leaf.Cert)
	got, err := starttls.ParsePin(p.String())
	require.NoError(t, err)
	assert.Equal(t, p, got)
	_, err = starttls.ParsePin("AB:CD")
	assert.Error(t, err)
	_, err = starttls.ParsePin(string(make([]byte, 64)))
	assert.Error(t, err)
	assert.Equal(t, starttls.Pin(leaf.SPKISHA256()), starttls.PinPublicKey(leaf.Cert))
}

// handshake runs a TLS handshake between cfg and a server presenting leaf,
// over TCP on 127.0.0.1.
func handshake(t *testing.T, leaf *testcert.Leaf, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	return handshakeWith(t, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}, cfg)
}

// handshakeWith is handshake with a given server config (whose session
// ticket keys persist across calls, so that sessions can resume).
func handshakeWith(t *testing.T, server, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		if tc.Handshake() == nil {
			_, _ = tc.Write([]byte("x")) // delivers TLS 1.3 session tickets
			_, _ = tc.Read(make([]byte, 1))
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	return c.ConnectionState(), err
}

func TestTLSConfigNames(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	cases := []struct {
		name  string
		cert  []string
		names []string
		ok    bool
	}{
		{"exact", []string{"mx.example.net"}, []string{"mx.example.net"}, true},
		{"case and dot", []string{"MX.Example.NET"}, []string{"mx.example.net."}, true},
		{"second name", []string{"mx2.example.net"}, []string{"mx1.example.net", "mx2.example.net"}, true},
		{"pattern one label", []string{"mx.example.net"}, []string{"*.example.net"}, true},
		{"pattern wildcard cert", []string{"*.example.net"}, []string{"*.example.net"}, true},
		{"pattern not the apex", []string{"example.net"}, []string{"*.example.net"}, false},
		{"pattern not two labels", []string{"a.b.example.net"}, []string{"*.example.net"}, false},
		{"pattern other domain", []string{"mx.example.org"}, []string{"*.example.net"}, false},
		{"wildcard cert one label", []string{"*.example.net"}, []string{"mx.example.net"}, true},
		{"wildcard cert not two", []string{"*.example.net"}, []string{"a.mx.example.net"}, false},
		{"wildcard in the middle is not a pattern", []string{"mx.example.net"}, []string{"mx.*.net"}, false},
		{"internationalised name", []string{"xn--bcher-kva.example"}, []string{"Bücher.example."}, true},
		{"internationalised pattern", []string{"mx.xn--bcher-kva.example"}, []string{"*.bücher.example"}, true},
		{"ip literal", []string{"192.0.2.25"}, []string{"192.0.2.25"}, true},
		{"mismatch", []string{"mx.example.net"}, []string{"mx.example.org"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &starttls.Policy{Names: tc.names, RootCAs: ca.Pool()}
			_, err := handshake(t, ca.Leaf(tc.cert...), p.TLSConfig(nil, "sni.example.net"))
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, starttls.ErrCertificate)
			var ne *starttls.NameError
			assert.ErrorAs(t, err, &ne)
		})
	}
}

// VerifyConnection runs on resumed handshakes too: a session resumed from a
// cache shared with a looser policy is still checked against this one.
func TestTLSConfigResumption(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	cache := tls.NewLRUClientSessionCache(8)
	verified := 0
	base := &tls.Config{ClientSessionCache: cache, VerifyConnection: func(tls.ConnectionState) error { verified++; return nil }}
	good := &starttls.Policy{RootCAs: ca.Pool()}
	server := &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	cs, err := handshakeWith(t, server, good.TLSConfig(base, "mx.example.test"))
	require.NoError(t, err)
	require.False(t, cs.DidResume)
	cs, err = handshakeWith(t, server, good.TLSConfig(base, "mx.example.test"))
	require.NoError(t, err)
	require.True(t, cs.DidResume, "the second handshake resumes")
	assert.Equal(t, 2, verified, "the policy's check ran on the resumed handshake, then the base hook")
	// Same SNI, hence the same cache entry, but a pin that does not match.
	pinned := &starttls.Policy{Level: starttls.Fingerprint, Pins: []starttls.Pin{{1}}}
	_, err = handshakeWith(t, server, pinned.TLSConfig(base, "mx.example.test"))
	require.ErrorIs(t, err, starttls.ErrPinMismatch)
}

func TestTLSConfigFields(t *testing.T) {
	t.Parallel()
	base := &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, ServerName: "ignored.example"}
	cfg := (&starttls.Policy{}).TLSConfig(base, "mx.example.test")
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion, "TLS 1.2 at least")
	assert.GreaterOrEqual(t, cfg.MaxVersion, cfg.MinVersion)
	assert.Equal(t, "mx.example.test", cfg.ServerName)
	assert.True(t, cfg.InsecureSkipVerify, "verification moves to VerifyConnection")
	assert.NotNil(t, cfg.VerifyConnection)
	assert.Equal(t, uint16(tls.VersionTLS10), base.MinVersion, "base not modified")
	cfg = (&starttls.Policy{MinVersion: tls.VersionTLS13}).TLSConfig(nil, "mx.example.test")
	assert.Equal(t, uint16(tls.VersionTLS13), cfg.MinVersion)
	var nilPolicy *starttls.Policy
	assert.NotNil(t, nilPolicy.TLSConfig(nil, "mx.example.test").VerifyConnection)
}

// An inapplicable policy fails every handshake rather than verifying less.
func TestTLSConfigFailsClosed(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	for name, p := range map[string]*starttls.Policy{
		"verify without name": {RootCAs: ca.Pool()},
		"dane no verifier":    {Level: starttls.DANE},
		"fingerprint no pins": {Level: starttls.Fingerprint},
		"unknown level":       {Level: 77},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := handshake(t, leaf, p.TLSConfig(nil, ""))
			require.ErrorIs(t, err, starttls.ErrPolicy)
		})
	}
}

func TestTLSConfigChainsBaseVerifyConnection(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	called := 0
	base := &tls.Config{VerifyConnection: func(tls.ConnectionState) error { called++; return nil }}
	_, err := handshake(t, ca.Leaf("mx.example.test"), (&starttls.Policy{RootCAs: ca.Pool()}).TLSConfig(base, "mx.example.test"))
	require.NoError(t, err)
	assert.Equal(t, 1, called)
	_, err = handshake(t, testcert.NewCA(t).Leaf("mx.example.test"), (&starttls.Policy{RootCAs: ca.Pool()}).TLSConfig(base, "mx.example.test"))
	require.Error(t, err)
	assert.Equal(t, 1, called, "base hook runs only after the policy accepted")
}

func TestIntermediateChain(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Intermediate("inter").Leaf("mx.example.test")
	_, err := handshake(t, leaf, (&starttls.Policy{RootCAs: ca.Pool()}).TLSConfig(nil, "mx.example.test"))
	require.NoError(t, err)
}
