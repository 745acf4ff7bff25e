// Package dnsname normalises domain names for the protocol packages: lower-case
// A-labels, RFC 1035 length limits, absolute and relative forms, and IDNA
// errors mapped to this package's own errors.
package dnsname

import (
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Limits from RFC 1035 §2.3.4, in octets of the A-label presentation form
// without the trailing dot.
const (
	MaxLabel = 63
	MaxName  = 253
)

// Errors returned, wrapped in *Error, by [Normalize].
var (
	ErrEmpty         = errors.New("dnsname: empty name")
	ErrEmptyLabel    = errors.New("dnsname: empty label")
	ErrLabelTooLong  = errors.New("dnsname: label longer than 63 octets")
	ErrNameTooLong   = errors.New("dnsname: name longer than 253 octets")
	ErrInvalidUTF8   = errors.New("dnsname: invalid UTF-8")
	ErrIDNA          = errors.New("dnsname: invalid internationalized label")
	ErrInvalidOctets = errors.New("dnsname: control character or space in name")
)

// Error reports a name that could not be normalised.
type Error struct {
	Name string // the name as given
	Err  error  // one of the Err* values of this package
	// Cause is the error of golang.org/x/net/idna when Err is ErrIDNA.
	Cause error
}

// Error returns the sentinel's text, the name (quoted, shortened) and the
// IDNA cause if any.
func (e *Error) Error() string {
	s := e.Err.Error() + ": " + quote(e.Name)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and, for IDNA errors, the idna package's error.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "\"" + strings.ToValidUTF8(s, "\uFFFD") + "\""
}

// Normalize returns name as a lower-case, relative (no trailing dot) name of
// A-labels. One trailing dot is accepted. Labels holding non-ASCII characters
// are converted with the IDNA lookup profile (RFC 5891 §5); ASCII labels are
// only lower-cased, so that names such as _dmarc.example.com or
// _spf.example.net, which are not host names, stay valid. The root "." is
// returned as "".
//
// Normalize is idempotent: Normalize(Normalize(x)) == Normalize(x).
func Normalize(name string) (string, error) {
	if name == "." {
		return "", nil
	}
	if name == "" {
		return "", &Error{Name: name, Err: ErrEmpty}
	}
	n := strings.TrimSuffix(name, ".")
	if !utf8.ValidString(n) {
		return "", &Error{Name: name, Err: ErrInvalidUTF8}
	}
	ascii := true
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c == 0x7f {
			return "", &Error{Name: name, Err: ErrInvalidOctets}
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii {
		labels := strings.Split(n, ".")
		for i, l := range labels {
			if isASCII(l) {
				continue
			}
			a, err := idna.Lookup.ToASCII(l)
			if err != nil {
				return "", &Error{Name: name, Err: ErrIDNA, Cause: err}
			}
			labels[i] = a
		}
		n = strings.Join(labels, ".")
	}
	n = strings.ToLower(n)
	if len(n) > MaxName {
		return "", &Error{Name: name, Err: ErrNameTooLong}
	}
	for l := range strings.SplitSeq(n, ".") {
		switch {
		case l == "":
			return "", &Error{Name: name, Err: ErrEmptyLabel}
		case len(l) > MaxLabel:
			return "", &Error{Name: name, Err: ErrLabelTooLong}
		}
	}
	return n, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Absolute returns name with exactly one trailing dot. It does not validate.
func Absolute(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// Relative returns name without its trailing dot. It does not validate.
func Relative(name string) string {
	if name == "." {
		return ""
	}
	return strings.TrimSuffix(name, ".")
}

// Equal reports whether a and b are the same name, ignoring ASCII case and a
// trailing dot. It does not convert U-labels: normalise both first when they
// may hold them.
func Equal(a, b string) bool {
	return strings.EqualFold(Relative(a), Relative(b))
}

// IsSubdomain reports whether child is parent or a name below it (ASCII case
// and trailing dots ignored).
func IsSubdomain(child, parent string) bool {
	c, p := strings.ToLower(Relative(child)), strings.ToLower(Relative(parent))
	if p == "" {
		return true
	}
	return c == p || strings.HasSuffix(c, "."+p)
}
