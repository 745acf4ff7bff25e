package starttls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
)

// Default client timeouts, used when the Client fields are zero.
const (
	// DefaultGreetingTimeout is RFC 5321 §4.5.3.2.1's initial 220 timeout.
	DefaultGreetingTimeout = 5 * time.Minute
	// DefaultCommandTimeout bounds each command's write and reply, as RFC
	// 5321 §4.5.3.2.2 does for MAIL.
	DefaultCommandTimeout = 5 * time.Minute
	// DefaultHandshakeTimeout bounds the TLS handshake, as mox does.
	DefaultHandshakeTimeout = time.Minute
)

// MaxLineLength is the largest reply line limit a Client accepts (CRLF
// included); larger settings are lowered to it.
const MaxLineLength = 4096

// MaxLineLength is the bounded reader's own ceiling: a compile error if
// they ever differ.
const _ = uint(MaxLineLength-smtpwire.MaxLineLimit) + uint(smtpwire.MaxLineLimit-MaxLineLength)

// Client is the configuration of an SMTP client's STARTTLS upgrade. The zero
// value is ready to use. A Client is safe for concurrent use and must not be
// modified after first use.
type Client struct {
	// Hostname is the name sent with EHLO (RFC 5321 §4.1.1.1). If empty,
	// "localhost" is used.
	Hostname string

	// TLSConfig is the base TLS configuration (client certificates, key
	// exchange groups, session cache, Time), cloned for every upgrade. Its
	// verification settings are replaced by the Policy's; see
	// Policy.TLSConfig. If nil, crypto/tls defaults are used.
	TLSConfig *tls.Config

	// GreetingTimeout bounds the wait for the 220 greeting. 0 means
	// DefaultGreetingTimeout (5 minutes).
	GreetingTimeout time.Duration
	// CommandTimeout bounds each command: writing it and reading its whole
	// reply. 0 means DefaultCommandTimeout (5 minutes). A reply trickling in
	// a byte at a time ends with the timeout, not after it.
	CommandTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake. 0 means
	// DefaultHandshakeTimeout (1 minute).
	HandshakeTimeout time.Duration

	// MaxLineLength bounds reply lines, CRLF included. 0 means 2048;
	// values above MaxLineLength (4096) mean MaxLineLength.
	MaxLineLength int
	// MaxLines bounds the lines of one reply. 0 means 100. Replies are
	// also limited to 64 KiB in all.
	MaxLines int

	// Dialer connects DialImplicitTLS. If nil, a zero net.Dialer is used.
	// A zero Timeout means DefaultDialTimeout (30 seconds).
	Dialer *net.Dialer
}

func (c *Client) hostname() string {
	if c == nil || c.Hostname == "" {
		return "localhost"
	}
	return c.Hostname
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (c *Client) limits() smtpwire.Limits {
	if c == nil {
		return smtpwire.Limits{}
	}
	return smtpwire.Limits{MaxLineLength: c.MaxLineLength, MaxLines: c.MaxLines}
}

// Upgrade runs the client side of an SMTP session up to a protected state
// on conn, a fresh connection to serverName (the host name the policy
// verifies, usually the MX name), under policy p (nil means the zero Policy:
// Verify). Within this one call it:
//
//  1. reads the 220 greeting;
//  2. sends EHLO and checks that STARTTLS is advertised (RFC 3207 §3);
//  3. sends STARTTLS and reads its 220 (RFC 3207 §4);
//  4. fails if any byte follows that 220 before the handshake
//     (ErrPlaintextInjection): such bytes were sent in plaintext to be read
//     as if they came inside TLS;
//  5. runs the TLS handshake and p's verification, bounded by
//     HandshakeTimeout and ctx;
//  6. discards everything learnt so far (RFC 3207 §4.2) and sends a fresh
//     EHLO inside TLS.
//
// It returns a Session positioned after that EHLO, whose Extensions are the
// post-TLS ones only. Every step is bounded by its timeout and by ctx.
//
// Level None stops after step 2 and returns a plaintext Session. Level May
// does the same when STARTTLS is not advertised or is refused, and says why
// in Session.PlaintextReason; a failure from step 4 on closes the
// connection and returns an *Error with RetryPlaintext set, because
// continuing on a socket after its 220 to STARTTLS is never safe. Every
// other level is mandatory: any failure returns an *Error and no Session.
//
// On error, conn has been closed (after a best-effort QUIT when the server
// had answered, and never while a TLS handshake was pending), and the
// error is an *Error: match its
// kind with errors.Is (ErrNotOffered, ErrRefused, ErrHandshake,
// ErrCertificate, ErrProtocol, ErrConnection, ErrRejected, ErrPolicy), and
// report it with Error.Result.
func (c *Client) Upgrade(ctx context.Context, conn net.Conn, serverName string, p *Policy) (*Session, error) {
	u, err := c.begin(ctx, conn, serverName, p)
	if err != nil {
		return nil, err
	}
	defer u.stop()
	p = u.p

	// RFC 5321 §4.5.3.2.1: bounded wait for the greeting.
	if e := u.greeting(); e != nil {
		return u.finish(e, e.Kind == ErrRejected)
	}
	s := u.s
	ehlo, err := s.command2(ctx, "EHLO ", u.host)
	if err != nil {
		return u.fail(ioError(err))
	}
	if ehlo.Code != 250 {
		if p.Level.Mandatory() {
			// No EHLO, no STARTTLS (RFC 3207 §3).
			return u.failQuit(&Error{Kind: ErrNotOffered, Result: ResultSTARTTLSNotSupported, Reply: &ehlo})
		}
		helo, err := s.command2(ctx, "HELO ", u.host)
		if err != nil {
			return u.fail(ioError(err))
		}
		if helo.Code != 250 {
			return u.failQuit(&Error{Kind: ErrRejected, Reply: &helo})
		}
		s.ext = parseExtensions(smtpsec.Reply{Code: 250, Text: helo.Text})
		s.ext.list = nil
		if p.Level == May {
			s.plain = &Error{Kind: ErrNotOffered, Result: ResultSTARTTLSNotSupported, Level: May, Reply: &ehlo}
		}
		return s.ready(), nil
	}
	ext := parseExtensions(ehlo)
	if p.Level == None {
		s.ext = ext
		return s.ready(), nil
	}
	if !ext.Has("STARTTLS") {
		e := &Error{Kind: ErrNotOffered, Result: ResultSTARTTLSNotSupported, Level: p.Level}
		if p.Level.Mandatory() {
			return u.failQuit(e)
		}
		s.ext, s.plain = ext, e
		return s.ready(), nil
	}

	reply, err := s.command2(ctx, "STARTTLS", "")
	if err != nil {
		return u.fail(ioError(err))
	}
	if reply.Code != 220 {
		// RFC 3207 §4: after a refusal the client decides; a mandatory level
		// gives up (temporarily, whatever the code), may goes on in plaintext.
		e := &Error{Kind: ErrRefused, Result: ResultSTARTTLSNotSupported, Level: p.Level, Reply: &reply}
		if p.Level.Mandatory() {
			return u.failQuit(e)
		}
		s.ext, s.plain = ext, e
		return s.ready(), nil
	}
	// From here on, a failure under May asks the caller to reconnect in
	// plaintext: this connection is past its 220 to STARTTLS.
	u.retry = p.Level == May
	// RFC 3207 §6: nothing may follow the 220 but TLS. Bytes already read
	// came in plaintext and would be taken as replies from inside TLS.
	if n := s.r.Buffered(); n > 0 {
		return u.fail(&Error{Kind: ErrProtocol, Result: ResultValidationFailure, Err: ErrPlaintextInjection})
	}
	if e := u.handshake(); e != nil {
		return u.fail(e)
	}
	// RFC 3207 §4.2: discard all knowledge from the server; start over with
	// EHLO inside TLS.
	return u.ehloInTLS()
}

// upgrade is one Upgrade or ImplicitTLS in progress: the steps both share
// (validation, the bounded TLS handshake under the Policy, the EHLO inside
// TLS, failure handling), so that the two paths cannot drift apart.
type upgrade struct {
	c          *Client
	ctx        context.Context
	p          *Policy
	s          *Session
	host       string
	serverName string
	// retry sets Error.RetryPlaintext on failures (level May, past the 220).
	retry bool
	// auth receives the authentication the handshake's verification achieved.
	auth Authentication
	stop func() bool
}

// begin validates the policy and the EHLO name and sets up the session on
// conn. On error conn has been closed and the error is an *Error.
func (c *Client) begin(ctx context.Context, conn net.Conn, serverName string, p *Policy) (*upgrade, error) {
	if p == nil {
		p = &Policy{}
	}
	u := &upgrade{
		c: c, ctx: ctx, p: p, serverName: serverName, host: c.hostname(),
		s: &Session{
			raw:     conn,
			conn:    conn,
			level:   p.Level,
			timeout: orDefault(c.commandTimeout(), DefaultCommandTimeout),
		},
		stop: func() bool { return true },
	}
	if err := p.validate(serverName); err != nil {
		_, err := u.fail(&Error{Kind: ErrPolicy, Err: err})
		return nil, err
	}
	if err := smtpwire.ValidateCommand(u.host); err != nil || strings.ContainsAny(u.host, " \t") {
		_, err := u.fail(&Error{Kind: ErrPolicy, Err: errors.New("invalid EHLO hostname")})
		return nil, err
	}
	if ctx.Done() != nil {
		u.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	}
	u.s.r = smtpwire.NewReader(conn, c.limits())
	return u, nil
}

// fail closes the connection without QUIT and returns e, completed.
func (u *upgrade) fail(e *Error) (*Session, error) { return u.finish(e, false) }

// failQuit is fail after a best-effort QUIT: the server answered, and RFC
// 3207 §4.1 says a client not satisfied SHOULD send QUIT. It goes inside TLS
// when the handshake completed, and never waits.
func (u *upgrade) failQuit(e *Error) (*Session, error) { return u.finish(e, true) }

func (u *upgrade) finish(e *Error, quit bool) (*Session, error) {
	e.Level = u.p.Level
	if u.retry {
		e.RetryPlaintext = true
	}
	if err := ctxDone(u.ctx); err != nil && (e.Kind == ErrConnection || e.Kind == ErrHandshake) {
		e.Err = err
	}
	s := u.s
	if quit {
		_ = s.raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = s.conn.Write([]byte("QUIT\r\n"))
	}
	_ = s.conn.Close()
	return nil, e
}

// greeting reads the 220 greeting, bounded by GreetingTimeout (RFC 5321
// §4.5.3.2.1), on whatever transport the session has now. A reply other
// than 220 is ErrRejected: the server spoke, so the caller says QUIT.
func (u *upgrade) greeting() *Error {
	s := u.s
	s.setDeadline(u.ctx, orDefault(u.c.greetingTimeout(), DefaultGreetingTimeout))
	greet, err := s.r.ReadReply()
	if err != nil {
		return ioError(err)
	}
	if greet.Code != 220 {
		return &Error{Kind: ErrRejected, Reply: &greet}
	}
	return nil
}

// handshake runs the client TLS handshake on the raw connection under the
// Policy, bounded by HandshakeTimeout and ctx, and moves the session onto
// TLS. The reader must hold no buffered byte (checked by the callers).
func (u *upgrade) handshake() *Error {
	s := u.s
	tc := tls.Client(s.raw, u.p.tlsConfig(u.c.baseTLS(), u.serverName, &u.auth))
	// Bounded by the connection deadline; ctx's cancellation reaches it
	// through the AfterFunc of begin, without HandshakeContext's goroutine.
	s.setDeadline(u.ctx, orDefault(u.c.handshakeTimeout(), DefaultHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return handshakeError(err)
	}
	s.conn, s.tls = tc, tc
	// The reader keeps its buffer, which is empty.
	s.r.Reset(tc)
	return nil
}

// ehloInTLS sends EHLO inside TLS and returns the ready Session, whose
// Extensions are those of this reply only (RFC 3207 §4.2).
func (u *upgrade) ehloInTLS() (*Session, error) {
	s := u.s
	ehlo, err := s.command2(u.ctx, "EHLO ", u.host)
	if err != nil {
		return u.fail(ioError(err))
	}
	if ehlo.Code != 250 {
		return u.failQuit(&Error{Kind: ErrRejected, Reply: &ehlo})
	}
	s.ext = parseExtensions(ehlo)
	s.auth = u.auth
	return s.ready(), nil
}

func (c *Client) commandTimeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.CommandTimeout
}

func (c *Client) greetingTimeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.GreetingTimeout
}

func (c *Client) handshakeTimeout() time.Duration {
	if c == nil {
		return 0
	}
	return c.HandshakeTimeout
}

func (c *Client) baseTLS() *tls.Config {
	if c == nil {
		return nil
	}
	return c.TLSConfig
}

// validate checks, before anything is sent, that p can be applied.
func (p *Policy) validate(serverName string) error {
	switch p.Level {
	case None, May, Encrypt:
	case Verify, MTASTS:
		if len(p.Names) == 0 && serverName == "" {
			return errNoNames
		}
	case Fingerprint:
		if len(p.Pins) == 0 {
			return errNoPins
		}
	case DANE, DANEOnly:
		if p.Verifier == nil {
			return errNoVerifier
		}
	default:
		return errors.New("unknown level " + p.Level.String())
	}
	return nil
}

// ioError classifies an error from reading or writing the dialogue.
func ioError(err error) *Error {
	var se *smtpwire.SyntaxError
	if errors.As(err, &se) {
		return &Error{Kind: ErrProtocol, Result: ResultValidationFailure, Err: wireError(err)}
	}
	return &Error{Kind: ErrConnection, Err: wireError(err)}
}

// handshakeError classifies an error from the TLS handshake: the policy's own
// *Error from VerifyConnection, or a handshake failure.
func handshakeError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		return &c
	}
	return &Error{Kind: ErrHandshake, Result: ResultValidationFailure, Err: err}
}

// Session is an SMTP session after Upgrade: the connection (TLS, unless the
// level allowed plaintext), what the TLS handshake established, the server's
// extensions as advertised inside TLS, and a bounded way to go on with the
// dialogue. A Session is not safe for concurrent use.
type Session struct {
	raw     net.Conn
	conn    net.Conn
	tls     *tls.Conn
	r       *smtpwire.Reader
	wbuf    []byte
	ext     Extensions
	auth    Authentication
	level   Level
	plain   error
	timeout time.Duration
	state   tls.ConnectionState
	dl      time.Time // the connection deadline last set, zero for none
}

// ready finishes a successful Upgrade: deadlines cleared, state recorded.
func (s *Session) ready() *Session {
	s.dl = time.Time{}
	_ = s.raw.SetDeadline(time.Time{})
	if s.tls != nil {
		s.state = s.tls.ConnectionState()
	}
	return s
}

// Conn returns the connection: the *tls.Conn after a successful upgrade, the
// plaintext connection otherwise. Read replies through the Session, not from
// Conn, so that limits apply and nothing buffered is lost.
func (s *Session) Conn() net.Conn { return s.conn }

// ConnectionState returns the TLS connection state, and false in plaintext.
func (s *Session) ConnectionState() (tls.ConnectionState, bool) {
	return s.state, s.tls != nil
}

// Encrypted reports whether the session runs inside TLS.
func (s *Session) Encrypted() bool { return s.tls != nil }

// PlaintextReason returns why a level-May session is in plaintext: an *Error
// of kind ErrNotOffered or ErrRefused, to log or report. It is nil for TLS
// sessions and for level None.
func (s *Session) PlaintextReason() error { return s.plain }

// Extensions returns the extensions of the server's last EHLO reply: inside
// TLS, the post-TLS reply only.
func (s *Session) Extensions() Extensions { return s.ext }

// Authentication returns how the server was authenticated.
func (s *Session) Authentication() Authentication { return s.auth }

// Level returns the level the session was established under.
func (s *Session) Level() Level { return s.level }

// setDeadline bounds the next exchange by d and by ctx's deadline. A
// connection deadline costs timer updates (often a wake-up of the network
// poller), so one already set that is at most d/64 earlier than the new
// target is kept: the bound only ever tightens, and by at most 1/64.
func (s *Session) setDeadline(ctx context.Context, d time.Duration) {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	if !s.dl.IsZero() && !s.dl.After(t) && t.Sub(s.dl) < d/64 {
		return
	}
	s.dl = t
	_ = s.raw.SetDeadline(t)
}

// command2 writes verb+arg as one command line and reads its reply.
func (s *Session) command2(ctx context.Context, verb, arg string) (smtpsec.Reply, error) {
	s.setDeadline(ctx, s.timeout)
	s.wbuf = append(append(append(s.wbuf[:0], verb...), arg...), '\r', '\n')
	if _, err := s.conn.Write(s.wbuf); err != nil {
		return smtpsec.Reply{}, err
	}
	return s.r.ReadReply()
}

// watch makes ctx's cancellation interrupt blocked I/O. Call the returned
// function when the I/O is done.
func (s *Session) watch(ctx context.Context) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() { _ = s.raw.SetDeadline(time.Unix(1, 0)) })
	return func() {
		if !stop() {
			s.dl = time.Time{} // the deadline was moved to the past
		}
	}
}

// Command sends line (without CRLF) and reads the reply, bounded by the
// command timeout, ctx and the reply limits. A line holding CR, LF or NUL
// is refused unsent. After an error other than a refused line the session
// is unusable: close it.
func (s *Session) Command(ctx context.Context, line string) (smtpsec.Reply, error) {
	if err := s.WriteCommand(ctx, line); err != nil {
		return smtpsec.Reply{}, err
	}
	return s.ReadReply(ctx)
}

// WriteCommand sends one command line without reading its reply, for
// pipelining (RFC 2920); read the replies in order with ReadReply.
func (s *Session) WriteCommand(ctx context.Context, line string) error {
	if err := smtpwire.ValidateCommand(line); err != nil {
		return wireError(err)
	}
	defer s.watch(ctx)()
	s.setDeadline(ctx, s.timeout)
	s.wbuf = smtpwire.AppendCommand(s.wbuf[:0], line)
	_, err := s.conn.Write(s.wbuf)
	return ctxErr(ctx, err)
}

// ReadReply reads one reply, bounded as Command is.
func (s *Session) ReadReply(ctx context.Context) (smtpsec.Reply, error) {
	defer s.watch(ctx)()
	s.setDeadline(ctx, s.timeout)
	r, err := s.r.ReadReply()
	return r, ctxErr(ctx, wireError(err))
}

// ctxErr returns ctx's error in place of err when ctx ended: the I/O error is
// then only the way the cancellation or deadline reached the connection.
func ctxErr(ctx context.Context, err error) error {
	if err != nil {
		if cerr := ctxDone(ctx); cerr != nil {
			return cerr
		}
	}
	return err
}

// ctxDone returns ctx.Err(), or context.DeadlineExceeded when ctx's deadline
// has passed but its timer has not fired yet (connection deadlines are set
// from it, and may fire first).
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// Data sends DATA, then msg (which must use CRLF line endings) dot-stuffed
// and terminated (RFC 5321 §4.5.2), and returns the server's reply to the
// message. A reply other than 354 to DATA is returned as it is, with no
// error; a bare CR or LF in msg is an error and nothing is sent.
func (s *Session) Data(ctx context.Context, msg []byte) (smtpsec.Reply, error) {
	body, err := appendData(nil, msg)
	if err != nil {
		return smtpsec.Reply{}, wireError(err)
	}
	r, err := s.Command(ctx, "DATA")
	if err != nil || r.Code != 354 {
		return r, err
	}
	done := s.watch(ctx)
	s.setDeadline(ctx, s.timeout)
	_, err = s.conn.Write(body)
	done()
	if err != nil {
		return smtpsec.Reply{}, ctxErr(ctx, err)
	}
	return s.ReadReply(ctx)
}

// appendData appends msg dot-stuffed, with the final "." line.
func appendData(dst, msg []byte) ([]byte, error) {
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i+1], msg[i+1:]
		} else {
			msg = nil
		}
		body := bytes.TrimSuffix(line, []byte("\r\n"))
		if bytes.IndexByte(body, '\r') >= 0 || bytes.IndexByte(body, '\n') >= 0 {
			return nil, smtpwire.ErrBareLineEnding
		}
		if len(body) > 0 && body[0] == '.' {
			dst = append(dst, '.')
		}
		dst = append(append(dst, body...), '\r', '\n')
	}
	return append(dst, ".\r\n"...), nil
}

// Quit sends QUIT, waits (bounded) for the reply, and closes the
// connection. The QUIT reply is not checked: the session is over either way.
func (s *Session) Quit(ctx context.Context) error {
	_, err := s.Command(ctx, "QUIT")
	cerr := s.Close()
	if err != nil {
		return err
	}
	return cerr
}

// Close closes the connection without QUIT.
func (s *Session) Close() error { return s.conn.Close() }
