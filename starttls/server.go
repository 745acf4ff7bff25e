package starttls

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
)

// Default server timeouts, used when the Server fields are zero.
const (
	// DefaultServerHandshakeTimeout bounds a server's TLS handshake.
	DefaultServerHandshakeTimeout = time.Minute
	// DefaultReadTimeout is RFC 5321 §4.5.3.2.7's server timeout: how long a
	// server waits for the next command.
	DefaultReadTimeout = 5 * time.Minute
	// DefaultWriteTimeout bounds writing one reply.
	DefaultWriteTimeout = time.Minute
)

// Server is the configuration of the server side of STARTTLS. The zero
// value offers no STARTTLS. A Server is safe for concurrent use and must not
// be modified after first use.
type Server struct {
	// TLSConfig holds the server's certificates. If nil, STARTTLS is not
	// advertised and the STARTTLS command gets 454 (RFC 3207 §4). Client
	// certificates are requested as TLSConfig.ClientAuth says.
	TLSConfig *tls.Config

	// Required makes TLS mandatory: before STARTTLS, every command but
	// NOOP, EHLO, HELO, STARTTLS and QUIT gets "530 5.7.0 Must issue a
	// STARTTLS command first" (RFC 3207 §4).
	//
	// RFC 3207 §4 forbids this on a publicly referenced server (port 25 of a
	// host named by an MX record, or by the A record of a domain without
	// MX): such a server "MUST NOT require use of the STARTTLS extension in
	// order to deliver mail locally". Use it for submission and for private
	// relays only; for MX hosts, publish MTA-STS or DANE instead.
	Required bool

	// HandshakeTimeout bounds the TLS handshake after the 220. 0 means
	// DefaultServerHandshakeTimeout (1 minute).
	HandshakeTimeout time.Duration

	// VerifyClient, if set, checks the client's certificates inside the
	// handshake (after TLSConfig's own checks); an error fails the
	// handshake, which closes the connection. Use it with
	// TLSConfig.ClientAuth set to tls.RequestClientCert or stricter.
	VerifyClient func(cs tls.ConnectionState) error

	// ReadTimeout bounds the wait for each command line. 0 means
	// DefaultReadTimeout (5 minutes).
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of each reply. 0 means
	// DefaultWriteTimeout (1 minute).
	WriteTimeout time.Duration
	// MaxLineLength bounds command lines and message data lines, CRLF
	// included. 0 means 2048; values above 4096 mean 4096. RFC 5321
	// §4.5.3.1.4 allows 512 plus what extensions add.
	MaxLineLength int
}

// Offered reports whether a session in the given TLS state may advertise
// STARTTLS: only when a certificate is configured and TLS is not active yet
// (RFC 3207 §4.2: a server MUST NOT advertise STARTTLS after TLS).
func (s *Server) Offered(tlsActive bool) bool {
	return s != nil && s.TLSConfig != nil && !tlsActive
}

// Keywords returns the EHLO keywords to advertise: keywords, without any
// STARTTLS among them, plus STARTTLS when Offered(tlsActive). Use it for every
// EHLO reply so that the rule of RFC 3207 §4.2 holds in one place.
func (s *Server) Keywords(tlsActive bool, keywords ...string) []string {
	out := make([]string, 0, len(keywords)+1)
	for _, k := range keywords {
		if kw, _, _ := cutWord(k); !equalFold(kw, "STARTTLS") {
			out = append(out, k)
		}
	}
	if s.Offered(tlsActive) {
		out = append(out, "STARTTLS")
	}
	return out
}

// Gate applies Required: it returns the 530 reply for a command (its verb,
// in any case) that must wait for TLS, and nil when the command may run.
func (s *Server) Gate(verb string, tlsActive bool) *smtpsec.ReplyError {
	if s == nil || !s.Required || tlsActive {
		return nil
	}
	for _, v := range [...]string{"NOOP", "EHLO", "HELO", "STARTTLS", "QUIT"} {
		if equalFold(verb, v) {
			return nil
		}
	}
	return &smtpsec.ReplyError{Reply: ReplyMustIssueSTARTTLS()}
}

// ReplyMustIssueSTARTTLS returns "530 5.7.0 Must issue a STARTTLS command
// first" (RFC 3207 §4).
func ReplyMustIssueSTARTTLS() smtpsec.Reply {
	return smtpsec.Reply{Code: 530, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 0}, Text: "Must issue a STARTTLS command first"}
}

// ServerConn is one server-side SMTP connection: the transport (plaintext
// or TLS), a bounded command reader, and the caller's per-session state S,
// which StartTLS resets. Build one per accepted connection with
// NewServerConn; it is not safe for concurrent use.
//
// Keep in State everything the session learns from the client (EHLO name,
// MAIL and RCPT, AUTH identity, parameters such as REQUIRETLS). RFC 3207
// §4.2 requires the server to forget all of it at STARTTLS; StartTLS does so
// by setting State to its zero value, so forgetting cannot be forgotten.
// Keep configuration and other things that must survive outside State.
type ServerConn[S any] struct {
	// State is the caller's per-session state, zeroed by a successful
	// StartTLS.
	State S

	srv  *Server
	raw  net.Conn
	conn net.Conn
	tls  *tls.Conn
	r    *smtpwire.Reader
	wbuf []byte
	// the read and write deadlines last set, zero for none
	readDL, writeDL time.Time
}

// NewServerConn wraps an accepted connection. If conn is a *tls.Conn (an
// implicit-TLS listener, RFC 8314), TLS counts as active from the start and
// STARTTLS is neither offered nor accepted; the caller runs its handshake.
// AcceptTLS does that handshake with the Server's bounds and VerifyClient,
// and is the way to serve implicit TLS.
func NewServerConn[S any](srv *Server, conn net.Conn) *ServerConn[S] {
	if srv == nil {
		srv = &Server{}
	}
	c := &ServerConn[S]{srv: srv, raw: conn, conn: conn}
	if tc, ok := conn.(*tls.Conn); ok {
		c.tls = tc
		c.raw = tc.NetConn()
	}
	c.r = smtpwire.NewReader(c.conn, smtpwire.Limits{MaxLineLength: srv.MaxLineLength})
	return c
}

// TLS returns the TLS connection state, and false before TLS.
func (c *ServerConn[S]) TLS() (tls.ConnectionState, bool) {
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return c.tls.ConnectionState(), true
}

// TLSActive reports whether the connection runs inside TLS.
func (c *ServerConn[S]) TLSActive() bool { return c.tls != nil }

// Conn returns the current transport: the *tls.Conn after STARTTLS.
func (c *ServerConn[S]) Conn() net.Conn { return c.conn }

// Keywords is Server.Keywords for this connection's TLS state.
func (c *ServerConn[S]) Keywords(keywords ...string) []string {
	return c.srv.Keywords(c.tls != nil, keywords...)
}

// Gate is Server.Gate for this connection's TLS state.
func (c *ServerConn[S]) Gate(verb string) *smtpsec.ReplyError {
	return c.srv.Gate(verb, c.tls != nil)
}

// setDeadline bounds the next read or write by d (default def) and ctx's
// deadline. A connection deadline costs timer updates, so one already set
// that is at most d/64 earlier than the new target is kept: the bound only
// ever tightens, and by at most 1/64.
func (c *ServerConn[S]) setDeadline(ctx context.Context, d, def time.Duration, write bool) {
	d = orDefault(d, def)
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	last := &c.readDL
	if write {
		last = &c.writeDL
	}
	if !last.IsZero() && !last.After(t) && t.Sub(*last) < d/64 {
		return
	}
	*last = t
	if write {
		_ = c.raw.SetWriteDeadline(t)
	} else {
		_ = c.raw.SetReadDeadline(t)
	}
}

// resetDeadlines forgets the deadlines last set, after the connection's
// deadlines were changed directly.
func (c *ServerConn[S]) resetDeadlines() { c.readDL, c.writeDL = time.Time{}, time.Time{} }

// Command is one command line read by ReadCommand.
type Command struct {
	// Verb is the command verb in upper case, such as "EHLO" or "MAIL".
	Verb string
	// Arg is the rest of the line after the verb and one space, with
	// trailing spaces removed: "FROM:<a@example.test> SIZE=10" for MAIL.
	Arg string
}

// Errors of the bounded SMTP reader and writer, matched with errors.Is: on
// the server, of ReadCommand and ReadData; on the client, of a Session's
// Command, WriteCommand, ReadReply and Data, and causes inside an *Error.
var (
	// ErrSyntax: a malformed line. On a server, a command line with a bad
	// verb or a CR or NUL inside: the line was consumed, reply 500 5.5.2
	// and go on. On a client, a malformed reply (the session is over), or a
	// command holding CR, LF or NUL (refused unsent).
	ErrSyntax = errors.New("starttls: malformed SMTP line")
	// ErrLineTooLong: a command, reply or data line exceeded its limit.
	// The stream is out of step: the session is over.
	ErrLineTooLong = errors.New("starttls: line too long")
	// ErrReplyTooLarge: a reply had more lines or octets than allowed.
	ErrReplyTooLarge = errors.New("starttls: reply too large")
	// ErrMessageTooLarge: message data exceeded ReadData's limit. The data
	// was read to its end; reply 552 5.3.4 and go on.
	ErrMessageTooLarge = errors.New("starttls: message too large")
	// ErrBareLineEnding: a CR or LF outside a CRLF pair in message data
	// (RFC 5321 §2.3.8, the SMTP smuggling class). ReadData: reply 550
	// 5.5.2 and go on; Session.Data: nothing was sent.
	ErrBareLineEnding = errors.New("starttls: bare CR or LF in message data")
)

// readError gives a reader's error the kind callers match, keeping the
// reader's error (and the line it quotes) as the cause.
type readError struct{ kind, err error }

func (e *readError) Error() string   { return e.err.Error() }
func (e *readError) Unwrap() []error { return []error{e.kind, e.err} }

// wireError classifies an error of the bounded reader.
func wireError(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range [...]struct{ wire, kind error }{
		{smtpwire.ErrSyntax, ErrSyntax},
		{smtpwire.ErrLineTooLong, ErrLineTooLong},
		{smtpwire.ErrTooManyLines, ErrReplyTooLarge},
		{smtpwire.ErrReplyTooLarge, ErrReplyTooLarge},
		{smtpwire.ErrMessageTooLarge, ErrMessageTooLarge},
		{smtpwire.ErrBareLineEnding, ErrBareLineEnding},
	} {
		if errors.Is(err, k.wire) {
			return &readError{kind: k.kind, err: err}
		}
	}
	return err
}

// ReadCommand reads the next command line, bounded by ReadTimeout, ctx and
// MaxLineLength. An error matching ErrSyntax means the line was
// consumed and a 500 reply is due; ErrLineTooLong, io.EOF and any other
// error end the session.
func (c *ServerConn[S]) ReadCommand(ctx context.Context) (Command, error) {
	c.setDeadline(ctx, c.srv.ReadTimeout, DefaultReadTimeout, false)
	cmd, err := c.r.ReadCommand()
	return Command(cmd), ctxErr(ctx, wireError(err))
}

// ReadData reads message data after a 354 reply, up to max octets (0: 10
// MiB), bounded by ReadTimeout for the whole message. Errors matching
// ErrMessageTooLarge and ErrBareLineEnding leave the session usable; any
// other error ends it.
func (c *ServerConn[S]) ReadData(ctx context.Context, max int64) ([]byte, error) {
	c.setDeadline(ctx, c.srv.ReadTimeout, DefaultReadTimeout, false)
	msg, err := c.r.ReadData(max)
	return msg, ctxErr(ctx, wireError(err))
}

// Reply writes r with a single write, however many lines it has.
func (c *ServerConn[S]) Reply(ctx context.Context, r smtpsec.Reply) error {
	c.wbuf = smtpwire.AppendReply(c.wbuf[:0], r)
	c.setDeadline(ctx, c.srv.WriteTimeout, DefaultWriteTimeout, true)
	_, err := c.conn.Write(c.wbuf)
	return ctxErr(ctx, err)
}

// WriteRaw writes precomputed reply bytes (for example a constant EHLO
// reply) with a single write. b must be one or more complete replies.
func (c *ServerConn[S]) WriteRaw(ctx context.Context, b []byte) error {
	c.setDeadline(ctx, c.srv.WriteTimeout, DefaultWriteTimeout, true)
	_, err := c.conn.Write(b)
	return ctxErr(ctx, err)
}

// Close closes the connection.
func (c *ServerConn[S]) Close() error { return c.conn.Close() }

// ErrHandshakeFailed wraps the cause of a failed server-side handshake;
// StartTLS has closed the connection.
var ErrHandshakeFailed = errors.New("starttls: server TLS handshake failed")

// StartTLS carries out a STARTTLS command whose argument (after the verb)
// is arg. It returns:
//
//   - nil after writing "220 2.0.0 Ready to start TLS" and completing the
//     handshake: the session is now inside TLS, State has been reset to its
//     zero value (RFC 3207 §4.2), and the client must EHLO again;
//   - a *smtpsec.ReplyError for the caller to send, the session going on
//     unchanged, when the command is refused: 501 5.5.4 for an argument (RFC
//     3207 §4), 503 5.5.1 when TLS is already active (§4.2; after an
//     earlier STARTTLS, or from the start under AcceptTLS), 454 4.7.0 when
//     no certificate is configured (§4), and 503 5.5.1 when the client sent
//     more after STARTTLS without waiting for the 220 (see below);
//   - any other error when the session is over and the connection closed:
//     the handshake failed (ErrHandshakeFailed), timed out, or the reply
//     could not be written. A failed handshake never falls back to
//     plaintext: the client may have sent commands meant for TLS.
//
// Pipelined plaintext after STARTTLS is never executed. RFC 3207 §4 and RFC
// 2920 §3.1 make STARTTLS the last command of a group, so a client has no
// business sending anything but a TLS ClientHello after it, and only after
// the 220. If bytes are already buffered when STARTTLS is read, the upgrade
// is refused with 503 and those bytes are discarded unparsed: they are
// either a client bug or a man in the middle appending commands to be run
// inside the client's TLS session (CVE-2011-0411). Failing rather than
// silently dropping them (Postfix) or feeding them into the handshake (mox)
// gives the client a reply that says what went wrong, and keeps the rule
// simple: nothing pipelined behind STARTTLS is ever parsed. Bytes that
// arrive later, after the 220, go into the TLS handshake, which fails on
// them, closing the connection.
func (c *ServerConn[S]) StartTLS(ctx context.Context, arg string) error {
	switch {
	case arg != "":
		return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 501, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 4}, Text: "Syntax: STARTTLS (no parameters allowed)"}}
	case c.tls != nil:
		return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 503, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 1}, Text: "TLS already active"}}
	case c.srv.TLSConfig == nil:
		return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 454, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 0}, Text: "TLS not available"}}
	case c.r.Buffered() > 0:
		c.r.Discard()
		return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 503, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 1}, Text: "STARTTLS must be the last command in a group; pipelined commands discarded"}}
	}
	if err := c.WriteRaw(ctx, []byte("220 2.0.0 Ready to start TLS\r\n")); err != nil {
		_ = c.raw.Close()
		return err
	}
	if err := c.handshake(ctx); err != nil {
		return err
	}
	// RFC 3207 §4.2: back to the initial state; nothing learnt survives.
	var zero S
	c.State = zero
	return nil
}

// handshake runs the server TLS handshake on the raw connection with the
// Server's TLSConfig and VerifyClient, bounded by HandshakeTimeout and ctx,
// and moves the connection onto TLS. StartTLS (after its 220) and
// AcceptTLS (at once) share it. On failure the connection is closed and the
// error wraps ErrHandshakeFailed.
func (c *ServerConn[S]) handshake(ctx context.Context) error {
	cfg := c.srv.TLSConfig
	if c.srv.VerifyClient != nil {
		cfg = cfg.Clone()
		next, verify := cfg.VerifyConnection, c.srv.VerifyClient
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if next != nil {
				if err := next(cs); err != nil {
					return err
				}
			}
			return verify(cs)
		}
	}
	tc := tls.Server(c.raw, cfg)
	// The handshake is bounded by HandshakeTimeout and ctx's deadline
	// through the connection deadline, and interrupted by ctx's
	// cancellation; this costs no goroutine per handshake, unlike
	// HandshakeContext.
	dl := time.Now().Add(orDefault(c.srv.HandshakeTimeout, DefaultServerHandshakeTimeout))
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.raw.SetDeadline(dl)
	c.resetDeadlines()
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
	}
	err := tc.Handshake()
	if !stop() || err != nil {
		_ = c.raw.Close()
		if err == nil {
			err = ctx.Err()
		}
		return &handshakeFailure{err: ctxErr(ctx, err)}
	}
	// The handshake deadline stays until the next read or write sets its
	// own, which it will: both are later than this one by more than 1/64.
	c.readDL, c.writeDL = dl, dl
	c.conn, c.tls = tc, tc
	c.r.Reset(tc)
	return nil
}

type handshakeFailure struct{ err error }

func (e *handshakeFailure) Error() string   { return ErrHandshakeFailed.Error() + ": " + e.err.Error() }
func (e *handshakeFailure) Unwrap() []error { return []error{ErrHandshakeFailed, e.err} }

// cutWord splits s at its first space.
func cutWord(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// equalFold is ASCII case-insensitive equality.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
