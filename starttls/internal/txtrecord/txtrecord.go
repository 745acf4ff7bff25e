// Package txtrecord holds what the TXT records of MTA-STS (RFC 8461 §3.1)
// and TLS-RPT (RFC 8460 §3) have in common: discovery of the one record
// that starts with the version field, the extension grammar, and the shape
// of the error a failed discovery returns.
package txtrecord

import (
	"context"
	"strconv"

	"github.com/smtpsec/smtpsec/resolver"
)

// Kinds are a package's sentinel errors for the ways Lookup fails.
type Kinds struct {
	NoRecord, MultipleRecords, RecordSyntax, DNS error
}

// Lookup looks up the TXT records at name, drops those for which isRecord
// is false and parses the one that remains. On failure rec is the zero
// value, kind is one of k's errors and cause is what caused it, nil when
// there is nothing more to say:
//
//   - k.NoRecord: name does not exist or has no TXT records (cause: the
//     resolver's error), or every record was dropped;
//   - k.MultipleRecords: more than one record remains, which RFC 8461 §3.1
//     and RFC 8460 §3 treat as no record;
//   - k.RecordSyntax: parse failed (cause: its error);
//   - k.DNS: the lookup failed without a definite answer (cause: the
//     resolver's error).
func Lookup[R any](ctx context.Context, r resolver.Resolver, name string, isRecord func(string) bool, parse func(string) (R, error), k Kinds) (rec R, kind, cause error) {
	txts, err := r.LookupTXT(ctx, name)
	if err != nil {
		if resolver.IsNotFound(err) {
			return rec, k.NoRecord, err
		}
		return rec, k.DNS, err
	}
	var kept []string
	for _, t := range txts {
		if isRecord(t) {
			kept = append(kept, t)
		}
	}
	switch len(kept) {
	case 0:
		return rec, k.NoRecord, nil
	case 1:
	default:
		return rec, k.MultipleRecords, nil
	}
	rec, err = parse(kept[0])
	if err != nil {
		return rec, k.RecordSyntax, err
	}
	return rec, nil, nil
}

// LookupErrorText is the text of a failed lookup for domain: kind, " for ",
// the quoted domain and, when cause is not nil, ": " and the cause.
func LookupErrorText(kind error, domain string, cause error) string {
	s := kind.Error() + " for " + strconv.Quote(domain)
	if cause != nil {
		s += ": " + cause.Error()
	}
	return s
}

// Unwrap is the Unwrap method of an error with a kind and a cause: kind
// and cause, or kind alone when cause is nil.
func Unwrap(kind, cause error) []error {
	if cause != nil {
		return []error{kind, cause}
	}
	return []error{kind}
}

// IsExtName reports whether s is an extension name, the same in the
// MTA-STS record and policy (RFC 8461 §3.1, §3.2) and the TLS-RPT record
// (RFC 8460 §3):
//
//	ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
func IsExtName(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z':
		case i > 0 && (c == '_' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// IsExtValue reports whether s is an extension value of the MTA-STS or
// TLS-RPT TXT record, visible ASCII except ";" and "=":
//
//	ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
//
// The MTA-STS policy file has a grammar of its own for values.
func IsExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}
