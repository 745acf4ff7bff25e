// Package smtpserver is a small SMTP receiver (RFC 5321) built on
// starttls.ServerConn: EHLO, HELO, STARTTLS, MAIL, RCPT, DATA, RSET, NOOP
// and QUIT, in plaintext, after STARTTLS, or inside implicit TLS from the
// first byte (RFC 8314, Config.ImplicitTLS). Tests and interop peers use it
// as the far end of a delivery; its hooks let them observe every command,
// judge MAIL and RCPT parameters (the requiretls package plugs its checks
// in there) and collect messages.
//
// It is not a mail server: no queue, no AUTH, no BDAT, no relay policy.
// Everything it reads is bounded (line length, message size, recipients,
// timeouts), and every reply is written with one write.
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/starttls"
)

// Config configures a receiver. The zero value serves plaintext SMTP as
// "localhost" and accepts every message.
type Config struct {
	// Hostname is the name in the greeting and the EHLO reply. If empty,
	// "localhost".
	Hostname string
	// TLS is the STARTTLS configuration (certificates, Required, timeouts,
	// line length). If nil, STARTTLS is not offered and gets 454.
	TLS *starttls.Server
	// ImplicitTLS serves TLS from the first byte (RFC 8314 §3, port 465):
	// every connection starts with a TLS handshake under TLS (certificates,
	// HandshakeTimeout, VerifyClient) through starttls.AcceptTLS, and the
	// greeting is sent inside TLS. STARTTLS is then neither advertised nor
	// accepted (503 5.5.1). A client speaking plaintext has its connection
	// closed without a byte of SMTP. It needs TLS.TLSConfig; without it
	// every connection is closed at once.
	ImplicitTLS bool
	// MaxMessageSize bounds message data, and is advertised with SIZE. 0
	// means 10 MiB.
	MaxMessageSize int64
	// MaxRecipients bounds RCPT per transaction; more get 452 4.5.3 (RFC
	// 5321 §4.5.3.1.10). 0 means 100.
	MaxRecipients int
	// Keywords, if set, returns extra EHLO keywords for a session in the
	// given TLS state (e.g. "REQUIRETLS" only inside TLS). STARTTLS is
	// added or withheld by the TLS configuration, never by this hook.
	Keywords func(tlsActive bool) []string
	// UTF8 admits UTF-8 in MAIL and RCPT paths and parameters (RFC 6531).
	UTF8 bool

	// OnCommand, if set, is called for every command line read, before it
	// is executed, with the session's TLS state.
	OnCommand func(cmd smtpwire.Command, tlsActive bool)
	// OnHandshakeError, if set, is called with the error of
	// starttls.AcceptTLS under ImplicitTLS (a failed or timed-out handshake,
	// or ErrServerNoCertificate), after the connection was closed.
	OnHandshakeError func(err error)
	// Mail, if set, judges a syntactically valid MAIL FROM; a non-nil reply
	// error rejects it.
	Mail func(ctx context.Context, s *Session, cmd *esmtp.Command) *smtpsec.ReplyError
	// Rcpt, if set, judges a syntactically valid RCPT TO.
	Rcpt func(ctx context.Context, s *Session, cmd *esmtp.Command) *smtpsec.ReplyError
	// Deliver, if set, receives every accepted message; a non-nil reply
	// error rejects it.
	Deliver func(ctx context.Context, m *Message) *smtpsec.ReplyError
}

// Session is what a hook may know of the session: its TLS state and what
// the client said since the last EHLO.
type Session struct {
	// Helo is the EHLO or HELO argument.
	Helo string
	// ESMTP reports whether the client used EHLO.
	ESMTP bool
	// Mail is the current transaction's MAIL FROM, nil outside one.
	Mail *esmtp.Command
	// Rcpts are the accepted recipients of the current transaction.
	Rcpts []*esmtp.Command
	// TLS is the TLS state, nil in plaintext. It is not part of the state
	// that STARTTLS resets: it is what STARTTLS sets.
	TLS *tls.ConnectionState
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
}

// Message is one received message.
type Message struct {
	Session
	// Data is the message with CRLF line endings, dot-stuffing removed.
	Data []byte
}

// state is what RFC 3207 §4.2 makes the server forget at STARTTLS.
type state struct {
	helo  string
	esmtp bool
	mail  *esmtp.Command
	rcpts []*esmtp.Command
	// mailLine is the MAIL FROM line limit for the extensions advertised in
	// the last EHLO reply (esmtp.MailLineLimit); 0 before EHLO or after
	// HELO, meaning RFC 5321's 512.
	mailLine int
}

func (c *Config) hostname() string {
	if c.Hostname == "" {
		return "localhost"
	}
	return c.Hostname
}

// reply builds a reply with an enhanced status code (RFC 2034: every reply
// once ENHANCEDSTATUSCODES is advertised). RFC 3463: X.5.1 is an invalid
// command or one out of sequence, X.5.2 a syntax error, X.5.4 bad
// arguments; X.5.5 (wrong protocol version) is not for syntax errors.
func reply(code, subject, detail int, text string) smtpsec.Reply {
	return smtpsec.Reply{Code: code, Enhanced: smtpsec.Enhanced(subject, detail), Text: text}
}

// ServeConn runs one SMTP session on conn until QUIT, an error, or ctx
// ends, and closes conn.
func (c *Config) ServeConn(ctx context.Context, conn net.Conn) {
	tc := c.TLS
	if tc == nil {
		tc = &starttls.Server{}
	}
	var sc *starttls.ServerConn[state]
	if c.ImplicitTLS {
		// RFC 8314 §3: the handshake comes first; nothing is written in
		// plaintext, and a failure closes the connection (AcceptTLS did).
		var err error
		if sc, err = starttls.AcceptTLS[state](ctx, tc, conn); err != nil {
			if c.OnHandshakeError != nil {
				c.OnHandshakeError(err)
			}
			return
		}
	} else {
		sc = starttls.NewServerConn[state](tc, conn)
	}
	defer sc.Close()
	maxSize := c.MaxMessageSize
	if maxSize <= 0 {
		maxSize = 10 << 20
	}
	maxRcpt := c.MaxRecipients
	if maxRcpt <= 0 {
		maxRcpt = 100
	}
	host := c.hostname()
	if sc.Reply(ctx, smtpsec.Reply{Code: 220, Text: host + " ESMTP smtpsec"}) != nil {
		return
	}
	session := func() *Session {
		s := &Session{Helo: sc.State.helo, ESMTP: sc.State.esmtp, Mail: sc.State.mail, Rcpts: sc.State.rcpts, RemoteAddr: conn.RemoteAddr()}
		if cs, ok := sc.TLS(); ok {
			s.TLS = &cs
		}
		return s
	}
	// EHLO keywords by TLS state, computed once per session unless a
	// Keywords hook may change them.
	var ehloKeywords [2][]string
	for {
		cmd, err := sc.ReadCommand(ctx)
		if err != nil {
			if errors.Is(err, starttls.ErrSyntax) {
				if sc.Reply(ctx, reply(500, 5, 2, "Syntax error")) != nil {
					return
				}
				continue
			}
			if errors.Is(err, starttls.ErrLineTooLong) {
				_ = sc.Reply(ctx, reply(500, 5, 2, "Line too long"))
			}
			return
		}
		if c.OnCommand != nil {
			c.OnCommand(smtpwire.Command(cmd), sc.TLSActive())
		}
		if re := sc.Gate(cmd.Verb); re != nil {
			if sc.Reply(ctx, re.Reply) != nil {
				return
			}
			continue
		}
		var (
			r  smtpsec.Reply
			ok bool
		)
		switch cmd.Verb {
		case "EHLO", "HELO":
			if cmd.Arg == "" || strings.ContainsAny(cmd.Arg, " \t") {
				r = reply(501, 5, 2, "Syntax: "+cmd.Verb+" hostname")
				break
			}
			// RFC 5321 §4.1.4: EHLO resets the transaction.
			sc.State = state{helo: cmd.Arg, esmtp: cmd.Verb == "EHLO"}
			if cmd.Verb == "HELO" {
				r = smtpsec.Reply{Code: 250, Text: host}
				break
			}
			if ehloKeywords[b2i(sc.TLSActive())] == nil || c.Keywords != nil {
				kws := []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE " + itoa(maxSize)}
				if c.UTF8 {
					kws = append(kws, "SMTPUTF8")
				}
				if c.Keywords != nil {
					kws = append(kws, c.Keywords(sc.TLSActive())...)
				}
				ehloKeywords[b2i(sc.TLSActive())] = sc.Keywords(kws...)
			}
			kws := ehloKeywords[b2i(sc.TLSActive())]
			sc.State.mailLine = mailLineLimit(kws)
			r = smtpwire.EHLOReply(host, "greets "+cmd.Arg, kws)
		case "STARTTLS":
			err := sc.StartTLS(ctx, cmd.Arg)
			var re *smtpsec.ReplyError
			switch {
			case err == nil:
				continue
			case errors.As(err, &re):
				r = re.Reply
			default:
				return
			}
		case "MAIL":
			if sc.State.helo == "" {
				r = reply(503, 5, 1, "Send EHLO first")
				break
			}
			if sc.State.mail != nil {
				r = reply(503, 5, 1, "Nested MAIL command")
				break
			}
			// RFC 5321 §4.5.3.1.4 and the raises of the advertised
			// extensions (RFC 1870 SIZE, RFC 8689 §2 REQUIRETLS).
			m, err := esmtp.ParseCommand("MAIL "+cmd.Arg, esmtp.Options{UTF8: c.UTF8, MaxLine: sc.State.mailLine})
			if r, ok = syntaxReply(err, m, esmtp.Mail); !ok {
				break
			}
			if c.Mail != nil {
				if re := c.Mail(ctx, session(), m); re != nil {
					r = re.Reply
					break
				}
			}
			sc.State.mail = m
			r = reply(250, 1, 0, "OK")
		case "RCPT":
			if sc.State.mail == nil {
				r = reply(503, 5, 1, "Need MAIL command")
				break
			}
			if len(sc.State.rcpts) >= maxRcpt {
				r = reply(452, 5, 3, "Too many recipients")
				break
			}
			// RFC 5321 §4.5.3.1.4: 512 octets; no advertised extension
			// raises the RCPT line.
			m, err := esmtp.ParseCommand("RCPT "+cmd.Arg, esmtp.Options{UTF8: c.UTF8})
			if r, ok = syntaxReply(err, m, esmtp.Rcpt); !ok {
				break
			}
			if c.Rcpt != nil {
				if re := c.Rcpt(ctx, session(), m); re != nil {
					r = re.Reply
					break
				}
			}
			sc.State.rcpts = append(sc.State.rcpts, m)
			r = reply(250, 1, 5, "OK")
		case "DATA":
			if cmd.Arg != "" {
				r = reply(501, 5, 5, "Syntax: DATA")
				break
			}
			if len(sc.State.rcpts) == 0 {
				r = reply(503, 5, 1, "Need RCPT command")
				break
			}
			if sc.Reply(ctx, smtpsec.Reply{Code: 354, Text: "End data with <CR><LF>.<CR><LF>"}) != nil {
				return
			}
			data, err := sc.ReadData(ctx, maxSize)
			switch {
			case errors.Is(err, smtpwire.ErrMessageTooLarge):
				r = reply(552, 3, 4, "Message too large")
			case errors.Is(err, smtpwire.ErrBareLineEnding):
				// RFC 5321 §2.3.8: CRLF only (the SMTP smuggling class).
				r = reply(550, 5, 2, "Bare CR or LF in message data")
			case err != nil:
				return
			default:
				r = reply(250, 0, 0, "OK: queued")
				if c.Deliver != nil {
					if re := c.Deliver(ctx, &Message{Session: *session(), Data: data}); re != nil {
						r = re.Reply
					}
				}
			}
			sc.State.mail, sc.State.rcpts = nil, nil
		case "RSET":
			sc.State.mail, sc.State.rcpts = nil, nil
			r = reply(250, 0, 0, "OK")
		case "NOOP":
			r = reply(250, 0, 0, "OK")
		case "QUIT":
			_ = sc.Reply(ctx, reply(221, 0, 0, "Bye"))
			return
		default:
			r = reply(502, 5, 1, "Command not implemented")
		}
		if sc.Reply(ctx, r) != nil {
			return
		}
	}
}

// mailLineLimit is esmtp.MailLineLimit for the advertised EHLO keywords
// (with their parameters, as "SIZE 10485760").
func mailLineLimit(keywords []string) int {
	kws := make([]string, len(keywords))
	for i, k := range keywords {
		kws[i], _, _ = strings.Cut(k, " ")
	}
	return esmtp.MailLineLimit(kws...)
}

// syntaxReply turns the outcome of parsing a MAIL or RCPT line into the
// reply to send when it failed: the esmtp error's own Reply (500 5.5.2 for a
// line too long, 501 5.5.2 or 5.5.4 for bad syntax or parameters), or 501
// 5.5.2 when the line parsed as another verb. ok means m may be used.
func syntaxReply(err error, m *esmtp.Command, want esmtp.Verb) (smtpsec.Reply, bool) {
	var se *esmtp.SyntaxError
	switch {
	case errors.As(err, &se):
		return se.Reply(), false
	case err != nil || m.Verb != want:
		return reply(501, 5, 2, "Syntax: "+string(want)+":<address> [parameters]"), false
	}
	return smtpsec.Reply{}, true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Serve accepts connections on ln and serves each until ctx is done, then
// closes ln and every open connection and returns once all sessions have
// ended. It returns nil after ctx ends, or the listener's error.
func (c *Config) Serve(ctx context.Context, ln net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		mu.Lock()
		for conn := range conns {
			_ = conn.Close()
		}
		mu.Unlock()
	})
	defer stop()
	var err error
	for {
		conn, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = aerr
			}
			break
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			_ = conn.Close()
			break
		}
		conns[conn] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.ServeConn(ctx, conn)
			mu.Lock()
			delete(conns, conn)
			mu.Unlock()
		}()
	}
	cancel()
	wg.Wait()
	return err
}

// Start serves c on a new listener on 127.0.0.1 and returns its address. At
// the test's cleanup it stops the server and waits for every session.
func Start(t testing.TB, c *Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtpserver: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("smtpserver: %v", err)
		}
	})
	return ln.Addr().String()
}
