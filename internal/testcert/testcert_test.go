package testcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
)

func verify(l *testcert.Leaf, roots *x509.CertPool, name string) error {
	inter := x509.NewCertPool()
	for _, der := range l.TLS.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		inter.AddCert(c)
	}
	_, err := l.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return err
}

func TestVerification(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	other := testcert.NewCA(t)
	inter := ca.Intermediate("smtpsec test intermediate")
	tests := []struct {
		name   string
		leaf   *testcert.Leaf
		roots  *x509.CertPool
		host   string
		reason func(error) bool
	}{
		{"valid", ca.Leaf("mx.example.test"), ca.Pool(), "mx.example.test", nil},
		{"ip", ca.Leaf("mx.example.test", "192.0.2.25"), ca.Pool(), "192.0.2.25", nil},
		{"intermediate", inter.Leaf("mx.example.test"), ca.Pool(), "mx.example.test", nil},
		{"wrong name", ca.Leaf("other.example.test"), ca.Pool(), "mx.example.test", isHostname},
		{"expired", ca.Expired("mx.example.test"), ca.Pool(), "mx.example.test", isExpired},
		{"not yet valid", ca.NotYetValid("mx.example.test"), ca.Pool(), "mx.example.test", isExpired},
		{"other CA", ca.Leaf("mx.example.test"), other.Pool(), "mx.example.test", isUnknownAuthority},
		{"self-signed", testcert.SelfSigned(t, testcert.Spec{Names: []string{"mx.example.test"}}), ca.Pool(), "mx.example.test", isUnknownAuthority},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := verify(tc.leaf, tc.roots, tc.host)
			if tc.reason == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, tc.reason(err), "unexpected error %T %v", err, err)
		})
	}
}

func isHostname(err error) bool {
	var e x509.HostnameError
	return errors.As(err, &e)
}

func isExpired(err error) bool {
	var e x509.CertificateInvalidError
	return errors.As(err, &e) && e.Reason == x509.Expired
}

func isUnknownAuthority(err error) bool {
	var e x509.UnknownAuthorityError
	return errors.As(err, &e)
}

func TestSpecValidity(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	nb := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	l := ca.Issue(testcert.Spec{Names: []string{"a.example.test"}, NotBefore: nb, NotAfter: nb.Add(time.Hour)})
	assert.Equal(t, nb, l.Cert.NotBefore.UTC())
	assert.Equal(t, nb.Add(time.Hour), l.Cert.NotAfter.UTC())
	assert.Equal(t, "a.example.test", l.Cert.Subject.CommonName)
	assert.Equal(t, []string{"a.example.test"}, l.Cert.DNSNames)
}

func TestTLSHandshake(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t).Intermediate("inter")
	leaf := ca.Leaf("mx.example.test")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- tls.Server(c, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}).Handshake()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.test"})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, <-done)
}

func TestWriteFiles(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	f := testcert.WriteFiles(t, t.TempDir(), "mx-", ca, leaf)
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	require.NoError(t, err)
	assert.Equal(t, leaf.TLS.Certificate, pair.Certificate)
	caPEM, err := os.ReadFile(f.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	assert.NoError(t, verify(leaf, pool, "mx.example.test"))
	st, err := os.Stat(f.Key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestDigests(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	a, b := ca.Leaf("a.example.test"), ca.Leaf("a.example.test")
	assert.NotEqual(t, a.CertSHA256(), b.CertSHA256())
	assert.NotEqual(t, a.SPKISHA256(), b.SPKISHA256())
	assert.NotEqual(t, a.CertSHA256(), a.SPKISHA256())
}

func BenchmarkLeaf(b *testing.B) {
	ca := testcert.NewCA(b)
	b.ReportAllocs()
	for b.Loop() {
		ca.Leaf("mx.example.test")
	}
}
