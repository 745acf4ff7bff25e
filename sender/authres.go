package sender

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AuthResults is one Authentication-Results header field (RFC 8601 §2.2).
type AuthResults struct {
	// AuthservID names the host that did the checks, e.g. "mx.example.org".
	AuthservID string
	// Version is the authres-version, 0 when absent (which means 1).
	Version int
	// Results are the method results; none means the field says "none".
	Results []MethodResult
}

// MethodResult is one resinfo of an Authentication-Results field: method,
// result, an optional reason, properties and a comment.
type MethodResult struct {
	Method  string // e.g. "spf", "dkim", "dmarc", "iprev"
	Version int    // the method version, 0 when absent
	Result  string // e.g. "pass"
	// Reason is the reason= value, "" when absent.
	Reason string
	// Props are the ptype.property=value items, in order.
	Props []Property
	// Comment is the text of the comments found in this resinfo (joined
	// with a space), without the parentheses; "" for none.
	Comment string
}

// Property is one propspec: Type.Name=Value, e.g. smtp.mailfrom=a@b.example.
type Property struct {
	Type  string // the ptype: "smtp", "header", "body", "policy"
	Name  string // the property: "mailfrom", "d", "from", "iprev"
	Value string
}

// Prop returns the value of the first property type.name, and whether it was
// found. Names compare case-insensitively.
func (m MethodResult) Prop(typ, name string) (string, bool) {
	for _, p := range m.Props {
		if strings.EqualFold(p.Type, typ) && strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// Field name and folding.
const (
	authResName = "Authentication-Results"
	foldWidth   = 78
)

// Format returns the field value: the authserv-id, then each method result
// on its own folded line. Lines are folded with CRLF followed by a tab, and
// only there: every value that is not a plain token (or a plain address) is
// written as a quoted-string, every comment is escaped, and control
// characters and invalid UTF-8 in values and comments are replaced with "?",
// so no value can end the field or start a new method or property. Method,
// result, ptype and property names must be RFC 8601 keywords
// (letters, digits, inner hyphens), else the error wraps ErrInvalidToken.
func (a *AuthResults) Format() (string, error) {
	if a.AuthservID == "" {
		return "", fmt.Errorf("%w: empty authserv-id", ErrInvalidToken)
	}
	var b strings.Builder
	line := len(authResName) + 2 // "Authentication-Results: "
	write := func(s string, sep string) {
		if line+len(sep)+len(s) > foldWidth && line > 1 {
			b.WriteString("\r\n\t")
			line = 1
		} else {
			b.WriteString(sep)
			line += len(sep)
		}
		b.WriteString(s)
		line += len(s)
	}
	head := quoteValue(a.AuthservID)
	if a.Version > 0 {
		head += " " + strconv.Itoa(a.Version)
	}
	b.WriteString(head)
	line += len(head)
	if len(a.Results) == 0 {
		b.WriteString("; none")
		return b.String(), nil
	}
	for _, m := range a.Results {
		if !isAuthResKeyword(m.Method) || !isAuthResKeyword(m.Result) {
			return "", fmt.Errorf("%w: method %q result %q", ErrInvalidToken, clip(m.Method), clip(m.Result))
		}
		b.WriteString(";\r\n\t")
		line = 1
		spec := m.Method
		if m.Version > 0 {
			spec += "/" + strconv.Itoa(m.Version)
		}
		spec += "=" + m.Result
		b.WriteString(spec)
		line += len(spec)
		if m.Comment != "" {
			write(quoteComment(m.Comment), " ")
		}
		if m.Reason != "" {
			write("reason="+quoteValue(m.Reason), " ")
		}
		for _, p := range m.Props {
			if !isAuthResKeyword(p.Type) || !isAuthResKeyword(p.Name) {
				return "", fmt.Errorf("%w: property %q.%q", ErrInvalidToken, clip(p.Type), clip(p.Name))
			}
			write(p.Type+"."+p.Name+"="+quotePValue(p.Value), " ")
		}
	}
	return b.String(), nil
}

// Field returns the whole header field, "Authentication-Results: " and the
// value from Format, ending in CRLF, ready to prepend to a message.
func (a *AuthResults) Field() (string, error) {
	v, err := a.Format()
	if err != nil {
		return "", err
	}
	return authResName + ": " + v + "\r\n", nil
}

// isAuthResKeyword reports whether s is an RFC 8601 Keyword (RFC 5321
// Ldh-str): letters, digits and hyphens, not starting or ending with one.
func isAuthResKeyword(s string) bool { return isKeyword(s) }

// sanitize replaces invalid UTF-8 and control characters (which no
// quoted-string or comment may carry, RFC 5322 §3.2.4) with '?'.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// isTokenChar reports whether c may appear in an RFC 2045 token.
func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// quoteValue writes an RFC 8601 value: a token as is, anything else as a
// quoted-string.
func quoteValue(s string) string {
	s = sanitize(s)
	if isToken(s) {
		return s
	}
	return quoteString(s)
}

// quotePValue writes a pvalue: a token, or [local-part] "@" domain-name
// with a dot-atom local part, as is; anything else quoted.
func quotePValue(s string) string {
	s = sanitize(s)
	if isToken(s) || isPlainAddress(s) {
		return s
	}
	return quoteString(s)
}

func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isPlainAddress reports whether s is [dot-atom] "@" LDH-domain.
func isPlainAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local != "" && !isDotAtom(local) {
		return false
	}
	return domain != "" && isHostname(strings.ToLower(domain))
}

func isDotAtom(s string) bool {
	for a := range strings.SplitSeq(s, ".") {
		if a == "" {
			return false
		}
		for i := 0; i < len(a); i++ {
			c := a[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// quoteComment writes a comment, escaping the characters ctext excludes.
func quoteComment(s string) string {
	s = sanitize(s)
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('(')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '(' || c == ')' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(')')
	return b.String()
}
