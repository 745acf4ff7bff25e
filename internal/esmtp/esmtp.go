package esmtp

import (
	"strings"
	"unicode/utf8"
)

// Line limits in octets, CRLF included.
const (
	// MaxCommandLine is the longest command line of RFC 5321 §4.5.3.1.4.
	MaxCommandLine = 512
	// MaxParams is the most parameters one command may carry. No registered
	// extension set comes close; the bound keeps a hostile line cheap.
	MaxParams = 32
)

// lineRaise returns how many octets an extension adds to the MAIL FROM line
// limit, as its RFC states; 0 for the others.
func lineRaise(keyword string) int {
	switch keyword {
	case "REQUIRETLS":
		return 11 // RFC 8689 §2: a space and the keyword
	case "SIZE":
		return 26 // RFC 1870 §3 (5): the SIZE keyword and value
	}
	return 0
}

// MailLineLimit returns the longest MAIL FROM line, CRLF included, that a
// server offering the named extensions must accept: 512 octets (RFC 5321
// §4.5.3.1.4) plus the raise each extension's RFC grants, such as 11 octets
// for REQUIRETLS (RFC 8689 §2). Keywords are case-insensitive; unknown ones
// and repeats add nothing.
func MailLineLimit(extensions ...string) int {
	n := MaxCommandLine
	seen := make(map[string]bool, len(extensions))
	for _, e := range extensions {
		e = strings.ToUpper(e)
		if seen[e] {
			continue
		}
		seen[e] = true
		n += lineRaise(e)
	}
	return n
}

// Param is one ESMTP parameter, esmtp-keyword ["=" esmtp-value].
type Param struct {
	Keyword  string // upper-case
	Value    string // as sent; empty when HasValue is false
	HasValue bool   // whether "=" and a value followed the keyword
}

// String returns the parameter in wire form, "KEYWORD" or "KEYWORD=value".
func (p Param) String() string {
	if !p.HasValue {
		return p.Keyword
	}
	return p.Keyword + "=" + p.Value
}

// Params are the parameters of one command, in the order sent.
type Params []Param

// Get returns the parameter with the given keyword (case-insensitive).
func (ps Params) Get(keyword string) (Param, bool) {
	for _, p := range ps {
		if strings.EqualFold(p.Keyword, keyword) {
			return p, true
		}
	}
	return Param{}, false
}

// Has reports whether a parameter with the given keyword (case-insensitive) is present.
func (ps Params) Has(keyword string) bool {
	_, ok := ps.Get(keyword)
	return ok
}

// Options tune parsing. The zero value parses RFC 5321 parameters with the
// base line limit.
type Options struct {
	// MaxLine is the longest accepted command line in octets, CRLF included.
	// 0 means 512 (RFC 5321 §4.5.3.1.4); use [MailLineLimit] for MAIL FROM.
	MaxLine int
	// UTF8 admits UTF-8 beyond ASCII in values and paths, as RFC 6531 §3.3
	// allows once the client has sent SMTPUTF8. False means ASCII only.
	UTF8 bool
}

func (o Options) maxLine() int {
	if o.MaxLine <= 0 {
		return MaxCommandLine
	}
	return o.MaxLine
}

// ParseParams parses Mail-parameters or Rcpt-parameters: esmtp-param
// *(SP esmtp-param), RFC 5321 §4.1.2. An empty string gives no parameters.
// Keywords are returned upper-case. It returns a *SyntaxError wrapping
// ErrKeyword, ErrValue, ErrDuplicate or ErrTooMany.
func ParseParams(s string, opts Options) (Params, error) {
	return parseParams(s, 0, opts)
}

func parseParams(s string, base int, opts Options) (Params, error) {
	if s == "" {
		return nil, nil
	}
	var ps Params
	i := 0
	for {
		start := i
		for i < len(s) && s[i] != ' ' {
			i++
		}
		tok := s[start:i]
		p, err := parseParam(tok, base+start, opts)
		if err != nil {
			return nil, err
		}
		if len(ps) == MaxParams {
			return nil, &SyntaxError{Offset: base + start, Keyword: p.Keyword, Err: ErrTooMany}
		}
		for _, q := range ps {
			if q.Keyword == p.Keyword {
				return nil, &SyntaxError{Offset: base + start, Keyword: p.Keyword, Err: ErrDuplicate}
			}
		}
		ps = append(ps, p)
		if i == len(s) {
			return ps, nil
		}
		i++ // the single SP between parameters
		if i == len(s) {
			// A trailing space leaves an empty esmtp-param.
			return nil, &SyntaxError{Offset: base + i, Err: ErrKeyword}
		}
	}
}

// parseParam parses one esmtp-param; off is its offset in the line.
func parseParam(tok string, off int, opts Options) (Param, error) {
	kw, val, hasVal := strings.Cut(tok, "=")
	if !validKeyword(kw) {
		return Param{}, &SyntaxError{Offset: off, Err: ErrKeyword}
	}
	kw = strings.ToUpper(kw)
	if hasVal {
		if bad := invalidValue(val, opts.UTF8); bad >= 0 {
			return Param{}, &SyntaxError{Offset: off + len(kw) + 1 + bad, Keyword: kw, Err: ErrValue}
		}
	}
	return Param{Keyword: kw, Value: val, HasValue: hasVal}, nil
}

// validKeyword reports whether s is an esmtp-keyword of RFC 5321 §4.1.2:
// (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func validKeyword(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '-') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// invalidValue returns the offset of the first octet of s that may not be in
// an esmtp-value, or -1. RFC 5321 §4.1.2: 1*(%d33-60 / %d62-126), that is
// printable ASCII without "=" and SP; RFC 6531 §3.3 adds UTF8-non-ascii.
func invalidValue(s string, utf8OK bool) int {
	if s == "" {
		return 0
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 33 && c <= 126 && c != '=':
			i++
		case c >= utf8.RuneSelf && utf8OK:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				return i
			}
			i += n
		default:
			return i
		}
	}
	return -1
}

// FormatParams returns ps in wire form, separated by single spaces and
// without a leading space. It returns a *SyntaxError when a parameter would
// not parse back to itself (bad keyword or value, duplicate, too many), so
// nothing a caller passes can smuggle a second parameter or a line break.
func FormatParams(ps Params, opts Options) (string, error) {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		off := b.Len()
		if !validKeyword(p.Keyword) {
			return "", &SyntaxError{Offset: off, Err: ErrKeyword}
		}
		kw := strings.ToUpper(p.Keyword)
		if p.HasValue {
			if bad := invalidValue(p.Value, opts.UTF8); bad >= 0 {
				return "", &SyntaxError{Offset: off + len(kw) + 1 + bad, Keyword: kw, Err: ErrValue}
			}
		} else if p.Value != "" {
			return "", &SyntaxError{Offset: off, Keyword: kw, Err: ErrValue}
		}
		if i >= MaxParams {
			return "", &SyntaxError{Offset: off, Keyword: kw, Err: ErrTooMany}
		}
		for _, q := range ps[:i] {
			if strings.EqualFold(q.Keyword, kw) {
				return "", &SyntaxError{Offset: off, Keyword: kw, Err: ErrDuplicate}
			}
		}
		b.WriteString(Param{Keyword: kw, Value: p.Value, HasValue: p.HasValue}.String())
	}
	return b.String(), nil
}
