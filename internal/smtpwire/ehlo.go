package smtpwire

import (
	"strings"

	"github.com/smtpsec/smtpsec"
)

// Extension is one service extension from an EHLO reply: its keyword in
// upper case and its parameters as sent (RFC 5321 §4.1.1.1).
type Extension struct {
	Keyword string
	Params  string
}

// ParseEHLO parses the text of a 250 reply to EHLO (RFC 5321 §4.1.1.1):
//
//	ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] CRLF
//	            / "250-" Domain [ SP ehlo-greet ] CRLF
//	              *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF
//	ehlo-line    = ehlo-keyword *( SP ehlo-param )
//	ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//
// It returns the domain (the first word of the first line) and the
// extensions in order. Keywords are upper-cased (they are case-insensitive);
// a line whose keyword is malformed is skipped, and a repeated keyword keeps
// its first parameters. The legacy form "AUTH=PLAIN LOGIN" is read as
// keyword AUTH with parameters "PLAIN LOGIN", as many servers still send it.
func ParseEHLO(r smtpsec.Reply) (domain string, ext []Extension) {
	text := r.Text
	first, rest, more := strings.Cut(text, "\n")
	domain, _, _ = strings.Cut(first, " ")
	if !more {
		return domain, nil
	}
	ext = make([]Extension, 0, strings.Count(rest, "\n")+1)
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		kw, params, ok := cutKeyword(line)
		if !ok {
			continue
		}
		if hasKeyword(ext, kw) {
			continue
		}
		ext = append(ext, Extension{Keyword: upper(kw), Params: params})
	}
	return domain, ext
}

// cutKeyword splits an ehlo-line into a valid keyword and its parameters.
func cutKeyword(line string) (kw, params string, ok bool) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == ' ' || c == '=' {
			end = i
			break
		}
		alnum := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0) {
			return "", "", false
		}
	}
	if end == 0 {
		return "", "", false
	}
	kw = line[:end]
	if end < len(line) {
		params = strings.TrimLeft(line[end+1:], " ")
	}
	return kw, params, true
}

func hasKeyword(ext []Extension, kw string) bool {
	for _, e := range ext {
		if strings.EqualFold(e.Keyword, kw) {
			return true
		}
	}
	return false
}

// upper upper-cases ASCII letters, returning s itself when it has none in
// lower case (the common case: servers send keywords in upper case).
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

// ValidKeyword reports whether s is a syntactically valid ehlo-keyword.
func ValidKeyword(s string) bool {
	kw, params, ok := cutKeyword(s)
	return ok && kw == s && params == ""
}

// EHLOReply builds the 250 reply to EHLO: the server's domain, an optional
// greeting, then one line per keyword (RFC 5321 §4.1.1.1). Keywords are
// written as given; pass "SIZE 10240000" for a keyword with parameters.
func EHLOReply(domain, greet string, keywords []string) smtpsec.Reply {
	n := len(domain) + len(greet) + 1
	for _, k := range keywords {
		n += len(k) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(domain)
	if greet != "" {
		b.WriteByte(' ')
		b.WriteString(greet)
	}
	for _, k := range keywords {
		b.WriteByte('\n')
		b.WriteString(k)
	}
	return smtpsec.Reply{Code: 250, Text: b.String()}
}
