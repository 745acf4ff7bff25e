package starttls

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// DefaultDialTimeout bounds the TCP connect of DialImplicitTLS when
// Client.Dialer is nil or has no Timeout.
const DefaultDialTimeout = 30 * time.Second

// errImplicitLevel is the cause of ErrPolicy for levels None and May under
// implicit TLS.
var errImplicitLevel = errors.New("implicit TLS never runs in plaintext: levels none and may do not apply (use encrypt for unauthenticated TLS)")

// ImplicitTLS runs the client side of an implicit-TLS SMTP session (RFC
// 8314 §3.3, the "submissions" service on port 465) on conn, a fresh
// connection to serverName: "a TLS handshake begins immediately", and SMTP
// is then exchanged as TLS application data for the rest of the
// connection.
// Within this one call it:
//
//  1. runs the TLS handshake and p's verification, bounded by
//     HandshakeTimeout and ctx, exactly as Upgrade does after its 220;
//  2. reads the 220 greeting, the server's first words, inside TLS;
//  3. sends EHLO inside TLS.
//
// It returns the same Session as Upgrade, positioned after that EHLO.
// Nothing is ever read or sent in plaintext, so there is no STRIPTLS,
// response or capability injection to defend against.
//
// p's level applies as under Upgrade, with the same Verifier, errors and
// RFC 8460 result types: Verify, MTASTS, Fingerprint, DANE, DANEOnly and
// Encrypt. Levels None and May are refused with ErrPolicy before anything
// is sent. None asks for no TLS, which an implicit-TLS port cannot give. May
// is defined by its fallback to plaintext (Session.PlaintextReason,
// Error.RetryPlaintext), which implicit TLS never has; mapping it silently
// to Encrypt would hand back a session the caller believes opportunistic.
// A caller that wants unauthenticated TLS says Encrypt; note that RFC 8314
// §3.3 and §5.3 expect a mail client to validate the certificate (level
// Verify) before it counts the session as confidential.
//
// Errors are *Error values, and conn has been closed. A server that answers
// the ClientHello with plaintext (an SMTP greeting: a STARTTLS or plaintext
// port) fails with ErrNotOffered and ResultSTARTTLSNotSupported, the RFC
// 8460 type for "this MX does not do TLS"; other handshake failures are
// ErrHandshake, certificate failures ErrCertificate. A greeting or EHLO
// refused inside TLS is ErrRejected (Result ""). Error.RetryPlaintext is
// never set.
func (c *Client) ImplicitTLS(ctx context.Context, conn net.Conn, serverName string, p *Policy) (*Session, error) {
	if p != nil && !p.Level.Mandatory() {
		u := &upgrade{ctx: ctx, p: p, s: &Session{raw: conn, conn: conn}}
		return u.fail(&Error{Kind: ErrPolicy, Err: errImplicitLevel})
	}
	u, err := c.begin(ctx, conn, serverName, p)
	if err != nil {
		return nil, err
	}
	defer u.stop()
	if e := u.handshake(); e != nil {
		return u.fail(implicitHandshakeError(e))
	}
	if e := u.greeting(); e != nil {
		return u.finish(e, e.Kind == ErrRejected)
	}
	return u.ehloInTLS()
}

// DialImplicitTLS connects to address ("host:port", usually port 465) with
// Client.Dialer, bounded by its Timeout (DefaultDialTimeout when zero) and
// ctx, and runs ImplicitTLS on the connection. A failed connect is an
// *Error of kind ErrConnection.
func (c *Client) DialImplicitTLS(ctx context.Context, address, serverName string, p *Policy) (*Session, error) {
	if p != nil && !p.Level.Mandatory() {
		return nil, &Error{Kind: ErrPolicy, Level: p.Level, Err: errImplicitLevel}
	}
	var d net.Dialer
	if c != nil && c.Dialer != nil {
		d = *c.Dialer
	}
	if d.Timeout <= 0 {
		d.Timeout = DefaultDialTimeout
	}
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		e := &Error{Kind: ErrConnection, Err: err}
		if p != nil {
			e.Level = p.Level
		}
		return nil, e
	}
	return c.ImplicitTLS(ctx, conn, serverName, p)
}

// implicitHandshakeError tells a plaintext server apart from other
// handshake failures: crypto/tls reports a first record that is not TLS as
// a tls.RecordHeaderError, and an SMTP greeting starts with a reply code.
func implicitHandshakeError(e *Error) *Error {
	var rh tls.RecordHeaderError
	if e.Kind == ErrHandshake && errors.As(e.Err, &rh) && isReplyCode(rh.RecordHeader[:3]) {
		e.Kind, e.Result = ErrNotOffered, ResultSTARTTLSNotSupported
	}
	return e
}

func isReplyCode(b []byte) bool {
	return len(b) == 3 && '2' <= b[0] && b[0] <= '5' && '0' <= b[1] && b[1] <= '9' && '0' <= b[2] && b[2] <= '9'
}

// ErrServerNoCertificate is returned by AcceptTLS when Server.TLSConfig is
// nil: an implicit-TLS listener has nothing to offer without a certificate.
var ErrServerNoCertificate = errors.New("starttls: implicit TLS needs Server.TLSConfig")

// AcceptTLS starts the server side of an implicit-TLS session (RFC 8314 §3.3)
// on conn, a freshly accepted connection: it runs the TLS handshake before
// anything else, with the same configuration as StartTLS (srv.TLSConfig,
// srv.VerifyClient, bounded by srv.HandshakeTimeout and ctx), and returns a
// ServerConn that is inside TLS from the start. The caller then writes the
// 220 greeting, inside TLS.
//
// On that ServerConn STARTTLS is not advertised (Keywords) and the command
// is refused with 503 5.5.1 (StartTLS): RFC 3207 §4.2 forbids offering it
// once TLS is active, and RFC 5321 §4.2.4 makes 503 the reply to a command
// out of sequence. 454 would be wrong: it says TLS is temporarily
// unavailable, inviting a retry. Server.Required has nothing left to gate.
//
// A client that speaks plaintext (an SMTP client expecting a greeting, or
// one sending EHLO) never gets a plaintext conversation: its bytes fail the
// handshake, or its silence runs into the handshake timeout, and the
// connection is closed without a byte written. On any error conn has been
// closed; handshake failures wrap ErrHandshakeFailed and their cause (a
// tls.RecordHeaderError for plaintext, context.DeadlineExceeded or a
// timeout for a stalled handshake).
func AcceptTLS[S any](ctx context.Context, srv *Server, conn net.Conn) (*ServerConn[S], error) {
	if srv == nil || srv.TLSConfig == nil {
		_ = conn.Close()
		return nil, ErrServerNoCertificate
	}
	c := NewServerConn[S](srv, conn)
	if err := c.handshake(ctx); err != nil {
		return nil, err
	}
	return c, nil
}
