package interop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	moxdns "github.com/mjl-/mox/dns"
	"github.com/mjl-/mox/smtpclient"
	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/requiretls"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Our receiver, driven by a scripted plaintext client and by openssl
// s_client: REQUIRETLS is neither offered nor accepted before STARTTLS,
// accepted after it, and refused with a value.
func TestRequireTLSReceiverOpenSSL(t *testing.T) {
	openssl := requirePeer(t, "openssl")
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	addr, log := startRequireTLSReceiver(t, leaf)

	t.Run("plaintext", func(t *testing.T) {
		c := rtDialRaw(t, addr)
		ehlo := c.cmd("EHLO client.example.test")
		assert.NotContains(t, strings.Join(ehlo, "\n"), "REQUIRETLS", "not offered without TLS")
		assert.Contains(t, strings.Join(ehlo, "\n"), "STARTTLS")
		assert.Equal(t, []string{"555 5.5.4 Unsupported option: REQUIRETLS"}, c.cmd("MAIL FROM:<alice@example.test> REQUIRETLS"))
		assert.Equal(t, []string{"555 5.5.4 Unsupported option: REQUIRETLS=YES"}, c.cmd("MAIL FROM:<alice@example.test> REQUIRETLS=YES"))
		assert.True(t, strings.HasPrefix(c.cmd("MAIL FROM:<alice@example.test>")[0], "250"))
		c.cmd("QUIT")
	})

	t.Run("openssl s_client after STARTTLS", func(t *testing.T) {
		files := testcert.WriteFiles(t, t.TempDir(), "mx", ca, leaf)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-starttls", "smtp",
			"-name", "client.example.test", "-servername", "mx.example.test", "-CAfile", files.CA,
			"-verify_return_error", "-verify_hostname", "mx.example.test", "-crlf", "-quiet", "-ign_eof")
		cmd.Stdin = strings.NewReader(strings.Join([]string{
			"EHLO client.example.test",
			"MAIL FROM:<alice@example.test> REQUIRETLS=YES",
			"MAIL FROM:<alice@example.test> REQUIRETLS",
			"RSET",
			"MAIL FROM:<alice@example.test> requiretls RequireTLS",
			"QUIT",
		}, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "openssl: %s", out)
		text := strings.ReplaceAll(string(out), "\r", "")
		assert.Regexp(t, `(?m)^250[- ]REQUIRETLS$`, text, "offered inside TLS")
		assert.Contains(t, text, "555 5.5.4 Unsupported option: REQUIRETLS=YES\n")
		assert.Contains(t, text, "250 2.1.0")
		assert.Regexp(t, `(?m)^501 5\.5\.\d `, text, "a repeated REQUIRETLS is a syntax error")
	})

	// The receiver saw the accepted REQUIRETLS only inside TLS.
	var accepted []string
	for _, l := range log.all() {
		if strings.Contains(l, "MAIL FROM:<alice@example.test> REQUIRETLS") && !strings.Contains(l, "=") {
			accepted = append(accepted, l)
		}
	}
	assert.Equal(t, []string{
		"plain: MAIL FROM:<alice@example.test> REQUIRETLS",
		"tls: MAIL FROM:<alice@example.test> REQUIRETLS",
	}, accepted)
}

// go-smtp's client, after a verified STARTTLS, sends REQUIRETLS to our
// receiver and gets 250.
func TestRequireTLSGoSMTPClient(t *testing.T) {
	ca := testcert.NewCA(t)
	addr, log := startRequireTLSReceiver(t, ca.Leaf("mx.example.test"))
	c, err := smtp.DialStartTLS(addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.test"})
	require.NoError(t, err)
	defer c.Close()
	ok, _ := c.Extension("REQUIRETLS")
	require.True(t, ok, "offered inside TLS")
	require.NoError(t, c.Mail("alice@example.test", &smtp.MailOptions{RequireTLS: true}))
	require.NoError(t, c.Rcpt("bob@example.test", nil))
	require.NoError(t, c.Quit())
	var tlsMail []string
	for _, l := range log.all() {
		if strings.HasPrefix(l, "tls: MAIL FROM:<alice@example.test>") && strings.HasSuffix(l, " REQUIRETLS") {
			tlsMail = append(tlsMail, l)
		}
	}
	assert.Len(t, tlsMail, 1)
}

// go-smtp's client sends REQUIRETLS over plaintext when a man in the middle
// strips STARTTLS and advertises REQUIRETLS (it checks only the keyword).
// Our receiver behind the attacker still refuses it.
func TestRequireTLSGoSMTPClientThroughStripTLS(t *testing.T) {
	ca := testcert.NewCA(t)
	addr, log := startRequireTLSReceiver(t, ca.Leaf("mx.example.test"))
	mitm, wire := rtStripTLSProxy(t, addr)

	c, err := smtp.Dial(mitm)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("client.example.test"))
	ok, _ := c.Extension("STARTTLS")
	require.False(t, ok, "STARTTLS stripped")
	err = c.Mail("alice@example.test", &smtp.MailOptions{RequireTLS: true})
	var se *smtp.SMTPError
	require.True(t, errors.As(err, &se), "error %v", err)
	assert.Equal(t, 555, se.Code)
	assert.Equal(t, smtp.EnhancedCode{5, 5, 4}, se.EnhancedCode)
	_ = c.Quit()

	sent := func(lines []string, prefix string) bool {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix+"MAIL FROM:<alice@example.test>") && strings.HasSuffix(l, " REQUIRETLS") {
				return true
			}
		}
		return false
	}
	assert.True(t, sent(wire.all(), ""), "go-smtp sent REQUIRETLS in plaintext: %q", wire.all())
	assert.True(t, sent(log.all(), "plain: "), "our receiver saw it in plaintext: %q", log.all())
}

// mox v0.0.15 `localserve` as the receiving MTA: our client sends
// MAIL FROM:<> REQUIRETLS after STARTTLS under a policy that verifies mox's
// certificate and gets 250; the same message refuses to go when the
// certificate cannot be verified.
func TestRequireTLSMox(t *testing.T) {
	mox := rtStartMox(t)
	mtasts := &starttls.Policy{Level: starttls.MTASTS, Names: []string{"localhost"}, RootCAs: mox.Roots}

	t.Run("verified", func(t *testing.T) {
		s, err := rtUpgrade(t, mox.SMTP, "localhost", mtasts)
		require.NoError(t, err)
		require.True(t, s.Encrypted())
		require.True(t, s.Extensions().Has(requiretls.Keyword), "mox lists REQUIRETLS inside TLS")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, r, err := requiretls.Mail(ctx, s, requiretls.MailInput{Tag: requiretls.TagRequireTLS, MX: requiretls.MXMTASTS})
		require.NoError(t, err)
		assert.True(t, d.RequireTLS())
		assert.Equal(t, 250, r.Code, "mox replied %q", r.String())
		rr, err := s.Command(ctx, "RCPT TO:<mox@localhost>")
		require.NoError(t, err)
		assert.Equal(t, 250, rr.Code, "mox replied %q", rr.String())
		require.NoError(t, s.Quit(ctx))
	})

	t.Run("not verifiable: opportunistic TLS", func(t *testing.T) {
		s, err := rtUpgrade(t, mox.SMTP, "localhost", &starttls.Policy{Level: starttls.Encrypt})
		require.NoError(t, err)
		require.True(t, s.Encrypted())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, _, err := requiretls.Mail(ctx, s, requiretls.MailInput{Tag: requiretls.TagRequireTLS, MX: requiretls.MXMTASTS})
		require.ErrorIs(t, err, requiretls.ErrRefused)
		assert.Equal(t, requiretls.FailUnverified, d.Failure())
		var re *smtpsec.ReplyError
		require.True(t, errors.As(err, &re))
		assert.Equal(t, "550 5.7.10", re.Error()[:10])
		require.NoError(t, s.Quit(ctx))
	})

	t.Run("not verifiable: unknown root", func(t *testing.T) {
		_, err := rtUpgrade(t, mox.SMTP, "localhost", &starttls.Policy{Level: starttls.MTASTS, Names: []string{"localhost"},
			RootCAs: testcert.NewCA(t).Pool()})
		require.ErrorIs(t, err, starttls.ErrCertificate)
	})

	t.Run("mox refuses REQUIRETLS in plaintext", func(t *testing.T) {
		c := rtDialRaw(t, mox.SMTP)
		ehlo := strings.Join(c.cmd("EHLO client.example.test"), "\n")
		assert.NotContains(t, ehlo, "REQUIRETLS")
		r := c.cmd("MAIL FROM:<> REQUIRETLS")
		assert.True(t, strings.HasPrefix(r[0], "523 5.7.10"), "mox replied %q", r)
		c.cmd("QUIT")
	})
}

// rtGoSMTPBackend records what a go-smtp server received.
type rtGoSMTPBackend struct {
	mu    sync.Mutex
	mails []string
}

func (b *rtGoSMTPBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, tlsOn := c.TLSConnectionState()
	return &rtGoSMTPSession{b: b, tls: tlsOn}, nil
}

type rtGoSMTPSession struct {
	b   *rtGoSMTPBackend
	tls bool
}

func (s *rtGoSMTPSession) Reset()        {}
func (s *rtGoSMTPSession) Logout() error { return nil }
func (s *rtGoSMTPSession) Mail(from string, opts *smtp.MailOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	entry := from
	if opts != nil && opts.RequireTLS {
		entry += " REQUIRETLS"
	}
	s.b.mails = append(s.b.mails, entry)
	return nil
}
func (s *rtGoSMTPSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *rtGoSMTPSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// A go-smtp server with EnableREQUIRETLS as a second receiver: our client
// sends REQUIRETLS after a verified STARTTLS, and never in plaintext, even
// though go-smtp itself would accept it there.
func TestRequireTLSGoSMTPServer(t *testing.T) {
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	be := &rtGoSMTPBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.example.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	srv.EnableREQUIRETLS = true
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	t.Run("verified session", func(t *testing.T) {
		s, err := rtUpgrade(t, ln.Addr().String(), "mx.example.test",
			&starttls.Policy{Level: starttls.MTASTS, Names: []string{"mx.example.test"}, RootCAs: ca.Pool()})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, r, err := requiretls.Mail(ctx, s, requiretls.MailInput{Tag: requiretls.TagRequireTLS, MX: requiretls.MXMTASTS,
			ReversePath: "alice@example.test"})
		require.NoError(t, err)
		assert.Equal(t, 250, r.Code)
		require.NoError(t, s.Quit(ctx))
	})

	t.Run("go-smtp accepts REQUIRETLS on plaintext; our gate never sends it there", func(t *testing.T) {
		c := rtDialRaw(t, ln.Addr().String())
		c.cmd("EHLO client.example.test")
		r := c.cmd("MAIL FROM:<mallory@example.test> REQUIRETLS")
		assert.True(t, strings.HasPrefix(r[0], "250"), "go-smtp v0.25.1 replied %q", r)
		c.cmd("QUIT")

		mitm, wire := rtStripTLSProxy(t, ln.Addr().String())
		s, err := rtUpgrade(t, mitm, "mx.example.test", &starttls.Policy{Level: starttls.May})
		require.NoError(t, err)
		require.False(t, s.Encrypted())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _, err = requiretls.Mail(ctx, s, requiretls.MailInput{Tag: requiretls.TagRequireTLS, MX: requiretls.MXMTASTS,
			ReversePath: "alice@example.test"})
		require.ErrorIs(t, err, requiretls.ErrRefused)
		require.NoError(t, s.Quit(ctx))
		for _, l := range wire.all() {
			assert.NotContains(t, l, "MAIL FROM")
		}
	})

	be.mu.Lock()
	defer be.mu.Unlock()
	assert.Equal(t, []string{"alice@example.test REQUIRETLS", "mallory@example.test REQUIRETLS"}, be.mails)
}

// BenchmarkRequireTLSMail measures one gated MAIL FROM ... REQUIRETLS and
// RSET round trip on an established, verified TLS session, against our
// receiver, a go-smtp v0.25.1 server and mox v0.0.15 localserve, all on
// 127.0.0.1. It includes the gate (CheckSession and the line writer) and the
// receiver's parameter checks; network time dominates.
func BenchmarkRequireTLSMail(b *testing.B) {
	ca := testcert.NewCA(b)
	leaf := ca.Leaf("mx.example.test")
	pkix := &starttls.Policy{Level: starttls.MTASTS, Names: []string{"mx.example.test"}, RootCAs: ca.Pool()}

	run := func(b *testing.B, addr, serverName, from string, p *starttls.Policy) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(b, err)
		s, err := (&starttls.Client{Hostname: "client.example.test"}).Upgrade(ctx, conn, serverName, p)
		require.NoError(b, err)
		defer s.Close()
		in := requiretls.MailInput{Tag: requiretls.TagRequireTLS, MX: requiretls.MXMTASTS, ReversePath: from}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			_, r, err := requiretls.Mail(ctx, s, in)
			if err != nil || r.Code != 250 {
				b.Fatalf("MAIL: %v %v", r, err)
			}
			if r, err := s.Command(ctx, "RSET"); err != nil || r.Code != 250 {
				b.Fatalf("RSET: %v %v", r, err)
			}
		}
	}

	b.Run("smtpsec", func(b *testing.B) {
		addr, _ := startRequireTLSReceiver(b, leaf)
		run(b, addr, "mx.example.test", "alice@example.test", pkix)
	})
	b.Run("go-smtp", func(b *testing.B) {
		srv := smtp.NewServer(&rtGoSMTPBackend{})
		srv.Domain = "mx.example.test"
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
		srv.EnableREQUIRETLS = true
		srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(b, err)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		run(b, ln.Addr().String(), "mx.example.test", "alice@example.test", pkix)
	})
	b.Run("mox", func(b *testing.B) {
		mox := rtStartMox(b)
		run(b, mox.SMTP, "localhost", "", &starttls.Policy{Level: starttls.MTASTS, Names: []string{"localhost"}, RootCAs: mox.Roots})
	})
}

// mox v0.0.15's smtpclient library, in opportunistic mode behind a man in
// the middle that strips STARTTLS and advertises REQUIRETLS, sends
// REQUIRETLS over plaintext (its library API leaves the policy to the
// caller's queue). Our receiver behind the attacker refuses it.
func TestRequireTLSMoxClientThroughStripTLS(t *testing.T) {
	ca := testcert.NewCA(t)
	addr, log := startRequireTLSReceiver(t, ca.Leaf("mx.example.test"))
	mitm, wire := rtStripTLSProxy(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := net.DialTimeout("tcp", mitm, 5*time.Second)
	require.NoError(t, err)
	elog := slog.New(slog.DiscardHandler)
	c, err := smtpclient.New(ctx, elog, conn, smtpclient.TLSOpportunistic, false,
		moxdns.Domain{ASCII: "client.example.test"}, moxdns.Domain{ASCII: "mx.example.test"}, smtpclient.Opts{})
	require.NoError(t, err)
	defer c.Close()
	msg := "From: alice@example.test\r\nSubject: x\r\n\r\nbody\r\n"
	err = c.Deliver(ctx, "alice@example.test", "bob@example.test", int64(len(msg)), strings.NewReader(msg), false, false, true)
	var me smtpclient.Error
	require.True(t, errors.As(err, &me), "error %v", err)
	assert.Equal(t, 555, me.Code)
	assert.True(t, me.Permanent)

	var sent bool
	for _, l := range wire.all() {
		if strings.HasPrefix(l, "MAIL FROM:<alice@example.test>") && strings.Contains(l, " REQUIRETLS") {
			sent = true
		}
	}
	assert.True(t, sent, "mox's client sent REQUIRETLS in plaintext: %q", wire.all())
	for _, l := range log.all() {
		assert.False(t, strings.HasPrefix(l, "tls:"), "the session never used TLS: %q", l)
	}
}
