package spf

import (
	"strconv"
	"strings"
)

// Which macro letters a macro-string may use (RFC 7208 §7.1).
type macroSet uint8

const (
	macroDomain  macroSet = iota // domain-spec: s l o d i p v h
	macroAll                     // unknown modifiers: all letters
	macroExplain                 // explanation text: all letters, and SP
)

// Bounds on expansion output, so that a hostile record cannot make one
// expansion use unbounded memory.
const (
	// maxExplanation caps an explanation (it ends up in an SMTP reply).
	maxExplanation = 1024
	// domainWindow is how much of a domain expansion is kept while
	// expanding: only the rightmost 253 octets can survive the truncation
	// of RFC 7208 §7.3, so a window of a few hundred octets is exact.
	domainWindow = 1024
	// maxExpansionWork bounds the octets one expansion may produce before
	// windowing, so that a record full of macros over a long sender costs
	// bounded time; beyond it the expansion fails (a domain then does not
	// exist, an explanation falls back to the default).
	maxExpansionWork = 256 << 10
)

func isMacroLetter(c byte, set macroSet) bool {
	switch c | 0x20 {
	case 's', 'l', 'o', 'd', 'i', 'p', 'v', 'h':
		return true
	case 'c', 'r', 't':
		return set != macroDomain
	}
	return false
}

func isDelimiter(c byte) bool {
	switch c {
	case '.', '-', '+', ',', '/', '_', '=':
		return true
	}
	return false
}

// macroExpr is one parsed "%{...}".
type macroExpr struct {
	letter  byte // lower-case
	upper   bool // URL-escape the result
	digits  int  // 0: all parts
	reverse bool
	delims  string // "" means "."
}

// scanMacro parses the macro-expand that starts at s[i] == '%' (RFC 7208
// §7.1):
//
//	macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
//	               / "%%" / "%_" / "%-"
//	transformers = *DIGIT [ "r" ]
//
// It returns the index after it. For "%%", "%_" and "%-" the expr letter is
// the second character.
func scanMacro(s string, i int, set macroSet) (macroExpr, int, bool) {
	var m macroExpr
	if i+1 >= len(s) {
		return m, 0, false
	}
	switch s[i+1] {
	case '%', '_', '-':
		m.letter = s[i+1]
		return m, i + 2, true
	case '{':
	default:
		return m, 0, false
	}
	j := i + 2
	if j >= len(s) || !isMacroLetter(s[j], set) {
		return m, 0, false
	}
	m.letter = s[j] | 0x20
	m.upper = s[j] != m.letter
	j++
	start := j
	for j < len(s) && isDigit(s[j]) {
		if m.digits < 1000 { // more parts than any name has: all of them
			m.digits = m.digits*10 + int(s[j]-'0')
		}
		j++
	}
	// RFC 7208 §7.3: "If a DIGIT is specified, the value MUST be nonzero."
	if j > start && m.digits == 0 {
		return m, 0, false
	}
	if j < len(s) && s[j]|0x20 == 'r' {
		m.reverse = true
		j++
	}
	ds := j
	for j < len(s) && isDelimiter(s[j]) {
		j++
	}
	m.delims = s[ds:j]
	if j >= len(s) || s[j] != '}' {
		return m, 0, false
	}
	return m, j + 1, true
}

// checkMacroString validates a macro-string (or, for macroExplain, an
// explain-string, which also allows SP) (RFC 7208 §7.1):
//
//	macro-string  = *( macro-expand / macro-literal )
//	macro-literal = %x21-24 / %x26-7E
func checkMacroString(s string, set macroSet) error {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '%':
			_, j, ok := scanMacro(s, i, set)
			if !ok {
				return ErrInvalidMacro
			}
			i = j
		case c == ' ' && set == macroExplain:
			i++
		case c < 0x21 || c > 0x7e:
			return ErrInvalidCharacter
		default:
			i++
		}
	}
	return nil
}

// appendTransformed appends value transformed by m (RFC 7208 §7.3): split
// on the delimiters, reversed with "r", the rightmost digits parts kept,
// joined with "."; URL-escaped when the letter was upper-case.
func appendTransformed[T string | []byte](buf []byte, value T, m *macroExpr) []byte {
	delims := m.delims
	if delims == "" {
		delims = "."
	}
	if m.digits == 0 && !m.reverse && delims == "." {
		return appendMaybeEscaped(buf, value, m.upper)
	}
	// Positions of the parts: part k is value[starts[k]:ends[k]].
	var sa, ea [40]int
	starts, ends := sa[:0], ea[:0]
	p := 0
	for i := 0; i < len(value); i++ {
		if strings.IndexByte(delims, value[i]) >= 0 {
			starts, ends = append(starts, p), append(ends, i)
			p = i + 1
		}
	}
	starts, ends = append(starts, p), append(ends, len(value))
	n := len(starts)
	keep := n
	if m.digits > 0 && m.digits < n {
		keep = m.digits
	}
	for k := 0; k < keep; k++ {
		var idx int
		if m.reverse {
			// reversed order is n-1 ... 0; its rightmost keep parts are
			// keep-1 ... 0.
			idx = keep - 1 - k
		} else {
			idx = n - keep + k
		}
		if k > 0 {
			buf = append(buf, '.')
		}
		buf = appendMaybeEscaped(buf, value[starts[idx]:ends[idx]], m.upper)
	}
	return buf
}

// appendMaybeEscaped appends s, URL-escaping every octet outside the RFC
// 3986 unreserved set when escape is set (RFC 7208 §7.3).
func appendMaybeEscaped[T string | []byte](buf []byte, s T, escape bool) []byte {
	if !escape {
		return append(buf, s...)
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			buf = append(buf, c)
		} else {
			buf = append(buf, '%', hex[c>>4], hex[c&15])
		}
	}
	return buf
}

// truncateDomain applies RFC 7208 §7.3 to an expanded domain: a trailing dot
// is dropped, and when the name exceeds 253 octets, labels are removed from
// the left until it fits.
func truncateDomain(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '.' {
		b = b[:n-1]
	}
	if len(b) <= 253 {
		return b
	}
	for i := len(b) - 254; i < len(b); i++ {
		if b[i] == '.' {
			return b[i+1:]
		}
	}
	return b[len(b)-253:] // a single label longer than 253: left invalid
}

// appendNibbles appends the dot-separated nibbles of an IPv6 address (RFC
// 7208 §7.3: "%{i}" for IPv6 is 32 dot-separated hex nibbles).
func appendNibbles(buf []byte, a [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, b := range a {
		if i > 0 {
			buf = append(buf, '.')
		}
		buf = append(buf, hex[b>>4], '.', hex[b&15])
	}
	return buf
}

// expand expands a macro-string or explain-string for the domain being
// evaluated. Domain-specs come from parsed records and are already valid;
// explanation text from DNS is validated here (an invalid one returns
// ok=false, and the caller falls back to the default explanation).
func (e *eval) expand(buf []byte, s, domain string, set macroSet) ([]byte, bool) {
	work := 0
	for i := 0; i < len(s); {
		before := len(buf)
		c := s[i]
		if c != '%' {
			j := strings.IndexByte(s[i:], '%')
			if j < 0 {
				j = len(s)
			} else {
				j += i
			}
			// Domain-specs were validated by the parser; explanation
			// text comes from DNS and is checked here.
			if set != macroDomain {
				for k := i; k < j; k++ {
					if c := s[k]; (c < 0x21 || c > 0x7e) && !(c == ' ' && set == macroExplain) {
						return buf, false
					}
				}
			}
			buf = append(buf, s[i:j]...)
			i = j
		} else {
			m, j, ok := scanMacro(s, i, set)
			if !ok {
				return buf, false
			}
			i = j
			switch m.letter {
			case '%':
				buf = append(buf, '%')
			case '_':
				buf = append(buf, ' ')
			case '-':
				buf = append(buf, "%20"...)
			case 'i':
				var tmp [72]byte
				buf = appendTransformed(buf, e.appendIP(tmp[:0]), &m)
			default:
				buf = appendTransformed(buf, e.macroValue(m.letter, domain), &m)
			}
		}
		work += len(buf) - before
		if work > maxExpansionWork {
			e.overBudget = true
			return buf, false
		}
		buf = e.bound(buf, set)
	}
	return buf, true
}

// bound keeps an expansion within its memory bound (see domainWindow).
func (e *eval) bound(buf []byte, set macroSet) []byte {
	if set == macroExplain {
		if len(buf) > maxExplanation {
			buf = buf[:maxExplanation]
		}
		return buf
	}
	if len(buf) > 2*domainWindow {
		n := copy(buf, buf[len(buf)-domainWindow:])
		buf = buf[:n]
	}
	return buf
}

// appendIP appends the %{i} form of the client IP: dotted quad, or dotted
// nibbles for IPv6 (RFC 7208 §7.3).
func (e *eval) appendIP(b []byte) []byte {
	if e.ip.Is4() {
		return e.ip.AppendTo(b)
	}
	return appendNibbles(b, e.ip.As16())
}

// macroValue returns the value of a macro letter (RFC 7208 §7.2).
func (e *eval) macroValue(letter byte, domain string) string {
	switch letter {
	case 's':
		return e.sender
	case 'l':
		return e.local
	case 'o':
		return e.senderDomain
	case 'd':
		return domain
	case 'i':
		var tmp [72]byte
		return string(e.appendIP(tmp[:0]))
	case 'p':
		return e.validatedName(domain)
	case 'v':
		if e.ip.Is4() {
			return "in-addr"
		}
		return "ip6"
	case 'h':
		return e.helo
	case 'c':
		// RFC 7208 §7.2: the SMTP client IP in its usual text form.
		return e.ip.String()
	case 'r':
		if e.c.ReceiverDomain != "" {
			return e.c.ReceiverDomain
		}
		return "unknown"
	case 't':
		return strconv.FormatInt(e.c.now().Unix(), 10)
	}
	return ""
}
