package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// startImplicitReceiver is startSTLSReceiver in implicit-TLS mode (RFC
// 8314): TLS from the first byte, failed handshakes counted.
func startImplicitReceiver(t *testing.T, leaf *testcert.Leaf) (*stlsReceiver, func() []error) {
	t.Helper()
	r := &stlsReceiver{got: make(chan struct{}, 100)}
	var mu sync.Mutex
	var errs []error
	cfg := &smtpserver.Config{
		Hostname:    "mx.example.test",
		ImplicitTLS: true,
		TLS: &starttls.Server{
			TLSConfig:        &tls.Config{Certificates: []tls.Certificate{leaf.TLS}},
			HandshakeTimeout: 10 * time.Second,
			ReadTimeout:      30 * time.Second,
		},
		Deliver: func(_ context.Context, m *smtpserver.Message) *smtpsec.ReplyError {
			r.mu.Lock()
			r.msgs = append(r.msgs, m)
			r.mu.Unlock()
			r.got <- struct{}{}
			return nil
		},
		OnHandshakeError: func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		},
	}
	r.Addr = smtpserver.Start(t, cfg)
	return r, func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

func implicitDial(t *testing.T, addr, name string, p *starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &starttls.Client{Hostname: "client.example.test", CommandTimeout: 20 * time.Second, HandshakeTimeout: 10 * time.Second}
	s, err := c.DialImplicitTLS(ctx, addr, name, p)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// Our implicit-TLS client against Postfix's smtpd with
// smtpd_tls_wrappermode=yes, under every level that applies.
func TestImplicitTLSPostfixServer(t *testing.T) {
	ca := testcert.NewCA(t)
	pf := startPostfix(t, ca, ca.Leaf("mx.example.test", "localhost"), postfixConfig{})
	other := testcert.NewCA(t)
	addr := fmt.Sprintf("127.0.0.1:%d", pf.Submissions)

	t.Run("verify", func(t *testing.T) {
		s, err := implicitDial(t, addr, "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthPKIX, s.Authentication())
		cs, ok := s.ConnectionState()
		require.True(t, ok)
		assert.GreaterOrEqual(t, cs.Version, uint16(tls.VersionTLS12))
		assert.Equal(t, "mx.example.test", s.Extensions().Domain())
		assert.False(t, s.Extensions().Has("STARTTLS"), "Postfix offers no STARTTLS in wrapper mode")
		assert.True(t, s.Extensions().Has("PIPELINING"))
		r := stlsSend(t, s, "sender@example.test", "root@localhost")
		assert.Equal(t, 250, r.Code, r.String())
		require.NoError(t, s.Quit(context.Background()))
		pf.waitLog(t, 20*time.Second, "discard", "status=sent")
	})
	t.Run("mta-sts names", func(t *testing.T) {
		s, err := implicitDial(t, addr, "mx.example.test", &starttls.Policy{Level: starttls.MTASTS, Names: []string{"*.example.test"}, RootCAs: ca.Pool()})
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthPKIX, s.Authentication())
	})
	t.Run("verify wrong name", func(t *testing.T) {
		_, err := implicitDial(t, addr, "other.example.test", &starttls.Policy{RootCAs: ca.Pool()})
		requireTLSError(t, err, starttls.ErrCertificate, starttls.ResultCertificateHostMismatch)
	})
	t.Run("verify untrusted CA", func(t *testing.T) {
		_, err := implicitDial(t, addr, "mx.example.test", &starttls.Policy{RootCAs: other.Pool()})
		e := requireTLSError(t, err, starttls.ErrCertificate, starttls.ResultCertificateNotTrusted)
		assert.True(t, e.Temporary())
	})
	t.Run("encrypt", func(t *testing.T) {
		s, err := implicitDial(t, addr, "other.example.test", &starttls.Policy{Level: starttls.Encrypt, RootCAs: other.Pool()})
		require.NoError(t, err)
		assert.Equal(t, starttls.Unauthenticated, s.Authentication())
		assert.True(t, s.Encrypted())
	})
	t.Run("fingerprint and dane-ee", func(t *testing.T) {
		pem, err := os.ReadFile(filepath.Join(pf.Dir, "cert.pem"))
		require.NoError(t, err)
		cert, err := tls.X509KeyPair(pem, mustRead(t, filepath.Join(pf.Dir, "key.pem")))
		require.NoError(t, err)
		pin := starttls.PinPublicKey(cert.Leaf)
		s, err := implicitDial(t, addr, "ignored.example", &starttls.Policy{Level: starttls.Fingerprint, Pins: []starttls.Pin{pin}})
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthFingerprint, s.Authentication())
		// A DANE-EE(3) SPKI SHA-256 verifier, as starttls/dane builds one.
		daneEE := starttls.VerifierFunc(func(cs tls.ConnectionState) (starttls.Authentication, error) {
			if len(cs.PeerCertificates) > 0 && starttls.PinPublicKey(cs.PeerCertificates[0]) == pin {
				return starttls.AuthDANEEE, nil
			}
			return starttls.Unauthenticated, fmt.Errorf("no TLSA record matches")
		})
		s, err = implicitDial(t, addr, "mx.example.test", &starttls.Policy{Level: starttls.DANEOnly, Verifier: daneEE})
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthDANEEE, s.Authentication())
	})
	t.Run("STARTTLS port is not implicit TLS", func(t *testing.T) {
		// Postfix greets in plaintext; the client never reads it as SMTP.
		_, err := implicitDial(t, fmt.Sprintf("127.0.0.1:%d", pf.SMTP), "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
		requireTLSError(t, err, starttls.ErrNotOffered, starttls.ResultSTARTTLSNotSupported)
	})
	t.Run("may refused", func(t *testing.T) {
		_, err := implicitDial(t, addr, "mx.example.test", &starttls.Policy{Level: starttls.May})
		require.ErrorIs(t, err, starttls.ErrPolicy)
	})
}

// openssl s_client -connect, without -starttls, against our implicit-TLS
// receiver.
func TestImplicitTLSOpenSSL(t *testing.T) {
	openssl := requirePeer(t, "openssl")
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	rcv, handshakeErrors := startImplicitReceiver(t, leaf)
	files := testcert.WriteFiles(t, t.TempDir(), "", ca, leaf)
	run := func(caFile string, lines ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", rcv.Addr,
			"-servername", "mx.example.test", "-CAfile", caFile, "-verify_return_error", "-verify_hostname", "mx.example.test", "-quiet")
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		cmd.Stdin = pr
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		_ = pr.Close()
		go func() {
			defer pw.Close()
			// s_client does not pipeline: pauses let each reply arrive.
			for _, l := range lines {
				time.Sleep(300 * time.Millisecond)
				if _, err := pw.Write([]byte(l + "\r\n")); err != nil {
					return
				}
			}
			time.Sleep(time.Second)
		}()
		err = cmd.Wait()
		return out.String(), err
	}
	out, err := run(files.CA, "EHLO client.example.test", "STARTTLS", "MAIL FROM:<sender@example.test>", "RCPT TO:<user@example.test>", "DATA", "Subject: openssl\r\n\r\nhello over implicit TLS\r\n.", "QUIT")
	require.NoError(t, err, out)
	assert.Contains(t, out, "220 mx.example.test ESMTP", "greeting inside TLS")
	assert.Contains(t, out, "greets client.example.test")
	assert.Contains(t, out, "503 5.5.1 TLS already active")
	ehlo := out[strings.Index(out, "greets client.example.test"):strings.Index(out, "503 5.5.1")]
	assert.NotContains(t, ehlo, "STARTTLS", "no STARTTLS advertised inside implicit TLS")
	assert.Contains(t, out, "250 2.0.0 OK: queued")
	m := rcv.wait(t, 10*time.Second)
	require.NotNil(t, m.TLS)
	assert.Equal(t, "mx.example.test", m.TLS.ServerName)
	assert.Contains(t, string(m.Data), "hello over implicit TLS")

	other := testcert.WriteFiles(t, t.TempDir(), "other-", testcert.NewCA(t), leaf)
	out, err = run(other.CA, "EHLO client.example.test")
	assert.Error(t, err, out)
	assert.Contains(t, out, "verify error")
	assert.Eventually(t, func() bool { return len(handshakeErrors()) == 1 }, 10*time.Second, 50*time.Millisecond,
		"the receiver saw the failed handshake")
	assert.Equal(t, 1, rcv.count())
}

// A plaintext SMTP client (openssl s_client -starttls, which waits for a
// plaintext greeting) against our implicit-TLS receiver: closed, never
// answered in SMTP.
func TestImplicitTLSPlaintextPeer(t *testing.T) {
	openssl := requirePeer(t, "openssl")
	ca := testcert.NewCA(t)
	rcv, handshakeErrors := startImplicitReceiver(t, ca.Leaf("mx.example.test"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Without a greeting s_client waits; the receiver's handshake timeout
	// (10 s) closes the connection.
	start := time.Now()
	out, err := exec.CommandContext(ctx, openssl, "s_client", "-starttls", "smtp", "-connect", rcv.Addr, "-quiet").CombinedOutput()
	assert.Error(t, err, "%s", out)
	assert.NotContains(t, string(out), "220 ", "no plaintext greeting")
	assert.Less(t, time.Since(start), 30*time.Second)
	// A client that speaks first.
	conn, err := net.DialTimeout("tcp", rcv.Addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("EHLO client.example.test\r\nMAIL FROM:<a@example.test>\r\n"))
	require.NoError(t, err)
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	b := make([]byte, 512)
	n, _ := conn.Read(b)
	assert.Zero(t, n, "no reply to plaintext: %q", b[:n])
	assert.Eventually(t, func() bool { return len(handshakeErrors()) == 2 }, 15*time.Second, 50*time.Millisecond)
	for _, err := range handshakeErrors() {
		assert.ErrorIs(t, err, starttls.ErrHandshakeFailed)
	}
	assert.Zero(t, rcv.count())
}

// Postfix's smtp client with smtp_tls_wrappermode=yes delivering to our
// implicit-TLS receiver: verified delivery, and deferral for an untrusted
// certificate.
func TestImplicitTLSPostfixClient(t *testing.T) {
	ca := testcert.NewCA(t)
	good, goodErrs := startImplicitReceiver(t, ca.Leaf("localhost", "mx.example.test"))
	bad, _ := startImplicitReceiver(t, testcert.NewCA(t).Leaf("localhost"))
	port := func(r *stlsReceiver) string { _, p, _ := net.SplitHostPort(r.Addr); return p }
	pf := startPostfix(t, ca, ca.Leaf("mx.example.test", "localhost"), postfixConfig{
		// A transport for implicit TLS (Postfix ≥ 3.0): wrapper mode needs
		// level encrypt or stronger; the policy table raises it to verify.
		Master: []string{
			"smtps unix - - n - - smtp",
			"  -o smtp_tls_wrappermode=yes",
			"  -o smtp_tls_security_level=encrypt",
		},
		Transport: []string{
			"implicit.test smtps:[localhost]:" + port(good),
			"bad.test smtps:[localhost]:" + port(bad),
		},
		TLSPolicy: []string{
			"[localhost]:" + port(good) + " verify match=localhost",
			"[localhost]:" + port(bad) + " verify match=localhost",
		},
	})
	pf.inject(t, "user@implicit.test")
	pf.inject(t, "user@bad.test")

	m := good.wait(t, 60*time.Second)
	require.NotNil(t, m.TLS, "delivered inside TLS")
	assert.GreaterOrEqual(t, m.TLS.Version, uint16(tls.VersionTLS12))
	assert.Equal(t, "localhost", m.TLS.ServerName, "Postfix sent SNI")
	assert.Equal(t, "sender@example.test", m.Mail.Path)
	assert.Contains(t, string(m.Data), "Subject: smtpsec interop")
	assert.Contains(t, string(m.Data), "\r\n.leading dot\r\n")
	pf.waitLog(t, 20*time.Second, "Verified TLS connection established", "localhost")
	pf.waitLog(t, 20*time.Second, "user@implicit.test", "status=sent")
	assert.Empty(t, goodErrs())

	line := pf.waitLog(t, 60*time.Second, "user@bad.test", "status=deferred")
	assert.Contains(t, line, "certificate not verified")
	assert.Zero(t, bad.count(), "nothing delivered to the untrusted server")
}
