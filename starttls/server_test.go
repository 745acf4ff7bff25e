package starttls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// rawClient drives a server byte by byte over real TCP.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *smtpwire.Reader
}

func newRawClient(t *testing.T, addr string) *rawClient {
	c := &rawClient{t: t, conn: dial(t, addr)}
	c.r = smtpwire.NewReader(c.conn, smtpwire.Limits{})
	require.Equal(t, 220, c.reply().Code, "greeting")
	return c
}

// send writes s in one write (one TCP segment on loopback).
func (c *rawClient) send(s string) {
	c.t.Helper()
	_, err := c.conn.Write([]byte(s))
	require.NoError(c.t, err)
}

func (c *rawClient) reply() smtpsec.Reply {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := c.r.ReadReply()
	require.NoError(c.t, err)
	return r
}

func (c *rawClient) cmd(line string) smtpsec.Reply {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.reply()
}

func (c *rawClient) startTLS(roots *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, roots)
	require.NoError(c.t, tc.Handshake())
	c.conn = tc
	c.r.Reset(tc)
}

// closed reports whether the server closed the connection without sending
// anything more.
func (c *rawClient) closed() bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c.conn)
	return len(b) == 0 && err == nil || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// recorder records the commands a server executed, with their TLS state.
type recorder struct {
	mu   sync.Mutex
	cmds []string
	msgs []*smtpserver.Message
}

func (r *recorder) onCommand(cmd smtpwire.Command, tlsActive bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := cmd.Verb
	if tlsActive {
		s += "/tls"
	}
	r.cmds = append(r.cmds, s)
}

func (r *recorder) deliver(_ context.Context, m *smtpserver.Message) *smtpsec.ReplyError {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

type testServer struct {
	addr   string
	rec    *recorder
	ca     *testcert.CA
	client *tls.Config
}

func startServer(t *testing.T, srv *starttls.Server, withCert bool) *testServer {
	ca := testcert.NewCA(t)
	if withCert {
		srv.TLSConfig = serverTLS(ca.Leaf("mx.example.test"))
	}
	rec := &recorder{}
	cfg := &smtpserver.Config{Hostname: "mx.example.test", TLS: srv, OnCommand: rec.onCommand, Deliver: rec.deliver}
	return &testServer{addr: smtpserver.Start(t, cfg), rec: rec, ca: ca, client: &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.test"}}
}

// Commands pipelined behind STARTTLS in the same write are never executed,
// in plaintext or inside TLS (CVE-2011-0411).
func TestServerCommandInjection(t *testing.T) {
	t.Parallel()
	for _, injected := range []string{"RSET", "MAIL FROM:<evil@example>", "QUIT"} {
		t.Run(injected, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, &starttls.Server{}, true)
			c := newRawClient(t, ts.addr)
			require.Equal(t, 250, c.cmd("EHLO client.example.test").Code)
			c.send("STARTTLS\r\n" + injected + "\r\n")
			r := c.reply()
			assert.Equal(t, 503, r.Code, "upgrade refused: %v", r)
			// The session goes on; the injected command was discarded.
			assert.Equal(t, 503, c.cmd("RCPT TO:<postmaster@example.test>").Code, "MAIL was not executed")
			// A proper STARTTLS now works, and the injected command still
			// has not run inside TLS.
			require.Equal(t, 220, c.cmd("STARTTLS").Code)
			c.startTLS(ts.client)
			require.Equal(t, 250, c.cmd("EHLO client.example.test").Code)
			assert.Equal(t, 503, c.cmd("RCPT TO:<postmaster@example.test>").Code)
			assert.Equal(t, []string{"EHLO", "STARTTLS", "RCPT", "STARTTLS", "EHLO/tls", "RCPT/tls"}, ts.rec.commands())
		})
	}
}

// Plaintext sent after the 220, in a later segment, goes into the handshake,
// which fails and closes the connection: never back to plaintext.
func TestServerPlaintextAfter220(t *testing.T) {
	t.Parallel()
	for name, garbage := range map[string]string{
		"command":       "MAIL FROM:<evil@example>\r\n",
		"garbage":       "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09",
		"http":          "GET / HTTP/1.0\r\n\r\n",
		"bad handshake": "\x16\x03\x01\x00\x05hello",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, &starttls.Server{HandshakeTimeout: 2 * time.Second}, true)
			c := newRawClient(t, ts.addr)
			require.Equal(t, 250, c.cmd("EHLO client.example.test").Code)
			require.Equal(t, 220, c.cmd("STARTTLS").Code)
			c.send(garbage)
			got, _ := io.ReadAll(c.conn)
			assert.False(t, strings.Contains(string(got), "250") || strings.Contains(string(got), "550") || strings.Contains(string(got), "503"),
				"no plaintext reply after a failed handshake: %q", got)
			assert.Equal(t, []string{"EHLO", "STARTTLS"}, ts.rec.commands())
		})
	}
}

func TestServerStateReset(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &starttls.Server{}, true)
	c := newRawClient(t, ts.addr)
	require.Equal(t, 250, c.cmd("EHLO client.example.test").Code)
	require.Equal(t, 250, c.cmd("MAIL FROM:<a@example.test>").Code)
	require.Equal(t, 250, c.cmd("RCPT TO:<b@example.test>").Code)
	require.Equal(t, 220, c.cmd("STARTTLS").Code)
	c.startTLS(ts.client)
	assert.Equal(t, 503, c.cmd("MAIL FROM:<a@example.test>").Code, "EHLO forgotten")
	assert.Equal(t, 503, c.cmd("DATA").Code, "recipients forgotten")
	ehlo := c.cmd("EHLO client.example.test")
	require.Equal(t, 250, ehlo.Code)
	assert.NotContains(t, ehlo.Text, "STARTTLS", "RFC 3207 §4.2: not advertised inside TLS")
	assert.Equal(t, 503, c.cmd("RCPT TO:<b@example.test>").Code, "MAIL forgotten")
	require.Equal(t, 250, c.cmd("MAIL FROM:<a@example.test>").Code)
	require.Equal(t, 250, c.cmd("RCPT TO:<b@example.test>").Code)
	require.Equal(t, 354, c.cmd("DATA").Code)
	require.Equal(t, 250, c.cmd("Subject: t\r\n\r\nhi\r\n.").Code)
	ts.rec.mu.Lock()
	defer ts.rec.mu.Unlock()
	require.Len(t, ts.rec.msgs, 1)
	m := ts.rec.msgs[0]
	require.NotNil(t, m.TLS)
	assert.Len(t, m.Rcpts, 1)
	assert.Equal(t, "Subject: t\r\n\r\nhi\r\n", string(m.Data))
}

func TestServerSTARTTLSRefusals(t *testing.T) {
	t.Parallel()
	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, &starttls.Server{}, true)
		c := newRawClient(t, ts.addr)
		c.cmd("EHLO client.example.test")
		require.Equal(t, 220, c.cmd("STARTTLS").Code)
		c.startTLS(ts.client)
		r := c.cmd("STARTTLS")
		assert.Equal(t, 503, r.Code)
		assert.Equal(t, smtpsec.EnhancedCode{Subject: 5, Detail: 1}, r.Enhanced)
		assert.Equal(t, 250, c.cmd("NOOP").Code, "still inside TLS")
	})
	t.Run("argument", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, &starttls.Server{}, true)
		c := newRawClient(t, ts.addr)
		r := c.cmd("STARTTLS now")
		assert.Equal(t, 501, r.Code)
		assert.Equal(t, 220, c.cmd("STARTTLS").Code)
	})
	t.Run("no certificate", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, &starttls.Server{}, false)
		c := newRawClient(t, ts.addr)
		ehlo := c.cmd("EHLO client.example.test")
		assert.NotContains(t, ehlo.Text, "STARTTLS")
		r := c.cmd("STARTTLS")
		assert.Equal(t, 454, r.Code)
		assert.Equal(t, 250, c.cmd("NOOP").Code)
	})
	t.Run("offered", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, &starttls.Server{}, true)
		c := newRawClient(t, ts.addr)
		assert.Contains(t, c.cmd("EHLO client.example.test").Text, "\nSTARTTLS")
	})
}

func TestServerRequired(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &starttls.Server{Required: true}, true)
	c := newRawClient(t, ts.addr)
	for _, cmd := range []string{"MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", "RSET", "VRFY root", "AUTH PLAIN AGFAYg=="} {
		r := c.cmd(cmd)
		assert.Equal(t, 530, r.Code, cmd)
		assert.Equal(t, "530 5.7.0 Must issue a STARTTLS command first\r\n", r.String(), cmd)
	}
	for _, cmd := range []string{"NOOP", "EHLO client.example.test", "HELO client.example.test"} {
		assert.Equal(t, 250, c.cmd(cmd).Code, cmd)
	}
	require.Equal(t, 220, c.cmd("STARTTLS").Code)
	c.startTLS(ts.client)
	c.cmd("EHLO client.example.test")
	assert.Equal(t, 250, c.cmd("MAIL FROM:<a@example.test>").Code)
	assert.Equal(t, 221, c.cmd("QUIT").Code)
}

func TestServerQuitAllowedWhenRequired(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &starttls.Server{Required: true}, true)
	c := newRawClient(t, ts.addr)
	assert.Equal(t, 221, c.cmd("QUIT").Code)
}

func TestServerStalledHandshake(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &starttls.Server{HandshakeTimeout: 300 * time.Millisecond}, true)
	c := newRawClient(t, ts.addr)
	require.Equal(t, 220, c.cmd("STARTTLS").Code)
	c.send("\x16\x03\x01") // the start of a record, then nothing
	start := time.Now()
	assert.True(t, c.closed())
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestServerVerifyClient(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	var seen []string
	var mu sync.Mutex
	srv := &starttls.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}, ClientAuth: tls.RequestClientCert},
		VerifyClient: func(cs tls.ConnectionState) error {
			mu.Lock()
			defer mu.Unlock()
			if len(cs.PeerCertificates) == 0 {
				return errors.New("client certificate required")
			}
			seen = append(seen, cs.PeerCertificates[0].Subject.CommonName)
			return nil
		},
	}
	addr := smtpserver.Start(t, &smtpserver.Config{TLS: srv})
	// Without a client certificate: the handshake fails and the server closes.
	c := newRawClient(t, addr)
	require.Equal(t, 220, c.cmd("STARTTLS").Code)
	tc := tls.Client(c.conn, &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.test"})
	err := tc.Handshake()
	if err == nil {
		// TLS 1.3: the client learns of the rejection on its first read.
		_, err = tc.Write([]byte("NOOP\r\n"))
		if err == nil {
			_, err = tc.Read(make([]byte, 1))
		}
	}
	require.Error(t, err)
	// With one: accepted.
	c = newRawClient(t, addr)
	require.Equal(t, 220, c.cmd("STARTTLS").Code)
	c.startTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.test", Certificates: []tls.Certificate{ca.Leaf("client.example.test").TLS}})
	assert.Equal(t, 250, c.cmd("NOOP").Code)
	mu.Lock()
	assert.Equal(t, []string{"client.example.test"}, seen)
	mu.Unlock()
}

// 500 concurrent upgrades, then no goroutine left behind.
func TestServerConcurrentUpgrades(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ca := testcert.NewCA(t)
		srv := &starttls.Server{TLSConfig: serverTLS(ca.Leaf("mx.example.test"))}
		var mu sync.Mutex
		n := 0
		ctx, cancel := context.WithCancel(context.Background())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		done := make(chan error, 1)
		cfg := &smtpserver.Config{TLS: srv, Deliver: func(context.Context, *smtpserver.Message) *smtpsec.ReplyError {
			mu.Lock()
			n++
			mu.Unlock()
			return nil
		}}
		go func() { done <- cfg.Serve(ctx, ln) }()
		const clients = 500
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		c := &starttls.Client{Hostname: "client.example.test"}
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					errs <- err
					return
				}
				s, err := c.Upgrade(context.Background(), conn, "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				for _, cmd := range []string{"MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>"} {
					if r, err := s.Command(context.Background(), cmd); err != nil || r.Code != 250 {
						errs <- errors.Join(err, errors.New(r.String()))
						return
					}
				}
				if r, err := s.Data(context.Background(), []byte("Subject: x\r\n\r\n.dot\r\n")); err != nil || r.Code != 250 {
					errs <- errors.Join(err, errors.New(r.String()))
					return
				}
				errs <- s.Quit(context.Background())
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, clients, n)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left behind")
}

func TestServerKeywordsAndGate(t *testing.T) {
	t.Parallel()
	withTLS := &starttls.Server{TLSConfig: &tls.Config{}}
	assert.Equal(t, []string{"PIPELINING", "STARTTLS"}, withTLS.Keywords(false, "PIPELINING", "starttls"))
	assert.Equal(t, []string{"PIPELINING"}, withTLS.Keywords(true, "PIPELINING", "STARTTLS"))
	assert.Equal(t, []string{"PIPELINING"}, (&starttls.Server{}).Keywords(false, "PIPELINING", "STARTTLS"))
	var nilServer *starttls.Server
	assert.Nil(t, nilServer.Gate("MAIL", false))
	req := &starttls.Server{Required: true}
	for _, v := range []string{"noop", "EHLO", "HELO", "STARTTLS", "QUIT"} {
		assert.Nil(t, req.Gate(v, false), v)
	}
	for _, v := range []string{"MAIL", "rcpt", "DATA", "AUTH", "RSET", "VRFY", "XYZZY"} {
		re := req.Gate(v, false)
		require.NotNil(t, re, v)
		assert.Equal(t, 530, re.Code)
		assert.Nil(t, req.Gate(v, true))
	}
}

// The hooks see MAIL parameters; the requiretls package plugs in here.
func TestServerMailHook(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got *esmtp.Command
	)
	addr := smtpserver.Start(t, &smtpserver.Config{Mail: func(_ context.Context, s *smtpserver.Session, cmd *esmtp.Command) *smtpsec.ReplyError {
		mu.Lock()
		defer mu.Unlock()
		got = cmd
		if cmd.Params.Has("REQUIRETLS") && s.TLS == nil {
			return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 530, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 10}, Text: "REQUIRETLS needs TLS"}}
		}
		return nil
	}})
	c := newRawClient(t, addr)
	c.cmd("EHLO client.example.test")
	assert.Equal(t, 530, c.cmd("MAIL FROM:<a@example.test> REQUIRETLS").Code)
	mu.Lock()
	defer mu.Unlock()
	require.NotNil(t, got)
	assert.Equal(t, "a@example.test", got.Path)
}

// countingConn counts writes.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// A multi-line reply goes out in one write (go-smtp writes every line
// separately, which costs it CPU per session).
func TestServerReplyOneWrite(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client := dial(t, ln.Addr().String())
	raw := <-accepted
	defer raw.Close()
	cc := &countingConn{Conn: raw}
	sc := starttls.NewServerConn[struct{}](&starttls.Server{TLSConfig: &tls.Config{}}, cc)
	reply := smtpwire.EHLOReply("mx.example.test", "hi", sc.Keywords("PIPELINING", "8BITMIME", "SIZE 1000"))
	require.NoError(t, sc.Reply(context.Background(), reply))
	got, err := smtpwire.NewReader(client, smtpwire.Limits{}).ReadReply()
	require.NoError(t, err)
	assert.Equal(t, "mx.example.test hi\nPIPELINING\n8BITMIME\nSIZE 1000\nSTARTTLS", got.Text)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	assert.Equal(t, 1, cc.writes)
}
