package resolver

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// Names come in two forms, and this file is the one place that turns either
// into the key the package compares and stores: the presentation form that
// miekg/dns produces when it unpacks a name (RFC 1035 §5.1: absolute, '.'
// between labels, the octets . space ' @ ; ( ) " \ escaped as \X and octets
// outside printable US-ASCII as \DDD), with ASCII letters in lower case
// (RFC 4343). Two names are the same name exactly when their keys are equal.
//
//   - Raw names are what the API takes (the name argument of Query, the
//     Lookup* methods, Zone.SetFailure, Zone.SetSecure, Zone.Remove), as
//     net.Resolver takes them: '.' separates labels and every other octet is
//     itself, so a backslash is a backslash. RFC 2181 §11 allows any octet in
//     a label; SPF macros (RFC 7208 §7.3) build names holding ':', '%' or
//     spaces. A label that holds non-ASCII UTF-8 is a U-label and is
//     converted to its A-label (RFC 5891 §5).
//   - Presentation names come from miekg/dns: zone-file owners and targets,
//     dns.RR values, the questions of queries and responses. They are
//     canonicalised without being escaped again, so "a\032b" and "a\ b" are
//     one name, and "a\.b" is one label, never the two labels of "a.b".

// maxWireName is the longest name in wire format, RFC 1035 §3.1 (255
// octets, so 253 in presentation form without escapes or the final dot).
const maxWireName = 255

// CanonicalName returns the key this package uses for the raw name name
// (see [Answer.Name]): absolute, ASCII letters in lower case, U-labels
// converted to A-labels, and the octets that presentation format treats
// specially escaped as miekg/dns escapes them ("a b.example" gives
// "a\ b.example."). '.' always separates labels.
//
// It returns a *dnsname.Error for an empty name or label, a label over 63
// octets, a name over 255 octets in wire format, or a label that IDNA
// refuses, and a *NameError for octets that are not valid UTF-8.
func CanonicalName(name string) (string, error) {
	return canonicalName(name)
}

// canonicalName is CanonicalName: the raw names of the API.
func canonicalName(name string) (string, error) {
	if name == "." {
		return ".", nil
	}
	if name == "" {
		return "", &dnsname.Error{Name: name, Err: dnsname.ErrEmpty}
	}
	n := strings.TrimSuffix(name, ".")
	// Most names need neither escaping nor IDNA: their key is the name
	// itself in lower case.
	if plain, lower := plainName(n); plain {
		if err := checkPlainLengths(name, n); err != nil {
			return "", err
		}
		return plainKey(n, lower), nil
	}
	var buf [maxWireName + 64]byte
	wire := buf[:0]
	for label := range strings.SplitSeq(n, ".") {
		if label == "" {
			return "", &dnsname.Error{Name: name, Err: dnsname.ErrEmptyLabel}
		}
		if !isASCII(label) {
			a, err := uLabel(name, label)
			if err != nil {
				return "", err
			}
			label = a
		}
		if len(label) > dnsname.MaxLabel {
			return "", &dnsname.Error{Name: name, Err: dnsname.ErrLabelTooLong}
		}
		if len(wire)+1+len(label)+1 > maxWireName {
			return "", &dnsname.Error{Name: name, Err: dnsname.ErrNameTooLong}
		}
		wire = append(wire, byte(len(label)))
		wire = append(wire, label...)
	}
	wire = append(wire, 0)
	return wireKey(name, wire)
}

// uLabel converts a label holding non-ASCII octets: valid UTF-8 is a
// U-label, converted to an A-label with the IDNA lookup profile; anything
// else is refused.
func uLabel(name, label string) (string, error) {
	if !utf8.ValidString(label) {
		for i := 0; i < len(label); {
			r, size := utf8.DecodeRuneInString(label[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", &NameError{Name: name, Octet: label[i]}
			}
			i += size
		}
	}
	a, err := dnsname.Normalize(label)
	if err != nil {
		if de, ok := err.(*dnsname.Error); ok {
			return "", &dnsname.Error{Name: name, Err: de.Err, Cause: de.Cause}
		}
		return "", err
	}
	return a, nil
}

// presentationKey returns the key of a name in miekg/dns presentation
// format. Unescaped non-ASCII UTF-8 (which zone-file text may hold) is a
// U-label, as in a raw name; escaped octets are taken as they are.
func presentationKey(name string) (string, error) {
	switch name {
	case ".":
		return ".", nil
	case "":
		return "", &dnsname.Error{Name: name, Err: dnsname.ErrEmpty}
	}
	n := strings.TrimSuffix(name, ".")
	if plain, lower := plainName(n); plain {
		if err := checkPlainLengths(name, n); err != nil {
			return "", err
		}
		return plainKey(n, lower), nil
	}
	s := dns.Fqdn(name)
	if !isASCII(s) {
		var err error
		if s, err = presentationULabels(name, s); err != nil {
			return "", err
		}
	}
	// Empty labels ("a..b", ".a") are refused by the packer.
	var buf [maxWireName + 64]byte
	off, err := dns.PackDomainName(s, buf[:], 0, nil, false)
	if err != nil {
		return "", presentationError(name, err)
	}
	return wireKey(name, buf[:off])
}

// presentationULabels converts the labels of s that hold unescaped
// non-ASCII UTF-8 to A-labels.
func presentationULabels(name, s string) (string, error) {
	labels := splitPresentation(s)
	for i, l := range labels {
		if isASCII(l) || strings.IndexByte(l, '\\') >= 0 {
			continue
		}
		a, err := uLabel(name, l)
		if err != nil {
			return "", err
		}
		labels[i] = a
	}
	return strings.Join(labels, ".") + ".", nil
}

// splitPresentation splits an absolute presentation name at the dots that
// are not escaped; the root label is not included.
func splitPresentation(s string) []string {
	var labels []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped octet, or the first digit of \DDD
		case '.':
			labels = append(labels, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		labels = append(labels, s[start:])
	}
	return labels
}

// presentationError maps an error of the miekg/dns packer to this
// package's name errors.
func presentationError(name string, err error) error {
	for _, l := range splitPresentation(dns.Fqdn(name)) {
		if l == "" {
			return &dnsname.Error{Name: name, Err: dnsname.ErrEmptyLabel}
		}
	}
	if err == dns.ErrBuf {
		return &dnsname.Error{Name: name, Err: dnsname.ErrNameTooLong}
	}
	return &dnsname.Error{Name: name, Err: dnsname.ErrLabelTooLong}
}

// wireKey lower-cases the ASCII letters of a name in uncompressed wire
// format and unpacks it with miekg/dns, which escapes it canonically. The
// length octets of labels (at most 63) are never letters.
func wireKey(name string, wire []byte) (string, error) {
	for i, c := range wire {
		if 'A' <= c && c <= 'Z' {
			wire[i] = c + 'a' - 'A'
		}
	}
	key, _, err := dns.UnpackDomainName(wire, 0)
	if err != nil {
		// Only the length limit can fail here: the labels were checked.
		return "", &dnsname.Error{Name: name, Err: dnsname.ErrNameTooLong}
	}
	return key, nil
}

// plainName reports whether every octet of n is one that presentation
// format writes as itself (printable US-ASCII other than . space ' @ ; ( )
// " \) or a '.', so that n, lower-cased and absolute, is already its key;
// lower reports that it holds no upper-case letter.
func plainName(n string) (plain, lower bool) {
	lower = true
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		case 'A' <= c && c <= 'Z':
			lower = false
		case c <= ' ' || c >= 0x7f:
			return false, lower
		default:
			switch c {
			case '\'', '@', ';', '(', ')', '"', '\\':
				return false, lower
			}
		}
	}
	return true, lower
}

// plainKey returns n, a plain name (see plainName), lower-cased and
// absolute, in one allocation.
func plainKey(n string, lower bool) string {
	if lower {
		return n + "."
	}
	b := make([]byte, len(n)+1)
	for i := 0; i < len(n); i++ {
		c := n[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	b[len(n)] = '.'
	return string(b)
}

// checkPlainLengths checks the RFC 1035 §2.3.4 limits on a name without
// escapes or trailing dot: labels of 1 to 63 octets, at most 253 octets.
func checkPlainLengths(name, n string) error {
	if len(n) > dnsname.MaxName {
		return &dnsname.Error{Name: name, Err: dnsname.ErrNameTooLong}
	}
	start := 0
	for i := 0; i <= len(n); i++ {
		if i < len(n) && n[i] != '.' {
			continue
		}
		switch l := i - start; {
		case l == 0:
			return &dnsname.Error{Name: name, Err: dnsname.ErrEmptyLabel}
		case l > dnsname.MaxLabel:
			return &dnsname.Error{Name: name, Err: dnsname.ErrLabelTooLong}
		}
		start = i + 1
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sameName reports whether two presentation names are the same name. The
// common case, equal text but for case, needs no work.
func sameName(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	if strings.IndexByte(a, '\\') < 0 && strings.IndexByte(b, '\\') < 0 && isASCII(a) && isASCII(b) {
		return false // no escapes: text that differs is a different name
	}
	ka, err := presentationKey(a)
	if err != nil {
		return false
	}
	kb, err := presentationKey(b)
	return err == nil && ka == kb
}

// unescapeString returns the octets of a character-string (RFC 1035 §3.3)
// as miekg/dns holds it: \DDD is the octet of that decimal value and \X is
// X, the way miekg/dns packs it. Strings without a backslash are returned as
// they are.
func unescapeString(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = appendUnescaped(b, s)
	return string(b)
}

func appendUnescaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i == len(s) {
			break // a final lone backslash packs as nothing
		}
		if i+2 < len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
			// RFC 1035 §5.1: \DDD. Values over 255 wrap as miekg/dns
			// packs them.
			b = append(b, (s[i]-'0')*100+(s[i+1]-'0')*10+(s[i+2]-'0'))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// JoinTXT returns the octets of the character-strings of a TXT record, as
// miekg/dns presents them in dns.TXT.Txt (with \" \\ and \DDD escapes),
// joined without a separator, as net.Resolver.LookupTXT returns them and as
// SPF reads a record (RFC 7208 §3.3).
func JoinTXT(parts []string) string {
	escaped := false
	for _, p := range parts {
		if strings.IndexByte(p, '\\') >= 0 {
			escaped = true
			break
		}
	}
	if !escaped {
		if len(parts) == 1 {
			return parts[0]
		}
		return strings.Join(parts, "")
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = appendUnescaped(b, p)
	}
	return string(b)
}

// netHostName returns a name from record data (an MX target, a PTR name)
// the way net.Resolver returns it: the octets of the name, absolute. ok is
// false for a name net.Resolver drops from its results (see netDomainName)
// and for a label holding a '.' octet, which net refuses to unpack.
func netHostName(presentation string) (string, bool) {
	if strings.IndexByte(presentation, '\\') < 0 {
		s := dns.Fqdn(presentation)
		return s, netDomainName(s)
	}
	var b []byte
	for _, l := range splitPresentation(dns.Fqdn(presentation)) {
		start := len(b)
		b = appendUnescaped(b, l)
		if bytes.IndexByte(b[start:], '.') >= 0 {
			return "", false
		}
		b = append(b, '.')
	}
	s := string(b)
	return s, netDomainName(s)
}

// netDomainName reports whether net.Resolver returns s (absolute) from
// LookupMX or LookupAddr: it keeps only names whose labels hold letters,
// digits, '_' and '-' (not first or last in a label), of at most 63
// octets, 254 in all, not all digits; others are dropped and reported with
// an error (net/dnsclient.go isDomainName). The root is kept.
func netDomainName(s string) bool {
	if s == "." {
		return true
	}
	if len(s) == 0 || len(s) > 254 {
		return false
	}
	nonNumeric := false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
			nonNumeric = true
		case '0' <= c && c <= '9':
		case c == '-':
			if i == start || i+1 == len(s) || s[i+1] == '.' {
				return false
			}
			nonNumeric = true
		case c == '.':
			if l := i - start; l == 0 || l > dnsname.MaxLabel {
				return false
			}
			start = i + 1
		default:
			return false
		}
	}
	return nonNumeric
}

// errTextInvalidNames is net's text for results dropped by netDomainName.
const errTextInvalidNames = "DNS response contained records which contain invalid names"

// NameError reports a name holding octets this package does not accept in
// a raw name: octets outside US-ASCII that are not valid UTF-8, so that the
// label can be neither a U-label nor left as it is without ambiguity.
type NameError struct {
	Name  string // the name as given
	Octet byte   // the first octet refused
}

// Error names the refused octet and the name.
func (e *NameError) Error() string {
	return "resolver: octet " + strconv.Quote(string([]byte{e.Octet})) + " not allowed in name " + strconv.Quote(e.Name)
}
