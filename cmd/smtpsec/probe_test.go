package main

import (
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// TestStarttlsProbe runs "starttls probe" against real SMTP receivers on
// loopback, with and without STARTTLS, under each level.
func TestStarttlsProbe(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.CertPEM(), 0o600))
	tlsSrv := smtpserver.Start(t, &smtpserver.Config{
		Hostname: "mx.example.test",
		TLS:      &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}},
		Keywords: func(tlsActive bool) []string {
			if tlsActive {
				return []string{"REQUIRETLS"}
			}
			return nil
		},
	})
	plainSrv := smtpserver.Start(t, &smtpserver.Config{Hostname: "plain.example.test"})
	implicitSrv := smtpserver.Start(t, &smtpserver.Config{
		Hostname:    "mx.example.test",
		TLS:         &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}},
		ImplicitTLS: true,
	})
	spki := leaf.SPKISHA256()
	pin := hex.EncodeToString(spki[:])

	// A port with nothing listening: bind, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"verify", []string{tlsSrv, "--ca", caFile, "--name", "mx.example.test"}, exitOK, []string{
			"greeting:    220 mx.example.test", "before TLS:  250 STARTTLS", "STARTTLS:    220",
			"tls:         TLS 1.3", "names mx.example.test", "after TLS:   REQUIRETLS", "after TLS:   SIZE 10485760",
			"requiretls:  true", "verified:    pkix", "result:      level verify met"}},
		{"verify wrong name", []string{tlsSrv, "--ca", caFile, "--name", "other.example.test"}, exitNegative, []string{
			"tls-rpt:     certificate-host-mismatch", "NOT met"}},
		{"verify untrusted", []string{tlsSrv, "--name", "mx.example.test"}, exitNegative, []string{
			"tls-rpt:     certificate-not-trusted", "NOT met"}},
		{"encrypt", []string{tlsSrv, "--level", "encrypt"}, exitOK, []string{"verified:    none", "level encrypt met"}},
		{"fingerprint", []string{tlsSrv, "--level", "fingerprint", "--pin", pin}, exitOK, []string{"verified:    fingerprint", "level fingerprint met"}},
		{"fingerprint mismatch", []string{tlsSrv, "--level", "fingerprint", "--pin", "00" + pin[2:]}, exitNegative, []string{"NOT met"}},
		{"no STARTTLS verify", []string{plainSrv, "--name", "plain.example.test"}, exitNegative, []string{
			"tls-rpt:     starttls-not-supported", "NOT met"}},
		{"no STARTTLS may", []string{plainSrv, "--level", "may"}, exitOK, []string{"plaintext:", "level may met"}},
		{"implicit TLS verify", []string{implicitSrv, "--implicit", "--ca", caFile, "--name", "mx.example.test"}, exitOK, []string{
			"tls:         TLS 1.3", "after TLS:   mx.example.test", "verified:    pkix", "level verify met"}},
		{"implicit TLS wrong name", []string{implicitSrv, "--implicit", "--ca", caFile, "--name", "other.example.test"}, exitNegative, []string{
			"tls-rpt:     certificate-host-mismatch"}},
		{"implicit TLS against a STARTTLS port", []string{tlsSrv, "--implicit", "--ca", caFile}, exitNegative, []string{
			"tls-rpt:     starttls-not-supported"}},
		{"implicit TLS refuses may", []string{implicitSrv, "--implicit", "--level", "may"}, exitNegative, []string{"NOT met"}},
		{"connection refused", []string{closed}, exitTemp, []string{"NOT met"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := smtpsec(t, "", append([]string{"starttls", "probe", "--timeout", "20s"}, tt.args...)...)
			assert.Equal(t, tt.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			for _, s := range tt.contains {
				assert.Contains(t, r.stdout, s)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		r := smtpsec(t, "", "starttls", "probe", tlsSrv, "--ca", caFile, "--name", "mx.example.test", "--json")
		require.Equal(t, exitOK, r.code, r.stderr)
		var j probeJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
		assert.True(t, j.Passed)
		assert.True(t, j.RequireTLS)
		assert.Equal(t, "pkix", j.Authentication)
		assert.Contains(t, j.EHLOBefore, "250 STARTTLS")
		assert.NotContains(t, j.EHLOAfter, "STARTTLS", "STARTTLS is offered only before TLS")
		require.NotEmpty(t, j.Certificates)
		assert.Equal(t, pin, j.Certificates[0].SPKI)
	})
}
