package postfix

import (
	"errors"
	"strconv"
)

// Sentinel errors of the parsers, wrapped in a [*ProtocolError]; test for
// them with errors.Is.
var (
	// ErrMalformed: the request does not follow the protocol's syntax.
	ErrMalformed = errors.New("postfix: malformed request")
	// ErrTooLarge: the request exceeds the size limit, or has too many
	// attributes.
	ErrTooLarge = errors.New("postfix: request too large")
	// ErrInvalidAction: a policy handler returned an action that cannot be
	// sent (empty, or holding a line break or NUL).
	ErrInvalidAction = errors.New("postfix: invalid policy action")
)

// ProtocolError describes a request that could not be parsed.
type ProtocolError struct {
	Proto  string // "policy", "socketmap" or "tcp_table"
	Offset int    // octets of the request read before the problem
	Detail string // what is wrong, for logs; not stable
	Err    error  // ErrMalformed or ErrTooLarge
}

func (e *ProtocolError) Error() string {
	return "postfix: " + e.Proto + ": " + e.Detail + " (at octet " + strconv.Itoa(e.Offset) + ")"
}

// Unwrap returns the sentinel.
func (e *ProtocolError) Unwrap() error { return e.Err }

func malformed(proto string, off int, detail string) error {
	return &ProtocolError{Proto: proto, Offset: off, Detail: detail, Err: ErrMalformed}
}

func tooLarge(proto string, off int, detail string) error {
	return &ProtocolError{Proto: proto, Offset: off, Detail: detail, Err: ErrTooLarge}
}
