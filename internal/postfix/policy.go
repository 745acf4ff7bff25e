package postfix

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/smtpsec/smtpsec"
)

// MaxPolicyAttributes bounds the attributes of one policy request. Postfix
// 3.7 sends about 30.
const MaxPolicyAttributes = 256

// PolicyRequest is one SMTPD access policy request: the name=value
// attributes Postfix sends (SMTPD_POLICY_README, "Protocol description").
// When a name is sent twice the first value is kept, which the protocol
// allows.
type PolicyRequest struct {
	attrs map[string]string
	order []string
}

// Get returns the value of the attribute name, "" when it was not sent
// (Postfix also sends "" or "0" for unavailable values).
func (r *PolicyRequest) Get(name string) string { return r.attrs[name] }

// Has reports whether the attribute name was sent.
func (r *PolicyRequest) Has(name string) bool {
	_, ok := r.attrs[name]
	return ok
}

// Names returns the attribute names in the order they were received.
func (r *PolicyRequest) Names() []string { return append([]string(nil), r.order...) }

// Len returns the number of distinct attributes.
func (r *PolicyRequest) Len() int { return len(r.order) }

// NewPolicyRequest builds a request from name=value pairs, as a handler
// test would receive it. Later duplicates are ignored.
func NewPolicyRequest(pairs ...string) *PolicyRequest {
	r := &PolicyRequest{attrs: make(map[string]string, len(pairs)/2)}
	for i := 0; i+1 < len(pairs); i += 2 {
		r.set(pairs[i], pairs[i+1])
	}
	return r
}

func (r *PolicyRequest) set(name, value string) {
	if _, dup := r.attrs[name]; dup {
		return
	}
	r.attrs[name] = value
	r.order = append(r.order, name)
}

// AppendTo appends r in wire form, as Postfix sends it: name=value lines and
// an empty line. Names and values holding a newline or NUL, and names
// holding '=' or empty, are left out.
func (r *PolicyRequest) AppendTo(b []byte) []byte {
	for _, n := range r.order {
		v := r.attrs[n]
		if n == "" || strings.ContainsAny(n, "=\n\x00") || strings.ContainsAny(v, "\n\x00") {
			continue
		}
		b = append(b, n...)
		b = append(b, '=')
		b = append(b, v...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

// ReadPolicyRequest reads one policy request from br: name=value lines,
// each ended by LF (a CR before it is removed), up to an empty line. The
// whole request, line ends included, must fit in max octets (0 means
// DefaultPolicyRequestSize) and hold at most MaxPolicyAttributes
// attributes.
//
// It returns io.EOF when br ends before the first octet of a request. Other
// errors: io.ErrUnexpectedEOF when br ends inside a request; a
// *ProtocolError wrapping ErrMalformed (a line without '=', an empty name,
// a NUL) or ErrTooLarge; or the reader's error. After a *ProtocolError the
// stream is out of step and should be closed.
func ReadPolicyRequest(br *bufio.Reader, max int) (*PolicyRequest, error) {
	if max <= 0 {
		max = DefaultPolicyRequestSize
	}
	const proto = "policy"
	// The attributes are collected in one buffer and turned into one
	// string, of which names and values are substrings: a few allocations
	// per request instead of two per attribute.
	type span struct{ start, eq, end int }
	var (
		buf       = make([]byte, 0, 1024)
		spans     = make([]span, 0, 40)
		n         int
		lineStart int // where the current line starts in buf
	)
	for {
		line, err := br.ReadSlice('\n')
		n += len(line)
		if n > max {
			return nil, tooLarge(proto, n, "request longer than "+strconv.Itoa(max)+" octets")
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, line...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n == 0 {
					return nil, io.EOF
				}
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		// The line, without its LF, is buf[start:]; an earlier part of a
		// long line may already be in buf.
		start := lineStart
		buf = append(buf, line[:len(line)-1]...)
		if len(buf) > start && buf[len(buf)-1] == '\r' {
			buf = buf[:len(buf)-1]
		}
		if len(buf) == start {
			break
		}
		eq := -1
		for i, c := range buf[start:] {
			if c == 0 {
				return nil, malformed(proto, n, "NUL in attribute")
			}
			if c == '=' && eq < 0 {
				eq = start + i
			}
		}
		if eq < 0 {
			return nil, malformed(proto, n, "line without '='")
		}
		if eq == start {
			return nil, malformed(proto, n, "empty attribute name")
		}
		if len(spans) >= 4*MaxPolicyAttributes {
			return nil, tooLarge(proto, n, "more than "+strconv.Itoa(MaxPolicyAttributes)+" attributes")
		}
		spans = append(spans, span{start, eq, len(buf)})
		lineStart = len(buf)
	}
	all := string(buf)
	r := &PolicyRequest{attrs: make(map[string]string, len(spans)), order: make([]string, 0, len(spans))}
	for _, sp := range spans {
		name := all[sp.start:sp.eq]
		if len(r.order) >= MaxPolicyAttributes {
			if _, dup := r.attrs[name]; !dup {
				return nil, tooLarge(proto, n, "more than "+strconv.Itoa(MaxPolicyAttributes)+" attributes")
			}
		}
		r.set(name, all[sp.eq+1:sp.end])
	}
	return r, nil
}

// Action is the value of a policy reply's action attribute: any action of
// Postfix's access(5) tables, such as "DUNNO", "PREPEND header: value",
// "550 5.7.23 text" or "DEFER_IF_PERMIT text". It must be one line.
type Action string

// Common actions.
const (
	// Dunno lets Postfix go on with the next restriction.
	Dunno Action = "DUNNO"
)

// maxActionLength bounds an action; Postfix's SMTP replies and header
// lines stay well inside it.
const maxActionLength = 4000

// Valid returns nil when a can be sent: not empty, at most 4000 octets, and
// free of CR, LF and NUL. The error wraps ErrInvalidAction.
func (a Action) Valid() error {
	switch {
	case a == "":
		return &ProtocolError{Proto: "policy", Detail: "empty action", Err: ErrInvalidAction}
	case len(a) > maxActionLength:
		return &ProtocolError{Proto: "policy", Detail: "action longer than 4000 octets", Err: ErrInvalidAction}
	case strings.ContainsAny(string(a), "\r\n\x00"):
		return &ProtocolError{Proto: "policy", Detail: "line break or NUL in action", Err: ErrInvalidAction}
	}
	return nil
}

// Prepend returns a PREPEND action that adds field, a header field such as
// spf.Outcome.ReceivedSPF returns. A folded field is unfolded (each CRLF
// or LF followed by white space becomes one space), because an action is
// one line; other control characters become spaces. Postfix folds a long
// header line again when it relays the message (smtp_line_length_limit).
func Prepend(field string) Action {
	var b strings.Builder
	b.Grow(len("PREPEND ") + len(field))
	b.WriteString("PREPEND ")
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == '\r' || c == '\n':
			// Swallow the line break and the white space after it.
			for i+1 < len(field) && (field[i+1] == '\r' || field[i+1] == '\n' || field[i+1] == ' ' || field[i+1] == '\t') {
				i++
			}
			b.WriteByte(' ')
		case c < ' ' && c != '\t' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return Action(b.String())
}

// Reply returns an action that answers the SMTP client with r: "550 5.7.23
// text". Postfix accepts 4xx and 5xx codes here (access(5)); other codes
// are rendered as 451. Multi-line text is joined with spaces, and control
// characters are replaced.
func Reply(r smtpsec.Reply) Action {
	if r.Class() != 4 && r.Class() != 5 {
		r.Code = 451
	}
	lines := r.Lines()
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Code))
	for i, l := range lines {
		if i > 0 && !r.Enhanced.IsZero() {
			// Every line but the first repeats the enhanced code.
			_, l, _ = strings.Cut(l, " ")
		}
		if l != "" {
			b.WriteByte(' ')
			b.WriteString(l)
		}
	}
	s := b.String()
	if len(s) > maxActionLength {
		s = s[:maxActionLength]
	}
	return Action(s)
}

// PolicyHandler decides one policy request. A non-nil error means the
// request could not be decided: the server logs it and closes the
// connection without a reply, as SMTPD_POLICY_README asks of a policy
// server in trouble; Postfix then retries and finally applies
// smtpd_policy_service_default_action.
type PolicyHandler func(ctx context.Context, req *PolicyRequest) (Action, error)

// PolicyServer serves the Postfix SMTPD policy delegation protocol
// (check_policy_service). The zero value answers DUNNO to every request.
type PolicyServer struct {
	// Handler decides each request. nil answers DUNNO.
	Handler PolicyHandler
	// Limits bounds connections and requests; the zero value gives the
	// defaults.
	Limits Limits
	// Logger receives a Warn record for each malformed request or failed
	// handler and a Debug record for each request. nil is silent.
	Logger *slog.Logger
}

// Serve serves connections from ln until ctx ends, then shuts down
// gracefully (see [Limits.ShutdownTimeout]) and returns nil. It returns
// the listener's error if accepting fails for another reason. ln is
// closed when Serve returns.
func (s *PolicyServer) Serve(ctx context.Context, ln net.Listener) error {
	return serve(ctx, ln, s.Limits.withDefaults(DefaultPolicyRequestSize), s.Logger, "policy", func(hctx context.Context, c *conn) error {
		req, err := ReadPolicyRequest(c.br, c.lim.MaxRequestSize)
		if err != nil {
			// SMTPD_POLICY_README: a policy server in trouble logs a
			// warning and disconnects without a reply.
			return readFailed(err)
		}
		act, err := s.decide(hctx, c.lim, req)
		if err != nil {
			return err
		}
		c.logger.Debug("policy request", "state", req.Get("protocol_state"), "client", req.Get("client_address"), "action", string(act))
		// One reply attribute and an empty line.
		buf := make([]byte, 0, len("action=")+len(act)+2)
		buf = append(buf, "action="...)
		buf = append(buf, act...)
		buf = append(buf, '\n', '\n')
		return c.reply(buf)
	})
}

func (s *PolicyServer) decide(hctx context.Context, lim Limits, req *PolicyRequest) (Action, error) {
	if s.Handler == nil {
		return Dunno, nil
	}
	ctx, cancel := context.WithTimeout(hctx, lim.HandlerTimeout)
	defer cancel()
	act, err := s.Handler(ctx, req)
	if err != nil {
		return "", err
	}
	if err := act.Valid(); err != nil {
		return "", err
	}
	return act, nil
}
