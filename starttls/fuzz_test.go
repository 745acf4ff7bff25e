package starttls_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/starttls"
)

// scriptConn is an in-memory net.Conn whose reads return a fixed server
// transcript and whose writes are discarded. Unlike net.Pipe it never
// blocks, so a fuzz iteration cannot hang; an exhausted script reads EOF.
type scriptConn struct {
	r      *bytes.Reader
	closed bool
}

func (c *scriptConn) Read(p []byte) (int, error) {
	// Short reads, as TCP delivers: at most 7 bytes at a time.
	if len(p) > 7 {
		p = p[:7]
	}
	return c.r.Read(p)
}
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { c.closed = true; return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzUpgrade feeds arbitrary server bytes to the client upgrade under
// verify and may. Properties: it returns; an error is an *Error and the
// connection is closed; under verify no session is ever returned (a
// scripted server cannot complete a verified handshake); under may a
// session is plaintext and says why, and its extensions came from a
// well-formed EHLO reply.
func FuzzUpgrade(f *testing.F) {
	f.Add([]byte("220 mx.example.test\r\n250-mx.example.test\r\n250 STARTTLS\r\n220 go\r\n"))
	f.Add([]byte("220 mx.example.test\r\n250-mx.example.test\r\n250 SIZE 1\r\n"))
	f.Add([]byte("220 mx.example.test\r\n250-mx.example.test\r\n250 STARTTLS\r\n454 4.7.0 no\r\n"))
	f.Add([]byte("220 mx.example.test\r\n250-mx.example.test\r\n250 STARTTLS\r\n220 go\r\n250 injected\r\n"))
	f.Add([]byte("220-a\r\n221 b\r\n"))
	f.Add([]byte("220 a\r\n502 no\r\n250 a\r\n"))
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, p := range []*starttls.Policy{{}, {Level: starttls.May}} {
			conn := &scriptConn{r: bytes.NewReader(script)}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := (&starttls.Client{}).Upgrade(ctx, conn, "mx.example.test", p)
			cancel()
			if err != nil {
				var e *starttls.Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T %v is not an *Error", err, err)
				}
				if !conn.closed {
					t.Fatal("connection left open after an error")
				}
				if s != nil {
					t.Fatal("session returned with an error")
				}
				continue
			}
			if p.Level.Mandatory() {
				t.Fatalf("verify returned a session from a script: %+v", s)
			}
			if s.Encrypted() || s.PlaintextReason() == nil {
				t.Fatalf("may: encrypted=%v reason=%v", s.Encrypted(), s.PlaintextReason())
			}
		}
	})
}

// FuzzImplicitTLS feeds arbitrary server bytes to the implicit-TLS client
// under verify and encrypt. Properties: it returns; no session (a fixed
// script cannot answer a fresh ClientHello); the error is an *Error of kind
// ErrNotOffered (exactly when the script opens with a reply code) or
// ErrHandshake, with no Reply (nothing is parsed as SMTP outside TLS), no
// RetryPlaintext, and the connection closed.
func FuzzImplicitTLS(f *testing.F) {
	f.Add([]byte("220 mx.example.test ESMTP\r\n"))
	f.Add([]byte("554 5.7.1 no\r\n"))
	f.Add([]byte("\x16\x03\x03\x00\x05hello"))
	f.Add([]byte("\x15\x03\x03\x00\x02\x02\x28"))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, p := range []*starttls.Policy{{}, {Level: starttls.Encrypt}} {
			conn := &scriptConn{r: bytes.NewReader(script)}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := (&starttls.Client{}).ImplicitTLS(ctx, conn, "mx.example.test", p)
			cancel()
			if s != nil || err == nil {
				t.Fatalf("a session from a script: %v %v", s, err)
			}
			var e *starttls.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			code := len(script) >= 5 && script[0] >= '2' && script[0] <= '5' && isDigit(script[1]) && isDigit(script[2])
			switch {
			case e.Kind == starttls.ErrNotOffered && !code, e.Kind == starttls.ErrHandshake && code:
				t.Fatalf("kind %v for %q", e.Kind, script)
			case e.Kind != starttls.ErrNotOffered && e.Kind != starttls.ErrHandshake:
				t.Fatalf("kind %v", e.Kind)
			case e.Reply != nil, e.RetryPlaintext, !conn.closed:
				t.Fatalf("reply %v, retry %v, closed %v", e.Reply, e.RetryPlaintext, conn.closed)
			}
		}
	})
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
