package starttls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// implicitMX scripts an implicit-TLS server: the TLS handshake first, then
// greeting, EHLO, and 250 to everything until QUIT, all inside TLS.
type implicitMX struct {
	cfg      *tls.Config
	greeting string
	post     string
	sni      *atomic.Value
	executed *atomic.Int32
	quit     *atomic.Bool // set when QUIT arrives inside TLS
}

func (m implicitMX) run(p *peer) {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	cfg := m.cfg
	if m.sni != nil {
		cfg = cfg.Clone()
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			m.sni.Store(h.ServerName)
			return nil, nil
		}
	}
	tp := p.upgrade(cfg)
	if tp == nil {
		return
	}
	tp.send(or(m.greeting, "220 mx.example.test ESMTP\r\n"))
	for {
		l := tp.line()
		switch {
		case l == "":
			return
		case l == "QUIT":
			if m.quit != nil {
				m.quit.Store(true)
			}
			tp.send("221 2.0.0 Bye\r\n")
			return
		case strings.HasPrefix(l, "EHLO "):
			tp.send(or(m.post, ehloInTLS))
		default:
			if m.executed != nil {
				m.executed.Add(1)
			}
			tp.send("250 2.0.0 OK\r\n")
		}
	}
}

func implicit(t *testing.T, c *starttls.Client, addr string, p *starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.ImplicitTLS(ctx, dial(t, addr), "mx.example.test", p)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// Every mandatory level succeeds against a good certificate, and the
// Session is the one Upgrade returns.
func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, lc := range strictLevels(p) {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			var executed atomic.Int32
			var sni atomic.Value
			addr := listen(t, implicitMX{cfg: serverTLS(p.good), executed: &executed, sni: &sni}.run)
			s, err := implicit(t, client, addr, lc.policy)
			require.NoError(t, err)
			assert.Equal(t, "mx.example.test", sni.Load())
			assertEstablished(t, s, lc, &executed)
		})
	}
}

// Every certificate outcome under every level, with the RFC 8460 result
// types of the STARTTLS path.
func TestImplicitTLSCertificates(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	certs := []struct {
		name   string
		leaf   *testcert.Leaf
		pkix   starttls.ResultType
		pinned bool
	}{
		{"good", p.good, "", true},
		{"untrusted", p.untrusted, starttls.ResultCertificateNotTrusted, false},
		{"self-signed", p.selfish, starttls.ResultCertificateNotTrusted, false},
		{"wrong name", p.wrongName, starttls.ResultCertificateHostMismatch, false},
		{"expired", p.expired, starttls.ResultCertificateExpired, true},
	}
	for _, cc := range certs {
		var quit atomic.Bool
		addr := listen(t, implicitMX{cfg: serverTLS(cc.leaf), quit: &quit}.run)
		for _, lc := range strictLevels(p) {
			t.Run(cc.name+"/"+lc.name, func(t *testing.T) {
				t.Parallel()
				s, err := implicit(t, client, addr, lc.policy)
				want := certResult(lc.policy.Level, cc.pkix, cc.pinned)
				if want == "" {
					require.NoError(t, err)
					assert.Equal(t, lc.auth, s.Authentication())
					return
				}
				e := requireError(t, err, starttls.ErrCertificate)
				assert.Equal(t, want, e.Result)
				assert.Equal(t, lc.policy.Level, e.Level)
				assert.False(t, e.RetryPlaintext, "implicit TLS never retries in plaintext")
				switch lc.policy.Level {
				case starttls.Fingerprint:
					assert.ErrorIs(t, err, starttls.ErrPinMismatch)
				case starttls.DANE, starttls.DANEOnly:
					assert.ErrorIs(t, err, errTLSAMismatch)
				}
			})
		}
	}
}

// Levels none and may are refused before a byte is sent.
func TestImplicitTLSPlaintextLevels(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []byte
	addr := listen(t, func(p *peer) {
		_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(p.br)
		mu.Lock()
		got = append(got, b...)
		mu.Unlock()
	})
	for _, l := range []starttls.Level{starttls.None, starttls.May} {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			_, err := implicit(t, client, addr, &starttls.Policy{Level: l})
			e := requireError(t, err, starttls.ErrPolicy)
			assert.Equal(t, l, e.Level)
			assert.Empty(t, e.Result)
			_, err = client.DialImplicitTLS(context.Background(), addr, "mx.example.test", &starttls.Policy{Level: l})
			require.ErrorIs(t, err, starttls.ErrPolicy)
		})
	}
	t.Run("invalid policy", func(t *testing.T) {
		t.Parallel()
		_, err := implicit(t, client, addr, &starttls.Policy{Level: starttls.Fingerprint})
		require.ErrorIs(t, err, starttls.ErrPolicy)
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, got, "nothing sent under a refused level")
	})
}

// A server that speaks plaintext (a STARTTLS or plaintext port) is "TLS not
// supported"; other garbage is a handshake failure. Neither is read as SMTP.
func TestImplicitTLSPlaintextServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		send   string
		kind   error
		result starttls.ResultType
	}{
		{"SMTP greeting", "220 mx.example.test ESMTP\r\n", starttls.ErrNotOffered, starttls.ResultSTARTTLSNotSupported},
		{"SMTP rejection", "554 5.7.1 no\r\n", starttls.ErrNotOffered, starttls.ResultSTARTTLSNotSupported},
		{"HTTP", "HTTP/1.1 400 Bad Request\r\n\r\n", starttls.ErrHandshake, starttls.ResultValidationFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := listen(t, func(p *peer) {
				p.send(tc.send)
				_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.Copy(io.Discard, p.br)
			})
			_, err := implicit(t, client, addr, nil)
			e := requireError(t, err, tc.kind)
			assert.Equal(t, tc.result, e.Result)
			assert.Nil(t, e.Reply, "nothing parsed as a reply")
		})
	}
}

func TestImplicitTLSTimeouts(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	fast := &starttls.Client{GreetingTimeout: 300 * time.Millisecond, CommandTimeout: 300 * time.Millisecond, HandshakeTimeout: 300 * time.Millisecond}
	hold := func(p *peer) {
		_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, p.br)
	}
	cases := []struct {
		name   string
		script func(*peer)
		kind   error
		result starttls.ResultType
	}{
		{"stalled handshake", hold, starttls.ErrHandshake, starttls.ResultValidationFailure},
		{"stalled greeting inside TLS", func(pp *peer) {
			if tp := pp.upgrade(serverTLS(p.good)); tp != nil {
				hold(tp)
			}
		}, starttls.ErrConnection, ""},
		{"stalled EHLO reply", func(pp *peer) {
			if tp := pp.upgrade(serverTLS(p.good)); tp != nil {
				tp.send("220 mx.example.test\r\n")
				hold(tp)
			}
		}, starttls.ErrConnection, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := listen(t, tc.script)
			start := time.Now()
			_, err := implicit(t, fast, addr, &starttls.Policy{RootCAs: p.ca.Pool()})
			e := requireError(t, err, tc.kind)
			assert.Equal(t, tc.result, e.Result)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		addr := listen(t, hold)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := (&starttls.Client{}).ImplicitTLS(ctx, dial(t, addr), "mx.example.test", nil)
		requireError(t, err, starttls.ErrHandshake)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
	})
}

// A greeting or EHLO refused inside TLS is the server's answer, not a TLS
// failure; the client says QUIT inside TLS.
func TestImplicitTLSRejected(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cases := []struct {
		name      string
		mx        implicitMX
		temporary bool
	}{
		{"554 greeting", implicitMX{greeting: "554 5.7.1 go away\r\n"}, false},
		{"421 greeting", implicitMX{greeting: "421 4.3.2 busy\r\n"}, true},
		{"EHLO refused", implicitMX{post: "502 5.5.1 no EHLO\r\n"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var quit atomic.Bool
			m := tc.mx
			m.cfg, m.quit = serverTLS(p.good), &quit
			addr := listen(t, m.run)
			_, err := implicit(t, client, addr, &starttls.Policy{RootCAs: p.ca.Pool()})
			require.ErrorIs(t, err, starttls.ErrRejected)
			var e *starttls.Error
			require.ErrorAs(t, err, &e)
			require.NotNil(t, e.Reply)
			assert.Empty(t, e.Result)
			assert.Equal(t, tc.temporary, e.Temporary())
			assert.Eventually(t, quit.Load, 5*time.Second, 10*time.Millisecond, "QUIT inside TLS")
		})
	}
}

// implicitServer is our receiver in implicit-TLS mode, recording commands,
// messages and handshake errors.
type implicitServer struct {
	addr string
	rec  *recorder
	ca   *testcert.CA
	mu   sync.Mutex
	errs []error
}

func (s *implicitServer) handshakeErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

func startImplicit(t *testing.T, srv *starttls.Server) *implicitServer {
	t.Helper()
	is := &implicitServer{rec: &recorder{}, ca: testcert.NewCA(t)}
	if srv.TLSConfig == nil {
		srv.TLSConfig = serverTLS(is.ca.Leaf("mx.example.test"))
	}
	cfg := &smtpserver.Config{
		Hostname: "mx.example.test", TLS: srv, ImplicitTLS: true,
		OnCommand: is.rec.onCommand, Deliver: is.rec.deliver,
		OnHandshakeError: func(err error) {
			is.mu.Lock()
			is.errs = append(is.errs, err)
			is.mu.Unlock()
		},
	}
	is.addr = smtpserver.Start(t, cfg)
	return is
}

// Our client to our implicit-TLS receiver: a delivery inside TLS, no
// STARTTLS advertised, and STARTTLS refused with 503.
func TestImplicitTLSBothSides(t *testing.T) {
	t.Parallel()
	is := startImplicit(t, &starttls.Server{Required: true, HandshakeTimeout: 5 * time.Second})
	c := &starttls.Client{Hostname: "client.example.test", Dialer: &net.Dialer{Timeout: 5 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.DialImplicitTLS(ctx, is.addr, "mx.example.test", &starttls.Policy{RootCAs: is.ca.Pool()})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, starttls.AuthPKIX, s.Authentication())
	assert.Equal(t, "mx.example.test", s.Extensions().Domain())
	assert.False(t, s.Extensions().Has("STARTTLS"), "RFC 3207 §4.2: not advertised inside TLS")
	assert.True(t, s.Extensions().Has("PIPELINING"))

	r, err := s.Command(ctx, "STARTTLS")
	require.NoError(t, err)
	assert.Equal(t, "503 5.5.1 TLS already active\r\n", r.String())
	for _, cmd := range []string{"MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>"} {
		r, err := s.Command(ctx, cmd)
		require.NoError(t, err)
		require.Equal(t, 250, r.Code, "%s: Required has nothing to gate inside TLS", cmd)
	}
	r, err = s.Data(ctx, []byte("Subject: implicit\r\n\r\nhello\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 250, r.Code)
	require.NoError(t, s.Quit(ctx))

	assert.Equal(t, []string{"EHLO/tls", "STARTTLS/tls", "MAIL/tls", "RCPT/tls", "DATA/tls", "QUIT/tls"}, is.rec.commands())
	is.rec.mu.Lock()
	defer is.rec.mu.Unlock()
	require.Len(t, is.rec.msgs, 1)
	m := is.rec.msgs[0]
	require.NotNil(t, m.TLS)
	assert.Equal(t, "mx.example.test", m.TLS.ServerName)
	assert.Contains(t, string(m.Data), "hello")
}

// A plaintext client gets a closed connection and not one byte of SMTP,
// whether it waits for a greeting or speaks first; nothing it sent runs.
func TestImplicitTLSPlaintextClient(t *testing.T) {
	t.Parallel()
	is := startImplicit(t, &starttls.Server{HandshakeTimeout: 300 * time.Millisecond})
	cases := []struct {
		name, send string
	}{
		{"waits for a greeting", ""},
		{"sends EHLO", "EHLO client.example.test\r\n"},
		{"pipelines a transaction", "EHLO c.example.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n"},
		{"sends STARTTLS", "STARTTLS\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn := dial(t, is.addr)
			if tc.send != "" {
				_, err := conn.Write([]byte(tc.send))
				require.NoError(t, err)
			}
			start := time.Now()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(conn)
			if err != nil {
				assert.True(t, isReset(err), "%v", err)
			}
			assert.Empty(t, b, "not a byte written to a plaintext client")
			assert.Less(t, time.Since(start), 3*time.Second)
		})
	}
	t.Cleanup(func() {
		assert.Empty(t, is.rec.commands(), "no command executed")
		// The hook runs just after the close the clients saw.
		assert.Eventually(t, func() bool { return len(is.handshakeErrors()) == len(cases) }, 5*time.Second, 10*time.Millisecond)
		for _, err := range is.handshakeErrors() {
			assert.ErrorIs(t, err, starttls.ErrHandshakeFailed)
		}
	})
}

// The first bytes of a ClientHello, then silence: closed when
// HandshakeTimeout runs out.
func TestImplicitTLSStalledHandshake(t *testing.T) {
	t.Parallel()
	is := startImplicit(t, &starttls.Server{HandshakeTimeout: 300 * time.Millisecond})
	conn := dial(t, is.addr)
	_, err := conn.Write([]byte("\x16\x03\x01\x00\x80"))
	require.NoError(t, err)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		assert.True(t, isReset(err), "%v", err)
	}
	assert.Empty(t, b)
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	require.Eventually(t, func() bool { return len(is.handshakeErrors()) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.ErrorIs(t, is.handshakeErrors()[0], os.ErrDeadlineExceeded)
}

// VerifyClient and ClientAuth apply to implicit TLS as to STARTTLS.
func TestImplicitTLSVerifyClient(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	var mu sync.Mutex
	var seen []string
	srv := &starttls.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}, ClientAuth: tls.RequestClientCert},
		VerifyClient: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("client certificate required")
			}
			mu.Lock()
			seen = append(seen, cs.PeerCertificates[0].Subject.CommonName)
			mu.Unlock()
			return nil
		},
	}
	is := startImplicit(t, srv)
	pol := &starttls.Policy{RootCAs: ca.Pool()}

	_, err := implicit(t, client, is.addr, pol)
	require.Error(t, err, "no client certificate: refused")

	withCert := &starttls.Client{Hostname: "client.example.test", TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf("client.example.test").TLS}}}
	s, err := implicit(t, withCert, is.addr, pol)
	require.NoError(t, err)
	r, err := s.Command(context.Background(), "NOOP")
	require.NoError(t, err)
	assert.Equal(t, 250, r.Code)
	mu.Lock()
	assert.Equal(t, []string{"client.example.test"}, seen)
	mu.Unlock()
	require.Eventually(t, func() bool { return len(is.handshakeErrors()) == 1 }, 5*time.Second, 10*time.Millisecond)
}

// AcceptTLS without a certificate closes the connection.
func TestAcceptTLSNoCertificate(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		_, err = starttls.AcceptTLS[struct{}](context.Background(), &starttls.Server{}, conn)
		done <- err
	}()
	conn := dial(t, ln.Addr().String())
	require.ErrorIs(t, <-done, starttls.ErrServerNoCertificate)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	assert.Empty(t, b)
}

// A failed dial is ErrConnection.
func TestDialImplicitTLSRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = client.DialImplicitTLS(context.Background(), addr, "mx.example.test", nil)
	e := requireError(t, err, starttls.ErrConnection)
	assert.Empty(t, e.Result)
}

// The reader's errors are the package's own kinds, usable without the
// internal packages.
func TestServerConnReadErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, send string
		data       bool
		kind       error
		after      string // a command still readable after the error
	}{
		{"NUL in command", "NO\x00OP\r\nNOOP\r\n", false, starttls.ErrSyntax, "NOOP"},
		{"bad verb", "1234\r\nQUIT\r\n", false, starttls.ErrSyntax, "QUIT"},
		{"line too long", strings.Repeat("a", 5000) + "\r\n", false, starttls.ErrLineTooLong, ""},
		{"bare LF in data", "a\nb\r\n.\r\nNOOP\r\n", true, starttls.ErrBareLineEnding, "NOOP"},
		{"data too large", strings.Repeat("x", 100) + "\r\n.\r\nRSET\r\n", true, starttls.ErrMessageTooLarge, "RSET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			go func() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err == nil {
					_, _ = c.Write([]byte(tc.send))
					time.Sleep(2 * time.Second)
					_ = c.Close()
				}
			}()
			conn, err := ln.Accept()
			require.NoError(t, err)
			sc := starttls.NewServerConn[struct{}](&starttls.Server{}, conn)
			defer sc.Close()
			ctx := context.Background()
			if tc.data {
				_, err = sc.ReadData(ctx, 50)
			} else {
				var cmd starttls.Command
				cmd, err = sc.ReadCommand(ctx)
				assert.Equal(t, starttls.Command{}, cmd)
			}
			require.ErrorIs(t, err, tc.kind)
			var se *smtpwire.SyntaxError
			if tc.kind == starttls.ErrSyntax {
				assert.ErrorAs(t, err, &se, "the cause is kept")
			}
			if tc.after != "" {
				cmd, err := sc.ReadCommand(ctx)
				require.NoError(t, err)
				assert.Equal(t, starttls.Command{Verb: tc.after}, cmd)
			}
		})
	}
}

// Session errors carry the same kinds.
func TestSessionErrorKinds(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := listen(t, implicitMX{cfg: serverTLS(p.good)}.run)
	s, err := implicit(t, client, addr, &starttls.Policy{RootCAs: p.ca.Pool()})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Command(ctx, "NOOP\r\nQUIT")
	assert.ErrorIs(t, err, starttls.ErrSyntax)
	_, err = s.Data(ctx, []byte("bare\nLF\r\n"))
	assert.ErrorIs(t, err, starttls.ErrBareLineEnding)
	r, err := s.Command(ctx, "NOOP")
	require.NoError(t, err)
	assert.Equal(t, smtpsec.Reply{Code: 250, Enhanced: smtpsec.Enhanced(0, 0), Text: "OK"}, r)
}
