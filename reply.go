package smtpsec

import (
	"strconv"
	"strings"
)

// EnhancedCode is the subject and detail of an RFC 3463 enhanced status code,
// without its class digit: EnhancedCode{Subject: 7, Detail: 30} is written
// "X.7.30", where X is the first digit of the reply code it travels with (RFC
// 3463 §2). Keeping the class out of the value means a Reply cannot carry a
// 5xx code with a 4.x.x enhanced code.
//
// The zero value means "no enhanced code". The code X.0.0 ("other undefined
// status", as in "250 2.0.0 OK") has subject and detail 0 too, so it is made
// with [Enhanced](0, 0), which marks it as present. Write other codes either
// way; Enhanced(7, 30) == EnhancedCode{Subject: 7, Detail: 30}.
type EnhancedCode struct {
	Subject int // 0 to 999; RFC 3463 §2 defines 0 to 7
	Detail  int // 0 to 999

	// other is set only for X.0.0, which subject and detail alone cannot
	// tell from the zero value; every other code keeps it false, so that
	// each code has one representation and == compares codes.
	other bool
}

// Enhanced returns the enhanced status code subject.detail. Enhanced(0, 0) is
// X.0.0, not the zero value.
func Enhanced(subject, detail int) EnhancedCode {
	return EnhancedCode{Subject: subject, Detail: detail, other: subject == 0 && detail == 0}
}

// IsZero reports whether e is the zero value, meaning no enhanced code.
func (e EnhancedCode) IsZero() bool { return e == EnhancedCode{} }

// String returns e without its class digit, as "7.30". The zero value returns "".
func (e EnhancedCode) String() string {
	if e.IsZero() {
		return ""
	}
	return strconv.Itoa(e.Subject) + "." + strconv.Itoa(e.Detail)
}

// valid reports whether e fits RFC 3463 §2: subject and detail of one to three digits.
func (e EnhancedCode) valid() bool {
	return e.Subject >= 0 && e.Subject <= 999 && e.Detail >= 0 && e.Detail <= 999
}

// Reply is an SMTP reply: a three-digit code (RFC 5321 §4.2), an optional
// enhanced status code (RFC 2034, RFC 3463) and human-readable text. Text may
// hold several lines separated by "\n"; each becomes one line of a multi-line
// reply.
type Reply struct {
	Code     int          // 200 to 599
	Enhanced EnhancedCode // the zero value omits the enhanced code
	Text     string
}

// Class returns the first digit of the reply code: 2, 3, 4 or 5.
func (r Reply) Class() int { return r.Code / 100 }

// Temporary reports whether r is a transient negative completion reply (4xx,
// RFC 5321 §4.2.1), after which the client may try again later.
func (r Reply) Temporary() bool { return r.Class() == 4 }

// Permanent reports whether r is a permanent negative completion reply (5xx).
func (r Reply) Permanent() bool { return r.Class() == 5 }

// Lines returns the text lines of r as they go on the wire, each without the
// reply code and without CRLF. The text is split at every CR, LF or CRLF, and
// any other control character is replaced by a space, so that no caller-supplied
// text can end a reply line early or inject a reply of its own (RFC 5321 §4.2).
func (r Reply) Lines() []string {
	text := strings.ReplaceAll(r.Text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	raw := strings.Split(text, "\n")
	lines := make([]string, len(raw))
	prefix := ""
	if cls := r.Class(); !r.Enhanced.IsZero() && r.Enhanced.valid() && (cls == 2 || cls == 4 || cls == 5) {
		// RFC 2034 §4: the enhanced code starts the text of every line of the reply.
		prefix = strconv.Itoa(cls) + "." + r.Enhanced.String()
	}
	for i, l := range raw {
		l = sanitize(l)
		switch {
		case prefix != "" && l != "":
			l = prefix + " " + l
		case prefix != "":
			l = prefix
		}
		lines[i] = l
	}
	return lines
}

// sanitize replaces control characters other than horizontal tab with a space.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// code returns the reply code as three digits; codes outside 200 to 599 are
// rendered as 451 (local error), since they are not replies a client can act on.
func (r Reply) code() string {
	if r.Code < 200 || r.Code > 599 {
		return "451"
	}
	return strconv.Itoa(r.Code)
}

// String returns r in wire form: every line is "CODE-text" except the last,
// which is "CODE text", and each ends in CRLF (RFC 5321 §4.2.1). A line with no
// text is the bare code. The result is always a well-formed reply, whatever Text
// holds.
func (r Reply) String() string {
	var b strings.Builder
	code := r.code()
	lines := r.Lines()
	for i, l := range lines {
		b.WriteString(code)
		switch {
		case i < len(lines)-1:
			b.WriteByte('-')
		case l != "":
			b.WriteByte(' ')
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// ReplyError is an error that an SMTP server should report to its peer as
// Reply. Err, when not nil, is the underlying cause, for logs and errors.Is.
// Adapt it to a server library with errors.As, for example:
//
//	var re *smtpsec.ReplyError
//	if errors.As(err, &re) {
//		return &smtp.SMTPError{Code: re.Code, EnhancedCode: ..., Message: re.Text}
//	}
type ReplyError struct {
	Reply
	Err error
}

// Error returns the reply on one line, followed by the cause when there is one.
func (e *ReplyError) Error() string {
	s := e.code()
	if !e.Enhanced.IsZero() {
		s += " " + strconv.Itoa(e.Class()) + "." + e.Enhanced.String()
	}
	if t := strings.Join(strings.Fields(sanitize(e.Text)), " "); t != "" {
		s += " " + t
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ReplyError) Unwrap() error { return e.Err }

// Temporary reports whether the reply is a 4xx: the client may try again.
func (e *ReplyError) Temporary() bool { return e.Reply.Temporary() }
