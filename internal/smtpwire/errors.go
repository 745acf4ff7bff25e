package smtpwire

import (
	"errors"
	"strconv"
)

// Errors returned by the readers, alone or wrapped in a *SyntaxError.
var (
	// ErrLineTooLong means a line exceeded the line limit. The stream is
	// out of step: close the connection.
	ErrLineTooLong = errors.New("smtpwire: line too long")
	// ErrTooManyLines means a multi-line reply had more lines than allowed.
	ErrTooManyLines = errors.New("smtpwire: too many lines in reply")
	// ErrReplyTooLarge means a reply's lines together exceeded the byte limit.
	ErrReplyTooLarge = errors.New("smtpwire: reply too large")
	// ErrMessageTooLarge means message data exceeded its size limit. The
	// data was read to its end, so the session can go on.
	ErrMessageTooLarge = errors.New("smtpwire: message too large")
	// ErrBareLineEnding means a CR or LF not part of a CRLF pair (RFC 5321
	// §2.3.8).
	ErrBareLineEnding = errors.New("smtpwire: bare CR or LF")
	// ErrSyntax means a reply or command line is malformed.
	ErrSyntax = errors.New("smtpwire: syntax error")
)

// SyntaxError describes a malformed line. Err is one of the package's
// sentinel errors; Line is the offending line (truncated to 128 octets).
type SyntaxError struct {
	Line   string
	Reason string
	Err    error
}

func (e *SyntaxError) Error() string {
	return "smtpwire: " + e.Reason + ": " + strconv.Quote(e.Line)
}

// Unwrap returns the sentinel.
func (e *SyntaxError) Unwrap() error { return e.Err }

func syntaxError(line []byte, reason string, err error) *SyntaxError {
	if len(line) > 128 {
		line = line[:128]
	}
	return &SyntaxError{Line: string(line), Reason: reason, Err: err}
}
