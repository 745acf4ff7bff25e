package interop

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls/dane"
)

// tlsOnce serves TLS handshakes with cert on 127.0.0.1 until the test ends.
func tlsOnce(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				// Hold the connection until the client leaves.
				var b [1]byte
				_, _ = c.Read(b[:])
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// opensslDANE reports whether openssl s_client authenticates the server at
// addr with the TLSA records, for the TLSA base domain host, with the SMTP
// profile of RFC 7672 (no name checks for DANE-EE).
func opensslDANE(t *testing.T, openssl, addr, host string, records []dane.TLSA) (bool, string) {
	t.Helper()
	args := []string{"s_client", "-connect", addr, "-servername", host,
		"-dane_tlsa_domain", host, "-dane_ee_no_namechecks", "-verify_return_error", "-brief"}
	for _, r := range records {
		args = append(args, "-dane_tlsa_rrdata", r.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), "Verification: OK"), string(out)
}

// ourDANE reports whether our Verifier authenticates the server at addr,
// from a real handshake.
func ourDANE(t *testing.T, addr, host string, records []dane.TLSA) (bool, error) {
	t.Helper()
	v := &dane.Verifier{Records: records, Names: []string{host}}
	var d net.Dialer
	d.Timeout = 10 * time.Second
	c, err := tls.DialWithDialer(&d, "tcp", addr, &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // verification is VerifyConnection's
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := v.Verify(cs)
			return err
		},
	})
	if err != nil {
		return false, err
	}
	_ = c.Close()
	return true, nil
}

func digest(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}

func tlsa(u dane.Usage, s dane.Selector, m dane.MatchingType, c *x509.Certificate) dane.TLSA {
	content := c.Raw
	if s == dane.SPKI {
		content = c.RawSubjectPublicKeyInfo
	}
	if m == dane.SHA256 {
		content = digest(content)
	}
	return dane.TLSA{Usage: u, Selector: s, MatchingType: m, Data: content}
}

// TestDANEAgainstOpenSSL compares our DANE verdicts with OpenSSL's DANE
// implementation (s_client -dane_tlsa_rrdata) on the same servers and
// records.
func TestDANEAgainstOpenSSL(t *testing.T) {
	openssl := requirePeer(t, "openssl")
	root := testcert.NewCA(t)
	inter := root.Intermediate("interop DANE TA")
	const host = "mx.example.test"
	good := inter.Leaf(host)
	wrongName := inter.Leaf("other.example.test")
	expiredWrong := root.Expired("elsewhere.invalid")
	expiredLeaf := inter.Expired(host)
	leafOnly := root.Leaf(host) // chain: the leaf alone; the root is not sent

	tests := []struct {
		name    string
		cert    tls.Certificate
		records []dane.TLSA
		want    bool
	}{
		{"3 1 1 expired wrong-name leaf", expiredWrong.TLS, []dane.TLSA{tlsa(dane.DANEEE, dane.SPKI, dane.SHA256, expiredWrong.Cert)}, true},
		{"3 0 1 leaf", good.TLS, []dane.TLSA{tlsa(dane.DANEEE, dane.Cert, dane.SHA256, good.Cert)}, true},
		{"3 1 1 other key", good.TLS, []dane.TLSA{tlsa(dane.DANEEE, dane.SPKI, dane.SHA256, wrongName.Cert)}, false},
		{"2 0 1 intermediate sent", good.TLS, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}, true},
		{"2 1 1 intermediate sent", good.TLS, []dane.TLSA{tlsa(dane.DANETA, dane.SPKI, dane.SHA256, inter.Cert)}, true},
		{"2 0 1 wrong leaf name", wrongName.TLS, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}, false},
		{"2 0 1 expired leaf", expiredLeaf.TLS, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}, false},
		{"2 0 0 TA not sent", leafOnly.TLS, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.Full, root.Cert)}, true},
		{"2 0 1 TA not sent", leafOnly.TLS, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, root.Cert)}, false},
		{"1 1 1 PKIX-EE only", good.TLS, []dane.TLSA{tlsa(dane.PKIXEE, dane.SPKI, dane.SHA256, good.Cert)}, false},
		{"mixed: bad 3 1 1, good 2 0 1", good.TLS, []dane.TLSA{
			tlsa(dane.DANEEE, dane.SPKI, dane.SHA256, wrongName.Cert), tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tlsOnce(t, tt.cert)
			ours, err := ourDANE(t, addr, host, tt.records)
			theirs, out := opensslDANE(t, openssl, addr, host, tt.records)
			assert.Equal(t, tt.want, ours, "smtpsec: %v", err)
			assert.Equal(t, tt.want, theirs, "openssl:\n%s", out)
		})
	}
}
