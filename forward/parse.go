package forward

import (
	"strconv"
	"strings"
)

// MaxAddressLength is the longest address, in octets, that Forward produces
// and that Reverse and Parse accept: the 1024-byte buffer of libsrs2 as used
// by postsrsd 1.x, less its terminating NUL.
const MaxAddressLength = 1023

// Kind tells the two SRS address forms apart; its value is the tag's digit.
type Kind uint8

// The SRS address forms.
const (
	SRS0 Kind = 0 // minted by the first forwarder: hash, timestamp, original host and user
	SRS1 Kind = 1 // minted by later forwarders: hash, first forwarder's host, opaque SRS0 remainder
)

// String returns "SRS0" or "SRS1".
func (k Kind) String() string {
	switch k {
	case SRS0:
		return "SRS0"
	case SRS1:
		return "SRS1"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Address holds the fields of an SRS address as [Parse] found them. Parse
// checks syntax only: the hash is not verified, and the timestamp's age is
// not checked.
//
// The layouts are (sep is '=', '+' or '-'; every other separator is '='):
//
//	SRS0 sep Hash = Timestamp = Host = User @ Domain
//	SRS1 sep Hash = FirstHop = Opaque @ Domain
//
// where an SRS1 Opaque is the first forwarder's SRS0 local part without its
// "SRS0" tag, starting with that forwarder's separator, so that a chain of
// forwarders shows "==" (or "=+", "=-") after the first hop's host.
type Address struct {
	Kind      Kind
	Separator byte   // the character after the tag: '=', '+' or '-'
	Hash      string // as found; may be empty (Reverse then reports ErrHashTooShort)
	Timestamp string // SRS0: two base32 characters (A-Z, 2-7, any case)
	Host      string // SRS0: the original sender's domain
	User      string // SRS0: the original local part; may contain '='
	FirstHop  string // SRS1: the domain of the forwarder that minted the SRS0
	Opaque    string // SRS1: the rest of that SRS0 local part, from its separator on
	Domain    string // the part after the last '@', or "" when there is none
}

// String returns the address in its wire form, with the tag in upper case.
// When Domain is empty, the "@" is left out, unless the local part holds an
// '@' itself (so that the result parses back to the same fields).
func (a Address) String() string {
	var b strings.Builder
	b.WriteString(a.Kind.String())
	b.WriteByte(a.Separator)
	b.WriteString(a.Hash)
	b.WriteByte('=')
	if a.Kind == SRS1 {
		b.WriteString(a.FirstHop)
		b.WriteByte('=')
		b.WriteString(a.Opaque)
	} else {
		b.WriteString(a.Timestamp)
		b.WriteByte('=')
		b.WriteString(a.Host)
		b.WriteByte('=')
		b.WriteString(a.User)
	}
	if a.Domain != "" || strings.IndexByte(b.String(), '@') >= 0 {
		b.WriteByte('@')
		b.WriteString(a.Domain)
	}
	return b.String()
}

// Original returns the sender that the SRS chain started from, for logs: for
// SRS0 User@Host, for SRS1 the user and host inside Opaque when it has the
// SRS0 layout. ok is false when Opaque does not parse. The result is not
// authenticated: only the SRS domain's own Reverse can tell that an SRS
// address is genuine, so never base a policy decision on it.
func (a Address) Original() (sender string, ok bool) {
	switch a.Kind {
	case SRS0:
		return a.User + "@" + a.Host, true
	case SRS1:
		var inner Address
		if err := parseFields("SRS0"+a.Opaque, &inner); err != nil || inner.Kind != SRS0 {
			return "", false
		}
		return inner.User + "@" + inner.Host, true
	}
	return "", false
}

// Parse splits an SRS0 or SRS1 address into its fields. It accepts the
// local part alone, too. It does no cryptography and does not look at the
// clock; use [SRS.Reverse] to verify an address.
//
// The address is split at its last '@' (postsrsd splits at the first; the two
// differ only for local parts containing '@', see the package documentation).
// The tag is matched case-insensitively. Errors, wrapped in *Error:
// ErrTooLong, ErrNotSRS, ErrMalformed (with the missing field in Error.Field)
// and ErrBadTimestamp.
func Parse(addr string) (Address, error) {
	if len(addr) > MaxAddressLength {
		return Address{}, &Error{Op: "parse", Address: addr, Err: ErrTooLong}
	}
	var a Address
	if perr := parseLocal(addr, &a); perr != nil {
		return Address{}, &Error{Op: "parse", Address: addr, Field: perr.field, Err: perr.err}
	}
	return a, nil
}

// fieldError is the allocation-free error of the internal parsers; the API
// functions turn it into an *Error.
type fieldError struct {
	err   error
	field string
}

var (
	errNotSRS       = &fieldError{err: ErrNotSRS}
	errNoHash0      = &fieldError{err: ErrMalformed, field: FieldHash}
	errNoStamp      = &fieldError{err: ErrMalformed, field: FieldTimestamp}
	errNoHost       = &fieldError{err: ErrMalformed, field: FieldHost}
	errNoUser       = &fieldError{err: ErrMalformed, field: FieldUser}
	errNoFirstHop   = &fieldError{err: ErrMalformed, field: FieldFirstHop}
	errNoOpaque     = &fieldError{err: ErrMalformed, field: FieldOpaque}
	errBadStamp     = &fieldError{err: ErrBadTimestamp, field: FieldTimestamp}
	errExpired      = &fieldError{err: ErrExpired, field: FieldTimestamp}
	errHashTooShort = &fieldError{err: ErrHashTooShort, field: FieldHash}
	errHashInvalid  = &fieldError{err: ErrHashInvalid, field: FieldHash}
)

// isSeparator reports whether c may follow the SRS0/SRS1 tag.
func isSeparator(c byte) bool { return c == '=' || c == '+' || c == '-' }

// tagKind reports whether local starts with "SRS0" or "SRS1"
// (case-insensitive) followed by a separator.
func tagKind(local string) (Kind, bool) {
	if len(local) < 5 || !isSeparator(local[4]) {
		return 0, false
	}
	if local[0]|0x20 != 's' || local[1]|0x20 != 'r' || local[2]|0x20 != 's' {
		return 0, false
	}
	switch local[3] {
	case '0':
		return SRS0, true
	case '1':
		return SRS1, true
	}
	return 0, false
}

// parseLocal parses addr (local part, optionally with "@domain"), split at
// the last '@', into *a. On error, *a is left partly filled.
func parseLocal(addr string, a *Address) *fieldError {
	local := addr
	if at := lastAt(addr); at >= 0 {
		local, a.Domain = addr[:at], addr[at+1:]
	}
	return parseFields(local, a)
}

// parseFields parses an SRS local part as the libsrs2 parsers do: fields
// are cut at the first '=' after the previous one, the last field takes the
// rest. A field may be empty, but each '=' must be there. Pointers, not
// values, keep the hot path of Reverse free of struct copies.
func parseFields(local string, a *Address) *fieldError {
	kind, ok := tagKind(local)
	if !ok {
		return errNotSRS
	}
	a.Kind, a.Separator = kind, local[4]
	rest := local[5:]
	if rest == "" {
		// libsrs2: "No hash in SRS0 / SRS1 address".
		return errNoHash0
	}
	// The positions of the first three '=' of rest (SRS1 uses two); a
	// plain loop beats three calls of strings.IndexByte on addresses this
	// short.
	var eq [3]int
	found := 0
	for i := 0; i < len(rest) && found < 3; i++ {
		if rest[i] == '=' {
			eq[found] = i
			found++
		}
	}
	if kind == SRS1 {
		// libsrs2 srs_parse_guarded: "No host / user in SRS1 address".
		switch found {
		case 0:
			return errNoFirstHop
		case 1:
			return errNoOpaque
		}
		a.Hash = rest[:eq[0]]
		a.FirstHop = rest[eq[0]+1 : eq[1]]
		a.Opaque = rest[eq[1]+1:]
		return nil
	}
	// libsrs2 srs_parse_shortcut: "No timestamp / host / user in SRS0
	// address".
	switch found {
	case 0:
		return errNoStamp
	case 1:
		return errNoHost
	case 2:
		return errNoUser
	}
	a.Hash = rest[:eq[0]]
	a.Timestamp = rest[eq[0]+1 : eq[1]]
	a.Host = rest[eq[1]+1 : eq[2]]
	a.User = rest[eq[2]+1:]
	if _, ok := decodeStamp(a.Timestamp); !ok {
		return errBadStamp
	}
	return nil
}
