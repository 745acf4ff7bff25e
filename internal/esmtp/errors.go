package esmtp

import (
	"errors"
	"strconv"

	"github.com/smtpsec/smtpsec"
)

// Errors wrapped in *SyntaxError. Branch on them with errors.Is.
var (
	ErrLineTooLong = errors.New("esmtp: command line too long")
	ErrSyntax      = errors.New("esmtp: command syntax error")
	ErrKeyword     = errors.New("esmtp: invalid parameter keyword")
	ErrValue       = errors.New("esmtp: invalid parameter value")
	ErrDuplicate   = errors.New("esmtp: duplicate parameter")
	ErrTooMany     = errors.New("esmtp: too many parameters")
	ErrXText       = errors.New("esmtp: invalid xtext")
)

// SyntaxError reports where a command line, parameter or xtext is invalid.
type SyntaxError struct {
	Offset  int    // octet offset of the problem in the parsed string
	Keyword string // the parameter concerned, upper-case, when known
	Err     error  // one of the Err* values of this package
}

func (e *SyntaxError) Error() string {
	s := e.Err.Error() + " at offset " + strconv.Itoa(e.Offset)
	if e.Keyword != "" {
		s += " (" + e.Keyword + ")"
	}
	return s
}

// Unwrap returns the sentinel.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Reply returns the reply a server sends for the error, built fresh:
//
//   - a line too long: 500 5.5.2 (RFC 5321 §4.5.3.1.4 and §4.2.2 give 500);
//   - a malformed command or path: 501 5.5.2 (RFC 3463 X.5.2, syntax error);
//   - a malformed, repeated or surplus parameter: 501 5.5.4 (RFC 3463 X.5.4,
//     invalid command arguments).
func (e *SyntaxError) Reply() smtpsec.Reply {
	switch {
	case errors.Is(e.Err, ErrLineTooLong):
		return smtpsec.Reply{Code: 500, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 2}, Text: "Line too long"}
	case errors.Is(e.Err, ErrSyntax):
		return smtpsec.Reply{Code: 501, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 2}, Text: "Syntax error in command"}
	case errors.Is(e.Err, ErrDuplicate):
		return smtpsec.Reply{Code: 501, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 4}, Text: "Duplicate parameter " + e.Keyword}
	default:
		return smtpsec.Reply{Code: 501, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 4}, Text: "Syntax error in parameters"}
	}
}
