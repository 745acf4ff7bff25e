package smtpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/smtpsec/smtpsec"
)

// MaxLineLimit is the largest line limit a Reader accepts, CRLF included.
const MaxLineLimit = 4096

// Defaults for zero Limits fields.
const (
	DefaultMaxLineLength = 2048
	DefaultMaxLines      = 100
	DefaultMaxReplyBytes = 64 << 10
)

// Limits bounds what a Reader accepts. The zero value selects the defaults.
type Limits struct {
	// MaxLineLength is the longest line accepted, CRLF included. 0 means
	// DefaultMaxLineLength (2048, four times RFC 5321 §4.5.3.1.5's 512, as
	// real servers exceed it); values above MaxLineLimit mean MaxLineLimit,
	// and values below 64 mean 64.
	MaxLineLength int
	// MaxLines is the largest number of lines in one reply. 0 means
	// DefaultMaxLines (100; EHLO replies seen in the wild have under 30).
	MaxLines int
	// MaxReplyBytes bounds the total size of one reply. 0 means
	// DefaultMaxReplyBytes (64 KiB).
	MaxReplyBytes int
}

func (l Limits) normalize() Limits {
	switch {
	case l.MaxLineLength == 0:
		l.MaxLineLength = DefaultMaxLineLength
	case l.MaxLineLength > MaxLineLimit:
		l.MaxLineLength = MaxLineLimit
	case l.MaxLineLength < 64:
		l.MaxLineLength = 64
	}
	if l.MaxLines <= 0 {
		l.MaxLines = DefaultMaxLines
	}
	if l.MaxReplyBytes <= 0 {
		l.MaxReplyBytes = DefaultMaxReplyBytes
	}
	return l
}

// Reader reads SMTP replies, command lines and message data from a stream,
// within its Limits. It buffers at most one line.
type Reader struct {
	br  *bufio.Reader
	lim Limits
}

// NewReader returns a Reader on r with limits l.
func NewReader(r io.Reader, l Limits) *Reader {
	l = l.normalize()
	return &Reader{br: bufio.NewReaderSize(r, l.MaxLineLength), lim: l}
}

// Reset discards any buffered data and makes the Reader read from r, keeping
// its buffer and limits. Use it when the transport changes under the
// dialogue, as at STARTTLS.
func (r *Reader) Reset(src io.Reader) { r.br.Reset(src) }

// Buffered returns the number of bytes read from the stream but not yet
// consumed. After a STARTTLS command or its 220 reply it must be zero: any
// buffered byte was sent in plaintext after the point where only TLS may
// follow (RFC 3207 §4, §6).
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Limits returns the Reader's limits, with defaults filled in.
func (r *Reader) Limits() Limits { return r.lim }

// Discard drops all buffered bytes and returns how many there were.
func (r *Reader) Discard() int {
	n := r.br.Buffered()
	_, _ = r.br.Discard(n)
	return n
}

// line returns the next line including its line end. The slice is valid
// until the next read. At a clean end of stream it returns io.EOF; in the
// middle of a line, io.ErrUnexpectedEOF.
func (r *Reader) line() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	switch {
	case err == nil:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, syntaxError(line, "line longer than "+strconv.Itoa(r.lim.MaxLineLength)+" octets", ErrLineTooLong)
	case errors.Is(err, io.EOF) && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	default:
		return nil, err
	}
}

// crlfLine returns the next line without its CRLF; any other line ending or
// a CR or LF inside the line is ErrBareLineEnding.
func (r *Reader) crlfLine() ([]byte, error) {
	line, err := r.line()
	if err != nil {
		return nil, err
	}
	n := len(line)
	if n < 2 || line[n-2] != '\r' || bytes.IndexByte(line[:n-2], '\r') >= 0 {
		return nil, syntaxError(line, "line not ended by CRLF", ErrBareLineEnding)
	}
	return line[:n-2], nil
}

// ReadReply reads one reply, single- or multi-line (RFC 5321 §4.2.1):
//
//	Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//	                Reply-code [ SP textstring ] CRLF
//
// Every line must carry the same code, which must be 2xx to 5xx, and hold no
// control character but HT. An enhanced
// status code (RFC 3463) at the start of the first line's text, with the
// reply's class, is returned in Reply.Enhanced and removed from every line
// that starts with it. Lines are joined with "\n" in Reply.Text.
//
// Errors: io.EOF when the stream ends before a reply starts,
// io.ErrUnexpectedEOF inside one, a *SyntaxError wrapping ErrSyntax,
// ErrBareLineEnding, ErrLineTooLong, ErrTooManyLines or ErrReplyTooLarge,
// or the stream's error. After any error but io.EOF, close the connection.
func (r *Reader) ReadReply() (smtpsec.Reply, error) {
	var (
		reply smtpsec.Reply
		text  []byte
		total int
		enh   string // enhanced code prefix as sent, e.g. "2.0.0"
	)
	for n := 1; ; n++ {
		line, err := r.crlfLine()
		if err != nil {
			if n > 1 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return smtpsec.Reply{}, err
		}
		total += len(line) + 2
		if n > r.lim.MaxLines {
			return smtpsec.Reply{}, syntaxError(line, "more than "+strconv.Itoa(r.lim.MaxLines)+" lines", ErrTooManyLines)
		}
		if total > r.lim.MaxReplyBytes {
			return smtpsec.Reply{}, syntaxError(line, "reply over "+strconv.Itoa(r.lim.MaxReplyBytes)+" octets", ErrReplyTooLarge)
		}
		code, ok := parseCode(line)
		if !ok || hasControl(line) {
			return smtpsec.Reply{}, syntaxError(line, "malformed reply line", ErrSyntax)
		}
		last := true
		var body []byte
		if len(line) > 3 {
			switch line[3] {
			case '-':
				last = false
			case ' ':
			default:
				return smtpsec.Reply{}, syntaxError(line, "malformed reply line", ErrSyntax)
			}
			body = line[4:]
		}
		if n == 1 {
			reply.Code = code
			if e, s, ok := parseEnhanced(body, code/100); ok {
				reply.Enhanced, enh = e, s
			}
		} else if code != reply.Code {
			return smtpsec.Reply{}, syntaxError(line, "reply code changed inside a multi-line reply", ErrSyntax)
		}
		if enh != "" && bytes.HasPrefix(body, []byte(enh)) {
			switch {
			case len(body) == len(enh):
				body = nil
			case body[len(enh)] == ' ':
				body = body[len(enh)+1:]
			}
		}
		if n == 1 && last {
			reply.Text = string(body)
			return reply, nil
		}
		if n > 1 {
			text = append(text, '\n')
		}
		text = append(text, body...)
		if last {
			reply.Text = string(text)
			return reply, nil
		}
	}
}

// hasControl reports whether b holds a control character other than HT:
// RFC 5321 §4.2 textstring is HT, SP and printable characters (and UTF-8,
// RFC 6531 §3.7.4.1). Rejecting them keeps escape sequences out of logs.
func hasControl(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// parseCode parses a reply code: the first digit 2 to 5, the second 0 to 5,
// the third 0 to 9 (RFC 5321 §4.2).
func parseCode(line []byte) (int, bool) {
	if len(line) < 3 {
		return 0, false
	}
	a, b, c := line[0], line[1], line[2]
	if a < '2' || a > '5' || b < '0' || b > '5' || c < '0' || c > '9' {
		return 0, false
	}
	return int(a-'0')*100 + int(b-'0')*10 + int(c-'0'), true
}

// parseEnhanced parses "class.subject.detail" followed by SP or the end of
// text (RFC 3463 §2, RFC 2034 §4), where class must match the reply's.
func parseEnhanced(b []byte, class int) (smtpsec.EnhancedCode, string, bool) {
	if class != 2 && class != 4 && class != 5 {
		return smtpsec.EnhancedCode{}, "", false
	}
	if len(b) < 5 || int(b[0]-'0') != class || b[1] != '.' {
		return smtpsec.EnhancedCode{}, "", false
	}
	i := 2
	subject, i, ok := digits(b, i)
	if !ok || i >= len(b) || b[i] != '.' {
		return smtpsec.EnhancedCode{}, "", false
	}
	detail, j, ok := digits(b, i+1)
	if !ok || (j < len(b) && b[j] != ' ') {
		return smtpsec.EnhancedCode{}, "", false
	}
	return smtpsec.Enhanced(subject, detail), string(b[:j]), true
}

// digits parses one to three decimal digits at b[i:].
func digits(b []byte, i int) (int, int, bool) {
	v, start := 0, i
	for i < len(b) && i-start < 3 && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
	}
	if i == start || (i < len(b) && b[i] >= '0' && b[i] <= '9') {
		return 0, i, false
	}
	return v, i, true
}

// Command is one command line read by a server.
type Command struct {
	// Verb is the command verb in upper case, such as "EHLO" or "MAIL".
	Verb string
	// Arg is the rest of the line after the verb and one space, with
	// trailing spaces removed: "FROM:<a@example.test> SIZE=10" for MAIL.
	Arg string
}

// ReadCommand reads one command line (RFC 5321 §4.1.1): a verb of one to
// sixteen ASCII letters, then optionally a space and an argument. The line
// ends with CRLF or, as a documented leniency, a bare LF; a CR anywhere else
// and a NUL are errors. The verb is returned in upper case.
//
// Errors: io.EOF at a clean end of stream, io.ErrUnexpectedEOF, a
// *SyntaxError wrapping ErrLineTooLong (close the connection) or ErrSyntax
// (reply 500 and go on: the line was consumed), or the stream's error.
func (r *Reader) ReadCommand() (Command, error) {
	line, err := r.line()
	if err != nil {
		return Command{}, err
	}
	body := line[:len(line)-1]
	if n := len(body); n > 0 && body[n-1] == '\r' {
		body = body[:n-1]
	}
	if bytes.IndexByte(body, '\r') >= 0 || bytes.IndexByte(body, 0) >= 0 {
		return Command{}, syntaxError(line, "CR or NUL in command line", ErrSyntax)
	}
	verb, arg := body, []byte(nil)
	if i := bytes.IndexByte(body, ' '); i >= 0 {
		verb, arg = body[:i], bytes.TrimRight(body[i+1:], " ")
	}
	if len(verb) == 0 || len(verb) > 16 {
		return Command{}, syntaxError(line, "malformed command verb", ErrSyntax)
	}
	var up [16]byte
	for i, c := range verb {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z':
		default:
			return Command{}, syntaxError(line, "malformed command verb", ErrSyntax)
		}
		up[i] = c
	}
	cmd := Command{Verb: verbString(up[:len(verb)])}
	if len(arg) > 0 {
		cmd.Arg = string(arg)
	}
	return cmd, nil
}

// knownVerbs are returned without allocating.
var knownVerbs = [...]string{"EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "STARTTLS", "VRFY", "EXPN", "HELP", "AUTH", "BDAT", "LHLO"}

func verbString(b []byte) string {
	for _, v := range knownVerbs {
		if string(b) == v {
			return v
		}
	}
	return string(b)
}

// ReadData reads message data after a 354 reply, up to and including the
// line "." (RFC 5321 §4.5.2), removes dot-stuffing and returns the message
// with CRLF line endings. Data beyond max octets is read and dropped; the
// result is then ErrMessageTooLarge. A bare CR or LF anywhere is
// ErrBareLineEnding, reported after the end of data, so the session stays in
// step either way: only CRLF "." CRLF ends the data.
//
// A max of 0 or less means 10 MiB.
func (r *Reader) ReadData(max int64) ([]byte, error) {
	if max <= 0 {
		max = 10 << 20
	}
	var (
		msg     []byte
		tooBig  bool
		badLine []byte
	)
	for {
		line, err := r.line()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		n := len(line)
		bare := n < 2 || line[n-2] != '\r' || bytes.IndexByte(line[:n-2], '\r') >= 0
		if !bare && n == 3 && line[0] == '.' {
			break
		}
		if bare && badLine == nil {
			badLine = append([]byte(nil), line...)
		}
		if line[0] == '.' {
			line = line[1:] // RFC 5321 §4.5.2: remove the added dot
		}
		if int64(len(msg)+len(line)) > max {
			tooBig = true
			msg = msg[:0]
			continue
		}
		if !tooBig {
			msg = append(msg, line...)
		}
	}
	switch {
	case badLine != nil:
		return nil, syntaxError(badLine, "bare CR or LF in message data", ErrBareLineEnding)
	case tooBig:
		return nil, ErrMessageTooLarge
	}
	return msg, nil
}

// ValidateCommand reports whether line can be sent as one command line: it
// must not contain CR, LF or NUL, so that no caller-supplied text can end the
// line and start a command of its own. It returns a *SyntaxError wrapping
// ErrSyntax.
func ValidateCommand(line string) error {
	if strings.ContainsAny(line, "\r\n\x00") {
		return syntaxError([]byte(line), "CR, LF or NUL in command", ErrSyntax)
	}
	return nil
}

// AppendCommand appends line and CRLF to dst.
func AppendCommand(dst []byte, line string) []byte {
	dst = append(dst, line...)
	return append(dst, '\r', '\n')
}
