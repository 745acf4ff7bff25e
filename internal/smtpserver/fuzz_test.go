package smtpserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// memConn reads a fixed client script and records what the server writes.
// It never blocks: at the end of the script reads return EOF.
type memConn struct {
	in  *bytes.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(p) > 5 {
		p = p[:5] // short reads, as TCP delivers them
	}
	return c.in.Read(p)
}
func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzServeConn runs a session on arbitrary client bytes. Properties: the
// session ends; everything the server wrote parses as a sequence of
// well-formed replies; no command ever runs inside TLS (no script can
// complete a handshake).
func FuzzServeConn(f *testing.F) {
	for _, s := range []string{
		"EHLO a\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO a\r\nSTARTTLS\r\nMAIL FROM:<evil@example>\r\n",
		"STARTTLS x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"HELO a\r\nDATA\r\nRSET\r\nNOOP\r\nVRFY\r\n\x00\r\n",
		"EHLO a\r\nMAIL FROM:<a@example.test> SIZE=1 SIZE=2\r\n",
	} {
		f.Add([]byte(s))
	}
	ca := testcert.NewCA(f)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}}
	f.Fuzz(func(t *testing.T, script []byte) {
		var (
			mu    sync.Mutex
			inTLS bool
		)
		cfg := &smtpserver.Config{
			TLS:            &starttls.Server{TLSConfig: tlsCfg},
			MaxMessageSize: 1 << 10,
			OnCommand: func(cmd smtpwire.Command, tlsActive bool) {
				mu.Lock()
				defer mu.Unlock()
				inTLS = inTLS || tlsActive
			},
		}
		conn := serveScript(t, cfg, script)
		mu.Lock()
		defer mu.Unlock()
		if inTLS {
			t.Fatal("a command ran inside TLS")
		}
		r := smtpwire.NewReader(bytes.NewReader(conn.out.Bytes()), smtpwire.Limits{MaxLineLength: 4096, MaxLines: 1000})
		for {
			_, err := r.ReadReply()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("malformed server output %q: %v", conn.out.String(), err)
			}
		}
	})
}

// FuzzServeConnImplicitTLS runs an implicit-TLS session on arbitrary
// client bytes. Properties: the session ends; no command runs (no script
// can complete a handshake); the server writes no plaintext: its output is
// empty or TLS records (an alert or a handshake message).
func FuzzServeConnImplicitTLS(f *testing.F) {
	for _, s := range []string{
		"EHLO a\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"STARTTLS\r\n",
		"\x16\x03\x01\x00\x05hello",
		"\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03",
		"",
	} {
		f.Add([]byte(s))
	}
	ca := testcert.NewCA(f)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}}
	f.Fuzz(func(t *testing.T, script []byte) {
		var (
			mu   sync.Mutex
			cmds int
		)
		cfg := &smtpserver.Config{
			TLS:         &starttls.Server{TLSConfig: tlsCfg},
			ImplicitTLS: true,
			OnCommand: func(smtpwire.Command, bool) {
				mu.Lock()
				cmds++
				mu.Unlock()
			},
		}
		conn := serveScript(t, cfg, script)
		mu.Lock()
		defer mu.Unlock()
		if cmds != 0 {
			t.Fatalf("%d commands ran", cmds)
		}
		out := conn.out.Bytes()
		for len(out) > 0 {
			// A TLS record: type (alert 21 or handshake 22), version 3.x,
			// length.
			if len(out) < 5 || (out[0] != 21 && out[0] != 22) || out[1] != 3 {
				t.Fatalf("plaintext written: %q", conn.out.Bytes())
			}
			n := 5 + int(out[3])<<8 + int(out[4])
			if n > len(out) {
				t.Fatalf("truncated record: %q", out)
			}
			out = out[n:]
		}
	})
}

// serveScript runs one session of cfg on the client bytes script and
// returns the connection once the session has ended, failing the test when
// it does not end within 10 seconds.
func serveScript(t *testing.T, cfg *smtpserver.Config, script []byte) *memConn {
	t.Helper()
	conn := &memConn{in: bytes.NewReader(script)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		cfg.ServeConn(context.Background(), conn)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end")
	}
	return conn
}
