package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	netsmtp "net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// stlsReceiver is our receiver (internal/smtpserver) with STARTTLS, whose
// delivered messages are collected.
type stlsReceiver struct {
	Addr string
	mu   sync.Mutex
	msgs []*smtpserver.Message
	got  chan struct{}
}

func startSTLSReceiver(t *testing.T, leaf *testcert.Leaf, required bool) *stlsReceiver {
	t.Helper()
	r := &stlsReceiver{got: make(chan struct{}, 100)}
	cfg := &smtpserver.Config{
		Hostname: "mx.example.test",
		TLS: &starttls.Server{
			TLSConfig:        &tls.Config{Certificates: []tls.Certificate{leaf.TLS}},
			Required:         required,
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
	}
	r.Addr = smtpserver.Start(t, cfg)
	return r
}

// wait returns the next delivered message.
func (r *stlsReceiver) wait(t *testing.T, timeout time.Duration) *smtpserver.Message {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(timeout):
		t.Fatalf("no message delivered to %s within %v", r.Addr, timeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs[len(r.msgs)-1]
}

func (r *stlsReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func stlsUpgrade(t *testing.T, addr, name string, p *starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &starttls.Client{Hostname: "client.example.test", CommandTimeout: 20 * time.Second}
	s, err := c.Upgrade(ctx, conn, name, p)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

const stlsMessage = "From: <sender@example.test>\r\nTo: <root@localhost>\r\nSubject: smtpsec interop\r\n\r\nHello.\r\n.leading dot\r\n"

func stlsSend(t *testing.T, s *starttls.Session, from, to string) smtpsec.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, cmd := range []string{"MAIL FROM:<" + from + ">", "RCPT TO:<" + to + ">"} {
		r, err := s.Command(ctx, cmd)
		require.NoError(t, err)
		require.Equal(t, 2, r.Class(), "%s: %v", cmd, r)
	}
	r, err := s.Data(ctx, []byte(stlsMessage))
	require.NoError(t, err)
	return r
}

// Our client upgrading against Postfix's smtpd.
func TestSTARTTLSPostfixServer(t *testing.T) {
	ca := testcert.NewCA(t)
	pf := startPostfix(t, ca, ca.Leaf("mx.example.test", "localhost"), postfixConfig{})
	other := testcert.NewCA(t)
	addr := fmt.Sprintf("127.0.0.1:%d", pf.SMTP)

	t.Run("verify", func(t *testing.T) {
		s, err := stlsUpgrade(t, addr, "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthPKIX, s.Authentication())
		assert.False(t, s.Extensions().Has("STARTTLS"), "Postfix does not advertise STARTTLS inside TLS")
		assert.True(t, s.Extensions().Has("PIPELINING"))
		r := stlsSend(t, s, "sender@example.test", "root@localhost")
		assert.Equal(t, 250, r.Code, r.String())
		require.NoError(t, s.Quit(context.Background()))
		pf.waitLog(t, 20*time.Second, "discard", "status=sent")
	})
	t.Run("verify wrong name", func(t *testing.T) {
		_, err := stlsUpgrade(t, addr, "other.example.test", &starttls.Policy{RootCAs: ca.Pool()})
		requireTLSError(t, err, starttls.ErrCertificate, starttls.ResultCertificateHostMismatch)
	})
	t.Run("verify untrusted CA", func(t *testing.T) {
		_, err := stlsUpgrade(t, addr, "mx.example.test", &starttls.Policy{RootCAs: other.Pool()})
		requireTLSError(t, err, starttls.ErrCertificate, starttls.ResultCertificateNotTrusted)
	})
	for name, roots := range map[string]*testcert.CA{"encrypt right CA": ca, "encrypt untrusted CA": other} {
		t.Run(name, func(t *testing.T) {
			s, err := stlsUpgrade(t, addr, "other.example.test", &starttls.Policy{Level: starttls.Encrypt, RootCAs: roots.Pool()})
			require.NoError(t, err)
			assert.Equal(t, starttls.Unauthenticated, s.Authentication())
			assert.True(t, s.Encrypted())
		})
	}
	t.Run("fingerprint", func(t *testing.T) {
		// The pin of the certificate Postfix serves, read from its file.
		pem, err := os.ReadFile(filepath.Join(pf.Dir, "cert.pem"))
		require.NoError(t, err)
		cert, err := tls.X509KeyPair(pem, mustRead(t, filepath.Join(pf.Dir, "key.pem")))
		require.NoError(t, err)
		s, err := stlsUpgrade(t, addr, "ignored.example", &starttls.Policy{Level: starttls.Fingerprint, Pins: []starttls.Pin{starttls.PinPublicKey(cert.Leaf)}})
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthFingerprint, s.Authentication())
	})
	t.Run("encrypt listener requires STARTTLS", func(t *testing.T) {
		// Postfix's smtpd_tls_security_level=encrypt: 530 before STARTTLS;
		// level none sees it.
		s, err := stlsUpgrade(t, fmt.Sprintf("127.0.0.1:%d", pf.SMTPEncrypt), "mx.example.test", &starttls.Policy{Level: starttls.None})
		require.NoError(t, err)
		r, err := s.Command(context.Background(), "MAIL FROM:<sender@example.test>")
		require.NoError(t, err)
		assert.Equal(t, "530 5.7.0 Must issue a STARTTLS command first\r\n", r.String())
		// and our client gets through it under verify.
		s, err = stlsUpgrade(t, fmt.Sprintf("127.0.0.1:%d", pf.SMTPEncrypt), "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
		require.NoError(t, err)
		assert.Equal(t, 250, stlsSend(t, s, "sender@example.test", "root@localhost").Code)
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// Postfix's smtp client delivering through our receiver under encrypt and
// verify; an untrusted certificate under verify is deferred.
func TestSTARTTLSPostfixClient(t *testing.T) {
	ca := testcert.NewCA(t)
	good := ca.Leaf("localhost", "mx.example.test")
	verifyRcv := startSTLSReceiver(t, good, false)
	encryptRcv := startSTLSReceiver(t, testcert.NewCA(t).Leaf("localhost"), true)
	badRcv := startSTLSReceiver(t, testcert.NewCA(t).Leaf("localhost"), false)
	port := func(r *stlsReceiver) string { _, p, _ := net.SplitHostPort(r.Addr); return p }
	pf := startPostfix(t, ca, ca.Leaf("mx.example.test", "localhost"), postfixConfig{
		Transport: []string{
			"verify.test smtp:[localhost]:" + port(verifyRcv),
			"encrypt.test smtp:[localhost]:" + port(encryptRcv),
			"bad.test smtp:[localhost]:" + port(badRcv),
		},
		TLSPolicy: []string{
			"[localhost]:" + port(verifyRcv) + " verify match=localhost",
			"[localhost]:" + port(encryptRcv) + " encrypt",
			"[localhost]:" + port(badRcv) + " verify match=localhost",
		},
	})
	pf.inject(t, "user@verify.test")
	pf.inject(t, "user@encrypt.test")
	pf.inject(t, "user@bad.test")

	m := verifyRcv.wait(t, 60*time.Second)
	require.NotNil(t, m.TLS, "delivered inside TLS")
	assert.GreaterOrEqual(t, m.TLS.Version, uint16(tls.VersionTLS12))
	assert.Equal(t, "localhost", m.TLS.ServerName, "Postfix sent SNI for the next hop")
	assert.Equal(t, "sender@example.test", m.Mail.Path)
	assert.Contains(t, string(m.Data), "Subject: smtpsec interop")
	assert.Contains(t, string(m.Data), "\r\n.leading dot\r\n", "dot-stuffing undone")
	pf.waitLog(t, 20*time.Second, "Verified TLS connection established", "localhost")

	m = encryptRcv.wait(t, 60*time.Second)
	require.NotNil(t, m.TLS, "encrypt delivered inside TLS (our Required listener would refuse it otherwise)")

	line := pf.waitLog(t, 60*time.Second, "user@bad.test", "status=deferred")
	assert.Contains(t, line, "certificate not verified")
	assert.Zero(t, badRcv.count(), "nothing delivered to the untrusted server")
}

// swaks --tls against our receiver, verifying our certificate.
func TestSTARTTLSSwaks(t *testing.T) {
	swaks := requirePeer(t, "swaks")
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	rcv := startSTLSReceiver(t, leaf, true)
	files := testcert.WriteFiles(t, t.TempDir(), "", ca, leaf)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, swaks, "--server", rcv.Addr, "--ehlo", "client.example.test",
		"--from", "sender@example.test", "--to", "user@example.test",
		"--tls", "--tls-verify", "--tls-ca-path", files.CA, "--tls-sni", "mx.example.test",
		"--header", "Subject: swaks", "--body", "hello from swaks").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := rcv.wait(t, 10*time.Second)
	require.NotNil(t, m.TLS)
	assert.Equal(t, "mx.example.test", m.TLS.ServerName)
	assert.Contains(t, string(m.Data), "hello from swaks")
	assert.Contains(t, string(out), "<~  250 2.0.0 OK: queued")

	// Pipelining inside TLS, TLS 1.2 pinned.
	out, err = exec.CommandContext(ctx, swaks, "--server", rcv.Addr, "--from", "sender@example.test", "--to", "user@example.test",
		"--tls", "--tls-verify", "--tls-ca-path", files.CA, "--tls-sni", "mx.example.test", "--pipeline", "--tls-protocol", "tlsv1_2").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m = rcv.wait(t, 10*time.Second)
	require.NotNil(t, m.TLS)
	assert.Equal(t, uint16(tls.VersionTLS12), m.TLS.Version)

	// An untrusted CA: swaks refuses.
	otherFiles := testcert.WriteFiles(t, t.TempDir(), "", testcert.NewCA(t), leaf)
	out, err = exec.CommandContext(ctx, swaks, "--server", rcv.Addr, "--from", "sender@example.test", "--to", "user@example.test",
		"--tls", "--tls-verify", "--tls-ca-path", otherFiles.CA, "--tls-sni", "mx.example.test").CombinedOutput()
	require.Error(t, err, "%s", out)
}

// openssl s_client -starttls smtp against our receiver.
func TestSTARTTLSOpenSSL(t *testing.T) {
	openssl := requirePeer(t, "openssl")
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	rcv := startSTLSReceiver(t, leaf, false)
	files := testcert.WriteFiles(t, t.TempDir(), "", ca, leaf)
	run := func(caFile string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-starttls", "smtp", "-connect", rcv.Addr,
			"-servername", "mx.example.test", "-CAfile", caFile, "-verify_return_error", "-verify_hostname", "mx.example.test",
			"-name", "client.example.test", "-quiet")
		// s_client sent its own EHLO and STARTTLS; these go inside TLS.
		// Pauses let each reply arrive: s_client does not pipeline.
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		cmd.Stdin = pr
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		_ = pr.Close()
		go func() {
			defer pw.Close()
			for _, l := range []string{"EHLO client.example.test", "MAIL FROM:<sender@example.test>", "RCPT TO:<user@example.test>", "DATA", "Subject: openssl\r\n\r\nhello from openssl\r\n.", "QUIT"} {
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
	out, err := run(files.CA)
	require.NoError(t, err, out)
	assert.Contains(t, out, "250 2.0.0 OK: queued")
	inside := out[strings.Index(out, "greets client.example.test"):]
	assert.NotContains(t, inside, "STARTTLS", "no STARTTLS advertised inside TLS")
	m := rcv.wait(t, 10*time.Second)
	require.NotNil(t, m.TLS)
	assert.Contains(t, string(m.Data), "hello from openssl")

	other := testcert.WriteFiles(t, t.TempDir(), "other-", testcert.NewCA(t), leaf)
	out, err = run(other.CA)
	assert.Error(t, err, out)
	assert.Contains(t, out, "verify error")
}

// net/smtp with Policy.TLSConfig against our receiver.
func TestSTARTTLSNetSMTP(t *testing.T) {
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	rcv := startSTLSReceiver(t, leaf, true)
	dialNet := func() *netsmtp.Client {
		conn, err := net.DialTimeout("tcp", rcv.Addr, 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
		c, err := netsmtp.NewClient(conn, "mx.example.test")
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	t.Run("verify", func(t *testing.T) {
		c := dialNet()
		require.NoError(t, c.Hello("client.example.test"))
		p := &starttls.Policy{RootCAs: ca.Pool()}
		require.NoError(t, c.StartTLS(p.TLSConfig(nil, "mx.example.test")))
		require.NoError(t, c.Mail("sender@example.test"))
		require.NoError(t, c.Rcpt("user@example.test"))
		w, err := c.Data()
		require.NoError(t, err)
		_, err = w.Write([]byte("Subject: net/smtp\r\n\r\nhello\r\n"))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		require.NoError(t, c.Quit())
		m := rcv.wait(t, 10*time.Second)
		require.NotNil(t, m.TLS)
	})
	for name, p := range map[string]*starttls.Policy{
		"wrong name":   {RootCAs: ca.Pool(), Names: []string{"other.example.test"}},
		"untrusted":    {RootCAs: testcert.NewCA(t).Pool()},
		"wrong pin":    {Level: starttls.Fingerprint, Pins: []starttls.Pin{{1}}},
		"mta-sts miss": {Level: starttls.MTASTS, Names: []string{"*.example.net"}, RootCAs: ca.Pool()},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialNet()
			err := c.StartTLS(p.TLSConfig(nil, "mx.example.test"))
			require.ErrorIs(t, err, starttls.ErrCertificate)
		})
	}
}

// go-smtp's client with Policy.TLSConfig against our receiver.
func TestSTARTTLSGoSMTPClient(t *testing.T) {
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	rcv := startSTLSReceiver(t, leaf, true)
	t.Run("verify", func(t *testing.T) {
		p := &starttls.Policy{RootCAs: ca.Pool()}
		conn, err := net.DialTimeout("tcp", rcv.Addr, 5*time.Second)
		require.NoError(t, err)
		c, err := gosmtp.NewClientStartTLS(conn, p.TLSConfig(nil, "mx.example.test"))
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SendMail("sender@example.test", []string{"user@example.test"}, strings.NewReader("Subject: go-smtp\r\n\r\nhello\r\n")))
		m := rcv.wait(t, 10*time.Second)
		require.NotNil(t, m.TLS)
		require.NoError(t, c.Quit())
	})
	t.Run("untrusted", func(t *testing.T) {
		p := &starttls.Policy{RootCAs: testcert.NewCA(t).Pool()}
		conn, err := net.DialTimeout("tcp", rcv.Addr, 5*time.Second)
		require.NoError(t, err)
		c, err := gosmtp.NewClientStartTLS(conn, p.TLSConfig(nil, "mx.example.test"))
		if err == nil {
			// go-smtp's handshake is lazy: the error comes with the first
			// command inside TLS.
			defer c.Close()
			err = c.Mail("sender@example.test", nil)
		}
		require.ErrorIs(t, err, starttls.ErrCertificate)
	})
}

// stlsGoBackend accepts every message.
type stlsGoBackend struct {
	mu   sync.Mutex
	msgs []string
}

func (b *stlsGoBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &stlsGoSession{b: b}, nil
}

type stlsGoSession struct{ b *stlsGoBackend }

func (s *stlsGoSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *stlsGoSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *stlsGoSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, string(b))
	s.b.mu.Unlock()
	return nil
}
func (s *stlsGoSession) Reset()        {}
func (s *stlsGoSession) Logout() error { return nil }

// Our client against a go-smtp server.
func TestSTARTTLSGoSMTPServer(t *testing.T) {
	ca := testcert.NewCA(t)
	be := &stlsGoBackend{}
	srv := gosmtp.NewServer(be)
	srv.Domain = "mx.example.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}}
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })

	s, err := stlsUpgrade(t, ln.Addr().String(), "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
	require.NoError(t, err)
	assert.Equal(t, starttls.AuthPKIX, s.Authentication())
	assert.False(t, s.Extensions().Has("STARTTLS"))
	r := stlsSend(t, s, "sender@example.test", "user@example.test")
	assert.Equal(t, 250, r.Code)
	require.NoError(t, s.Quit(context.Background()))
	be.mu.Lock()
	require.Len(t, be.msgs, 1)
	assert.Contains(t, be.msgs[0], "\r\n.leading dot\r\n")
	be.mu.Unlock()

	_, err = stlsUpgrade(t, ln.Addr().String(), "wrong.example.test", &starttls.Policy{RootCAs: ca.Pool()})
	require.ErrorIs(t, err, starttls.ErrCertificate)
}

// requireTLSError asserts that err is a *starttls.Error of kind with the
// TLS-RPT result want, and returns it.
func requireTLSError(t *testing.T, err, kind error, want starttls.ResultType) *starttls.Error {
	t.Helper()
	require.ErrorIs(t, err, kind)
	var e *starttls.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, want, e.Result)
	return e
}
