package mtasts

import (
	"strconv"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/starttls/internal/txtrecord"
)

// Mode is the policy mode of RFC 8461 §5. The values are the RFC tokens.
type Mode string

// Policy modes.
const (
	// Enforce: do not deliver to an MX host that fails MX matching, does
	// not offer STARTTLS or does not present a PKIX-valid certificate for
	// its name.
	Enforce Mode = "enforce"
	// Testing: deliver anyway, but report failures through TLS-RPT.
	Testing Mode = "testing"
	// None: treat the domain as having no policy (used to retire MTA-STS,
	// RFC 8461 §8.3).
	None Mode = "none"
)

// MaxMaxAge is the largest max_age a policy may carry: 31557600 seconds,
// about one year (RFC 8461 §3.2).
const MaxMaxAge = 31557600 * time.Second

// MaxPolicySize is the largest policy file accepted, 64 KiB (RFC 8461 §3.3
// suggests 64 kilobytes).
const MaxPolicySize = 64 << 10

// Policy is a parsed MTA-STS policy file (RFC 8461 §3.2).
type Policy struct {
	// Mode is Enforce, Testing or None.
	Mode Mode
	// MaxAge is how long the policy may be cached, at most MaxMaxAge.
	MaxAge time.Duration
	// MX holds the allowed MX host patterns, lower-case A-labels without a
	// trailing dot; "*.example.net" allows any single label in place of
	// "*". Empty only in mode None.
	MX []string
	// Extensions holds the fields this package does not interpret.
	Extensions []Extension
}

// ParsePolicy parses a policy file. Lines end in LF or CRLF; blank lines
// are skipped. The rules of RFC 8461 §3.2:
//
//   - version (STSv1), mode and max_age are required; mx is required,
//     at least once, unless mode is none;
//   - for each field other than mx, only the first occurrence counts;
//   - max_age is 1 to 10 digits and at most 31557600;
//   - an mx value is a domain, optionally with "*." as its whole left-most
//     label;
//   - fields with other names are kept as Extensions when their name is
//     valid, and ignored otherwise (they must not make the policy invalid).
//
// Field names and the values of version and mode are case-sensitive, as
// the grammar's %s strings are; a field "Mode" is an unknown field, not the
// mode. Errors are a *SyntaxError wrapping ErrPolicySyntax.
func ParsePolicy(text string) (*Policy, error) {
	var (
		p                                 Policy
		haveVersion, haveMode, haveMaxAge bool
	)
	lineNo := 0
	for len(text) > 0 {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		lineNo++
		// RFC 8461 §3.2: sts-policy-term = LF / CRLF.
		line = strings.TrimSuffix(line, "\r")
		fail := func(reason string) (*Policy, error) {
			return nil, &SyntaxError{Text: truncate(line), Line: lineNo, Reason: reason, Err: ErrPolicySyntax}
		}
		// Each field may be followed by *WSP before the line ends.
		line = strings.TrimRight(line, " \t")
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return fail("line without ':'")
		}
		// sts-policy-field-delim = ":" *WSP
		v = strings.TrimLeft(v, " \t")
		if strings.ContainsAny(v, "\r\x00") {
			return fail("control character in value")
		}
		switch k {
		case "version":
			if haveVersion {
				continue
			}
			if v != Version {
				return fail("version is not STSv1")
			}
			haveVersion = true
		case "mode":
			if haveMode {
				continue
			}
			m := Mode(v)
			if m != Enforce && m != Testing && m != None {
				return fail("mode is not enforce, testing or none")
			}
			p.Mode, haveMode = m, true
		case "max_age":
			if haveMaxAge {
				continue
			}
			// sts-policy-max-age-value = 1*10(DIGIT)
			if len(v) < 1 || len(v) > 10 || strings.Trim(v, "0123456789") != "" {
				return fail("max_age is not 1 to 10 digits")
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n > uint64(MaxMaxAge/time.Second) {
				return fail("max_age above 31557600")
			}
			p.MaxAge, haveMaxAge = time.Duration(n)*time.Second, true
		case "mx":
			pat, err := normalizePattern(v)
			if err != nil {
				return fail("invalid mx pattern")
			}
			p.MX = append(p.MX, pat)
		default:
			// RFC 8461 §3.2: sts-policy-extension; unknown fields are
			// ignored. Keep those with a valid name and visible value.
			if txtrecord.IsExtName(k) && isPolicyExtValue(v) {
				p.Extensions = append(p.Extensions, Extension{Key: k, Value: v})
			}
		}
	}
	var missing string
	switch {
	case !haveVersion:
		missing = "version"
	case !haveMode:
		missing = "mode"
	case !haveMaxAge:
		missing = "max_age"
	case len(p.MX) == 0 && p.Mode != None:
		missing = "mx"
	}
	if missing != "" {
		return nil, &SyntaxError{Reason: "no " + missing + " field", Err: ErrPolicySyntax}
	}
	return &p, nil
}

// isPolicyExtValue: sts-policy-vchar *(*WSP sts-policy-vchar), where
// sts-policy-vchar is VCHAR or UTF-8 above ASCII.
func isPolicyExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// normalizePattern checks an mx value, ["*."] Domain, and returns it in
// lower-case A-labels without a trailing dot.
func normalizePattern(v string) (string, error) {
	wild := strings.HasPrefix(v, "*.")
	d := strings.TrimPrefix(v, "*.")
	n, err := dnsname.Normalize(d)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(d, ".") || !isHostname(n) {
		return "", ErrPolicySyntax
	}
	if wild {
		return "*." + n, nil
	}
	return n, nil
}

// isHostname reports whether n (already normalised) is made of LDH labels
// (RFC 5321 §4.1.2 sub-domain).
func isHostname(n string) bool {
	for l := range strings.SplitSeq(n, ".") {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !isAlpha(c) && !isDigit(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// Match reports whether host, an MX host name, matches one of the policy's
// mx patterns (RFC 8461 §4.1). A pattern "*.example.com" matches a name with
// exactly one more label, such as "mail.example.com", but neither
// "example.com" nor "a.b.example.com". host may carry a trailing dot and
// upper case; names that are not valid domain names match nothing.
func (p *Policy) Match(host string) bool {
	h, err := dnsname.Normalize(host)
	if err != nil {
		return false
	}
	for _, pat := range p.MX {
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			// RFC 8461 §4.1: the wildcard matches only the left-most label.
			first, rest, found := strings.Cut(h, ".")
			if found && first != "" && rest == suffix {
				return true
			}
			continue
		}
		if h == pat {
			return true
		}
	}
	return false
}

// Lines returns the policy in canonical text form, one field a line without
// line endings, as the policy-string of a TLS-RPT report wants it (RFC 8460
// §4.4). Extensions follow the known fields.
func (p *Policy) Lines() []string {
	lines := []string{"version: " + Version, "mode: " + string(p.Mode)}
	for _, mx := range p.MX {
		lines = append(lines, "mx: "+mx)
	}
	lines = append(lines, "max_age: "+strconv.FormatInt(int64(p.MaxAge/time.Second), 10))
	for _, e := range p.Extensions {
		lines = append(lines, e.Key+": "+e.Value)
	}
	return lines
}

// String returns Lines joined with CRLF, a valid policy file.
func (p *Policy) String() string {
	return strings.Join(p.Lines(), "\r\n") + "\r\n"
}
