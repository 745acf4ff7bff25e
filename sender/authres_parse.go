package sender

import (
	"fmt"
	"strconv"
	"strings"
)

// maxAuthResLen bounds the field ParseAuthResults accepts (RFC 5322 §2.1.1
// limits lines, not fields; 64 KiB is far above any real field).
const maxAuthResLen = 64 << 10

// ParseAuthResults parses one Authentication-Results field (RFC 8601 §2.2).
// The input may be the value alone or the whole field with its name, folded
// or not. Comments are read (nested, with quoted-pairs) and those within a
// resinfo are kept in MethodResult.Comment; quoted-strings are unquoted. It
// is pure and runs in time linear in the input.
//
// Errors wrap ErrAuthResSyntax and say where parsing stopped.
func ParseAuthResults(field string) (*AuthResults, error) {
	if len(field) > maxAuthResLen {
		return nil, fmt.Errorf("%w: field longer than %d octets", ErrAuthResSyntax, maxAuthResLen)
	}
	if name, rest, ok := strings.Cut(field, ":"); ok && strings.EqualFold(strings.TrimSpace(name), authResName) {
		field = rest
	}
	p := &arParser{s: field}
	a := &AuthResults{}
	p.cfws()
	id, ok := p.value()
	if !ok || id == "" {
		return nil, p.fail("authserv-id")
	}
	a.AuthservID = id
	p.cfws()
	if v, ok := p.digitsBefore(); ok {
		a.Version = v
		p.cfws()
	}
	if p.eof() {
		return nil, p.fail("';'")
	}
	for !p.eof() {
		if !p.consume(';') {
			return nil, p.fail("';'")
		}
		p.comments = p.comments[:0]
		p.cfws()
		if p.eof() {
			// A trailing ";" is tolerated.
			break
		}
		method := p.keyword()
		if method == "" {
			return nil, p.fail("method")
		}
		p.cfws()
		if strings.EqualFold(method, "none") && len(a.Results) == 0 && (p.eof() || p.peek() == ';') {
			continue
		}
		m := MethodResult{Method: method}
		if p.consume('/') {
			p.cfws()
			v, ok := p.digits()
			if !ok {
				return nil, p.fail("method version")
			}
			m.Version = v
			p.cfws()
		}
		if !p.consume('=') {
			return nil, p.fail("'=' after method")
		}
		p.cfws()
		m.Result = p.keyword()
		if m.Result == "" {
			return nil, p.fail("result")
		}
		for {
			p.cfws()
			if p.eof() || p.peek() == ';' {
				break
			}
			start := p.i
			k := p.keyword()
			if k == "" {
				return nil, p.fail("property")
			}
			p.cfws()
			if strings.EqualFold(k, "reason") && p.peek() == '=' && m.Reason == "" && len(m.Props) == 0 {
				p.consume('=')
				p.cfws()
				v, ok := p.value()
				if !ok {
					return nil, p.fail("reason value")
				}
				m.Reason = v
				continue
			}
			if !p.consume('.') {
				p.i = start
				return nil, p.fail("'.' in property")
			}
			p.cfws()
			name := p.keyword()
			if name == "" {
				return nil, p.fail("property name")
			}
			p.cfws()
			if !p.consume('=') {
				return nil, p.fail("'=' in property")
			}
			p.cfws()
			v, ok := p.pvalue()
			if !ok {
				return nil, p.fail("property value")
			}
			m.Props = append(m.Props, Property{Type: k, Name: name, Value: v})
		}
		if p.err != nil {
			return nil, p.err
		}
		m.Comment = strings.Join(p.comments, " ")
		a.Results = append(a.Results, m)
	}
	if p.err != nil {
		return nil, p.err
	}
	return a, nil
}

// AuthservID returns the authserv-id of an Authentication-Results field, read
// leniently: it succeeds on fields whose results do not parse. It is what
// the RFC 8601 §5 removal rule needs.
func AuthservID(field string) (string, bool) {
	if len(field) > maxAuthResLen {
		field = field[:maxAuthResLen]
	}
	if name, rest, ok := strings.Cut(field, ":"); ok && strings.EqualFold(strings.TrimSpace(name), authResName) {
		field = rest
	}
	p := &arParser{s: field}
	p.cfws()
	id, ok := p.value()
	if !ok || id == "" || p.err != nil {
		return "", false
	}
	return id, true
}

type arParser struct {
	s        string
	i        int
	comments []string
	err      error
}

func (p *arParser) eof() bool { return p.i >= len(p.s) || p.err != nil }

func (p *arParser) peek() byte {
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

func (p *arParser) consume(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *arParser) fail(what string) error {
	if p.err != nil {
		return p.err
	}
	return fmt.Errorf("%w: expected %s at offset %d", ErrAuthResSyntax, what, p.i)
}

// cfws skips folding white space and comments, collecting the comments.
func (p *arParser) cfws() {
	for p.i < len(p.s) && p.err == nil {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '(':
			p.comment()
		default:
			return
		}
	}
}

// comment reads a comment, nested comments included, iteratively.
func (p *arParser) comment() {
	start := p.i
	depth := 0
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			if depth > 0 {
				b.WriteByte(p.s[p.i+1])
			}
			p.i += 2
			continue
		case c == '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				p.i++
				p.comments = append(p.comments, b.String())
				return
			}
			b.WriteByte(c)
		case c == '\r' || c == '\n':
			// Unfold: CRLF inside a comment is folding white space.
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	p.i = start
	p.err = fmt.Errorf("%w: unterminated comment at offset %d", ErrAuthResSyntax, start)
}

func isKeywordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// keyword reads a Keyword (leniently, '_' allowed as seen in the wild).
func (p *arParser) keyword() string {
	start := p.i
	for p.i < len(p.s) && isKeywordChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *arParser) digits() (int, bool) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' && p.i-start < 9 {
		p.i++
	}
	if p.i == start {
		return 0, false
	}
	n, _ := strconv.Atoi(p.s[start:p.i])
	return n, true
}

// digitsBefore reads an authres-version: digits followed (after CFWS) by ';'
// or the end. Anything else is left unread.
func (p *arParser) digitsBefore() (int, bool) {
	save, saveC := p.i, len(p.comments)
	n, ok := p.digits()
	if ok {
		p.cfws()
		if p.err == nil && (p.i >= len(p.s) || p.s[p.i] == ';') {
			return n, true
		}
	}
	p.i, p.comments, p.err = save, p.comments[:saveC], nil
	return 0, false
}

// quoted reads a quoted-string and returns its content.
func (p *arParser) quoted() (string, bool) {
	start := p.i
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		case c == '"':
			p.i++
			return b.String(), true
		case c == '\r' || c == '\n':
			// Unfold.
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	p.i = start
	p.err = fmt.Errorf("%w: unterminated quoted-string at offset %d", ErrAuthResSyntax, start)
	return "", false
}

func isValueStop(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' || c == ')' || c == '"'
}

// value reads a value: a quoted-string, or a run of characters up to white
// space, ';' or a comment (lenient: real fields carry unquoted '/' or ':').
func (p *arParser) value() (string, bool) {
	if p.peek() == '"' {
		return p.quoted()
	}
	start := p.i
	for p.i < len(p.s) && !isValueStop(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i], p.i > start
}

// pvalue reads a property value: a value, or a quoted local part followed
// by "@" and a domain.
func (p *arParser) pvalue() (string, bool) {
	if p.peek() != '"' {
		return p.value()
	}
	v, ok := p.quoted()
	if !ok {
		return "", false
	}
	if p.peek() == '@' {
		rest, _ := p.value()
		v += rest
	}
	return v, true
}
