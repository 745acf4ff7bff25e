package requiretls

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// HeaderName is the name of the header field of RFC 8689 §3.
const HeaderName = "TLS-Required"

// Bounds on what a Header reports; they keep a hostile message cheap.
const (
	// MaxIgnored is how many ignored values a Header keeps; further ones are
	// counted in Fields but not kept.
	MaxIgnored = 8
	// MaxIgnoredLen is the longest ignored value kept, in octets; longer
	// ones are cut.
	MaxIgnoredLen = 64
	// MaxHeaderSection is how much of a message ParseHeader reads looking
	// for the end of the header section: 1 MiB.
	MaxHeaderSection = 1 << 20
)

// Header is what a message's TLS-Required fields say (RFC 8689 §3):
//
//	tls-required = "TLS-Required:" [FWS] "No" CRLF
//
// The only value is "No". It is compared case-insensitively, after folding
// whitespace around it is removed, as Postfix and mox do. Any other value is
// ignored and reported in Ignored. When the field appears several times, the
// message counts as "TLS-Required: No" only if every field says No (mox does
// the same): a field that says anything else withdraws the request rather than
// letting one of several differing fields weaken the message's protection.
type Header struct {
	// Fields is how many TLS-Required fields the message has.
	Fields int
	// No reports whether there is at least one field and every one says No.
	No bool
	// Ignored are the values, trimmed, of fields that do not say No, for a
	// log or a report (at most MaxIgnored, each at most MaxIgnoredLen
	// octets). An empty value is reported as "".
	Ignored []string

	ignored int // fields not saying No, kept or not
}

// ParseHeaderValues judges the values of the TLS-Required fields, one per
// field, as a mail library returns them (net/mail, net/textproto): the text
// after the colon, folded or unfolded.
func ParseHeaderValues(values ...string) Header {
	var h Header
	for _, v := range values {
		h.add(v)
	}
	h.No = h.Fields > 0 && h.Fields == h.nos()
	return h
}

// nos is the number of fields that said No: every field not ignored. The
// ignored count may exceed MaxIgnored, so it is tracked separately.
func (h *Header) nos() int { return h.Fields - h.ignored }

// add judges one field value.
func (h *Header) add(v string) {
	h.Fields++
	// RFC 8689 §3: [FWS] "No" CRLF. FWS (RFC 5322 §3.2.2) is WSP with
	// CRLF folding; trailing white space before the CRLF is tolerated, as
	// RFC 5322 §4.2 obsolete syntax allows.
	t := strings.Trim(v, " \t\r\n")
	if strings.EqualFold(t, "No") {
		return
	}
	h.ignored++
	if len(h.Ignored) < MaxIgnored {
		h.Ignored = append(h.Ignored, reportable(t))
	}
}

// reportable returns v fit for a log line: valid UTF-8 without control
// characters, cut at a character boundary to at most MaxIgnoredLen octets.
func reportable(v string) string {
	if len(v) > 4*MaxIgnoredLen {
		v = v[:4*MaxIgnoredLen]
	}
	v = strings.Map(printable, v) // also turns invalid UTF-8 into U+FFFD
	if len(v) > MaxIgnoredLen {
		cut := MaxIgnoredLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}

// printable replaces control characters in a reported value, so a log line
// cannot be split or forged.
func printable(r rune) rune {
	if r < ' ' || r == 0x7f {
		return ' '
	}
	return r
}

// ParseHeader finds the TLS-Required fields in a message's header section
// (RFC 5322 §2.2) and judges them as ParseHeaderValues does. raw may be the
// whole message: reading stops at the empty line that ends the header, or
// after MaxHeaderSection octets. Lines may end in CRLF or a bare LF; folded
// fields are unfolded. Field names are case-insensitive, and white space
// before the colon (RFC 5322 §4.5, obsolete syntax) is accepted.
func ParseHeader(raw []byte) Header {
	if len(raw) > MaxHeaderSection {
		raw = raw[:MaxHeaderSection]
	}
	var (
		h     Header
		cur   []byte // value of the TLS-Required field being read
		inTLS bool
	)
	flush := func() {
		if inTLS {
			h.add(string(cur))
		}
		inTLS, cur = false, cur[:0]
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the header section
		}
		if line[0] == ' ' || line[0] == '\t' {
			// RFC 5322 §2.2.3: a continuation line of the field above.
			if inTLS {
				cur = append(cur, line...)
			}
			continue
		}
		flush()
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // not a field; not ours to judge
		}
		if strings.EqualFold(string(bytes.TrimRight(name, " \t")), HeaderName) {
			inTLS = true
			cur = append(cur[:0], value...)
		}
	}
	flush()
	h.No = h.Fields > 0 && h.Fields == h.nos()
	return h
}

// RenderHeader returns the TLS-Required field with its CRLF,
// "TLS-Required: No\r\n", ready to put in a message header (RFC 8689 §3).
// It is the only value the field has.
func RenderHeader() string { return HeaderName + ": No\r\n" }
