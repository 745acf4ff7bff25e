package spf

import (
	"strings"
	"unicode/utf8"
)

// maxHeaderValue bounds one key=value in a header; longer values are left
// out rather than let a hostile HELO or sender bloat the header.
const maxHeaderValue = 320

// ReceivedSPF renders the Received-SPF header field of RFC 7208 §9.1,
// without the trailing CRLF, folded with CRLF TAB before lines would exceed
// 78 octets:
//
//	Received-SPF: pass (mx.example.org: domain of a@example.com designates
//		192.0.2.1 as permitted sender) client-ip=192.0.2.1;
//		envelope-from="a@example.com"; helo=mail.example.com; ...
//
// Every value comes out as a dot-atom or a quoted-string, and the comment
// escapes "(", ")" and "\": a value that cannot be written safely (a
// control character, CR or LF, invalid UTF-8, over 320 octets) is left out
// with its key, so that no HELO name or sender can add a field or a key.
// The format of the field is stable; the comment text is not.
func (o *Outcome) ReceivedSPF() string {
	var f folder
	f.b.Grow(256)
	f.b.WriteString("Received-SPF: ")
	res := o.Result
	if res == "" {
		res = None
	}
	f.b.WriteString(string(res))
	// The comment folds at its spaces (FWS is allowed in a comment, RFC
	// 5322 §3.2.2).
	for w := range strings.SplitSeq(o.comment(), " ") {
		f.word(w)
	}
	ip := ""
	if o.IP.IsValid() {
		ip = o.IP.String()
	}
	pairs := [...][2]string{
		{"client-ip", ip},
		{"envelope-from", o.Sender},
		{"helo", o.HELO},
		{"receiver", o.Receiver},
		{"identity", string(o.Identity)},
		{"mechanism", o.Mechanism},
		{"problem", o.Problem},
	}
	first := true
	for _, p := range pairs {
		v, ok := headerValue(p[1])
		if !ok || p[1] == "" {
			continue
		}
		if !first {
			f.b.WriteByte(';')
		}
		first = false
		f.word(p[0] + "=" + v)
	}
	if !first {
		f.b.WriteByte(';')
	}
	return f.b.String()
}

// folder writes words separated by SP, folding with CRLF TAB when a line
// would exceed 78 octets (RFC 5322 §2.2.3).
type folder struct {
	b    strings.Builder
	line int // offset where the current line starts
}

func (f *folder) word(w string) {
	if f.b.Len()-f.line+1+len(w) > 78 {
		f.b.WriteString("\r\n\t")
		f.line = f.b.Len() - 1
	} else {
		f.b.WriteByte(' ')
	}
	f.b.WriteString(w)
}

// comment returns the RFC 7208 §9.1 comment, "(...)" with its content
// escaped as ctext / quoted-pair (RFC 5322 §3.2.2).
func (o *Outcome) comment() string {
	r, s := o.Receiver, o.Sender
	if r == "" {
		r = "unknown"
	}
	ip := "unknown"
	if o.IP.IsValid() {
		ip = o.IP.String()
	}
	var t string
	switch o.Result {
	case Pass:
		t = r + ": domain of " + s + " designates " + ip + " as permitted sender"
	case Fail:
		t = r + ": domain of " + s + " does not designate " + ip + " as permitted sender"
	case SoftFail:
		t = r + ": transitioning domain of " + s + " does not designate " + ip + " as permitted sender"
	case Neutral:
		t = r + ": " + ip + " is neither permitted nor denied by domain of " + s
	case TempError:
		t = r + ": error in processing during lookup of " + s
	case PermError:
		t = r + ": permanent error in processing domain of " + s
	default:
		t = r + ": domain of " + s + " does not designate permitted sender hosts"
	}
	var b strings.Builder
	b.WriteByte('(')
	for i := 0; i < len(t) && i < 2*maxHeaderValue; i++ {
		c := t[i]
		switch {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// headerValue renders v as a dot-atom when it is one, else as a
// quoted-string (RFC 5322 §3.2.3, §3.2.4; UTF-8 allowed as in RFC 6532).
// ok is false when v cannot be rendered safely.
func headerValue(v string) (string, bool) {
	if len(v) > maxHeaderValue || !utf8.ValidString(v) {
		return "", false
	}
	if isDotAtom(v) {
		return v, true
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			return "", false // CR, LF, TAB and other controls: never
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String(), true
}

// isDotAtom reports whether s is an RFC 5322 dot-atom-text of ASCII atext.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isAtext(s[i]) {
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// AuthenticationResults renders the SPF method entry of an
// Authentication-Results field (RFC 8601 §2.7.2), such as
// "spf=pass smtp.mailfrom=sender@example.com" or
// "spf=none smtp.helo=mail.example.com". The property value is an address
// or a dot-atom when it is one, else a quoted-string; a value that cannot
// be written safely is left out with its property. It does not include the
// authserv-id, which the caller's field starts with.
func (o *Outcome) AuthenticationResults() string {
	res := o.Result
	if res == "" {
		res = None
	}
	prop, v := "smtp.mailfrom", o.Sender
	if o.Identity == IdentityHELO {
		prop, v = "smtp.helo", o.HELO
	}
	s := "spf=" + string(res)
	if v == "" {
		return s
	}
	if !isAddress(v) {
		q, ok := headerValue(v)
		if !ok {
			return s
		}
		v = q
	}
	return s + " " + prop + "=" + v
}

// isAddress reports whether s is [dot-atom] "@" domain-name or a
// domain-name, which RFC 8601 §2.2 allows unquoted as a pvalue.
func isAddress(s string) bool {
	i := strings.LastIndexByte(s, '@')
	if i > 0 && !isDotAtom(s[:i]) {
		return false
	}
	d := s[i+1:]
	if d == "" || d[0] == '.' || d[len(d)-1] == '.' || strings.Contains(d, "..") {
		return false
	}
	for j := 0; j < len(d); j++ {
		if c := d[j]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}
