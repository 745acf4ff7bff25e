package forward

import (
	"errors"
	"strings"
)

// Sentinel errors. [SRS.Forward], [SRS.Reverse], [Parse] and [NewSRS] return
// them wrapped in an [*Error] (or, for NewSRS, a [*ConfigError]); test for them
// with errors.Is.
var (
	// ErrNotSRS: the local part does not start with SRS0 or SRS1 followed
	// by one of the separators '=', '+' or '-' (case-insensitive).
	ErrNotSRS = errors.New("forward: not an SRS address")
	// ErrMalformed: an SRS address lacks one of its fields; Error.Field
	// names the first one missing.
	ErrMalformed = errors.New("forward: malformed SRS address")
	// ErrBadTimestamp: the SRS0 timestamp is not two base32 characters.
	ErrBadTimestamp = errors.New("forward: bad timestamp")
	// ErrExpired: the SRS0 timestamp is older than Config.MaxAge (or lies
	// more than one day in the future).
	ErrExpired = errors.New("forward: timestamp expired")
	// ErrHashTooShort: the hash has fewer than Config.HashMinLength
	// characters.
	ErrHashTooShort = errors.New("forward: hash too short")
	// ErrHashInvalid: the hash matches none of the secrets.
	ErrHashInvalid = errors.New("forward: hash invalid")
	// ErrNoAt: the sender has no '@'.
	ErrNoAt = errors.New("forward: no @ in address")
	// ErrExcluded: the sender's domain is in Config.ExcludeDomains.
	ErrExcluded = errors.New("forward: domain excluded from rewriting")
	// ErrAlreadyRewritten: the sender is an SRS address that this SRS
	// instance minted and that still verifies; rewriting it again would
	// only lengthen it.
	ErrAlreadyRewritten = errors.New("forward: already rewritten by this SRS domain")
	// ErrBadSender: the sender cannot be rewritten into an address that
	// reverses to it (a domain containing '=').
	ErrBadSender = errors.New("forward: sender cannot be rewritten")
	// ErrTooLong: the input, or the address Forward would produce, is
	// longer than [MaxAddressLength] octets.
	ErrTooLong = errors.New("forward: address too long")
	// ErrLocalPartTooLong: with Config.LimitLocalPart, the SRS local part
	// would exceed 64 octets (RFC 5321 §4.5.3.1.1).
	ErrLocalPartTooLong = errors.New("forward: SRS local part longer than 64 octets")
	// ErrInvalidConfig: NewSRS was given an unusable Config.
	ErrInvalidConfig = errors.New("forward: invalid config")
)

// Field names reported in [Error.Field] for [ErrMalformed] and for the
// checks of a single field.
const (
	FieldHash      = "hash"
	FieldTimestamp = "timestamp"
	FieldHost      = "host"      // SRS0: the original sender's domain
	FieldUser      = "user"      // SRS0: the original local part
	FieldFirstHop  = "first hop" // SRS1: the first forwarder's domain
	FieldOpaque    = "opaque"    // SRS1: the first forwarder's SRS0 remainder
)

// Error is the error returned by Forward, Reverse and Parse. It wraps one of
// the sentinels above.
type Error struct {
	Op      string // "forward", "reverse" or "parse"
	Address string // the input as given
	Field   string // the SRS field concerned, one of the Field* constants, or ""
	Detail  string // extra explanation for people, not stable; may be ""
	Err     error  // the sentinel
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("forward: ")
	b.WriteString(e.Op)
	b.WriteString(" ")
	b.WriteString(quote(e.Address))
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "forward: "))
	if e.Field != "" {
		b.WriteString(" (")
		b.WriteString(e.Field)
		b.WriteString(")")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// ConfigError is returned by NewSRS. It wraps ErrInvalidConfig and, where
// there is one, the underlying cause (such as a *dnsname.Error).
type ConfigError struct {
	Field string // the Config field at fault, e.g. "Secrets"
	Msg   string
	Cause error
}

func (e *ConfigError) Error() string {
	s := "forward: invalid config: " + e.Field + ": " + e.Msg
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns ErrInvalidConfig and the cause, if any.
func (e *ConfigError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrInvalidConfig, e.Cause}
	}
	return []error{ErrInvalidConfig}
}

// quote renders an address for an error message: bounded, valid UTF-8,
// control characters escaped.
func quote(s string) string {
	const max = 100
	suffix := ""
	if len(s) > max {
		s, suffix = s[:max], "..."
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			const hex = "0123456789abcdef"
			b.WriteString(`\x`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(suffix)
	b.WriteByte('"')
	return b.String()
}
