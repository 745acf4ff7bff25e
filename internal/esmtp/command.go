package esmtp

import (
	"strings"
	"unicode/utf8"
)

// Verb is the command whose parameters are parsed.
type Verb string

// The commands that carry ESMTP parameters.
const (
	Mail Verb = "MAIL FROM" // RFC 5321 §4.1.1.2
	Rcpt Verb = "RCPT TO"   // RFC 5321 §4.1.1.3
)

// Command is a parsed MAIL FROM or RCPT TO command.
type Command struct {
	Verb Verb
	// Path is the text between the angle brackets, as sent: a mailbox, a
	// mailbox after a source route ("@a.example:b@c.example"), or "" for the
	// null reverse path "<>".
	Path   string
	Params Params
}

// ParseCommand parses a MAIL FROM or RCPT TO command line (RFC 5321
// §4.1.1.2, §4.1.1.3), with or without its final CRLF:
//
//	"MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
//	"RCPT TO:" Forward-path [SP Rcpt-parameters] CRLF
//
// The verb is case-insensitive. As a documented leniency that Postfix and
// most servers share, spaces between the colon and the path are accepted.
// The path must be in angle brackets; a quoted local part may hold ">" and
// spaces. The path is not validated as a mailbox: that is the caller's
// policy. Errors are *SyntaxError wrapping ErrLineTooLong, ErrSyntax or one of
// the parameter errors of [ParseParams].
func ParseCommand(line string, opts Options) (*Command, error) {
	line = strings.TrimSuffix(line, "\r\n")
	if len(line)+2 > opts.maxLine() {
		return nil, &SyntaxError{Offset: opts.maxLine() - 2, Err: ErrLineTooLong}
	}
	if i := strings.IndexAny(line, "\r\n\x00"); i >= 0 {
		return nil, &SyntaxError{Offset: i, Err: ErrSyntax}
	}
	var verb Verb
	switch {
	case hasPrefixFold(line, string(Mail)+":"):
		verb = Mail
	case hasPrefixFold(line, string(Rcpt)+":"):
		verb = Rcpt
	default:
		return nil, &SyntaxError{Offset: 0, Err: ErrSyntax}
	}
	i := len(verb) + 1
	for i < len(line) && line[i] == ' ' {
		i++
	}
	end, err := scanPath(line, i, opts.UTF8)
	if err != nil {
		return nil, err
	}
	c := &Command{Verb: verb, Path: line[i+1 : end-1]}
	if end == len(line) {
		return c, nil
	}
	if line[end] != ' ' {
		return nil, &SyntaxError{Offset: end, Err: ErrSyntax}
	}
	ps, err := parseParams(line[end+1:], end+1, opts)
	if err != nil {
		return nil, err
	}
	c.Params = ps
	return c, nil
}

// scanPath scans "<" ... ">" starting at line[i] and returns the offset just
// after ">". Inside a quoted string, "\" escapes the next octet and ">" does
// not end the path.
func scanPath(line string, i int, utf8OK bool) (int, error) {
	if i >= len(line) || line[i] != '<' {
		return 0, &SyntaxError{Offset: i, Err: ErrSyntax}
	}
	quoted := false
	for j := i + 1; j < len(line); j++ {
		c := line[j]
		switch {
		case c >= utf8.RuneSelf:
			if !utf8OK {
				return 0, &SyntaxError{Offset: j, Err: ErrSyntax}
			}
		case c < ' ' || c == 0x7f:
			return 0, &SyntaxError{Offset: j, Err: ErrSyntax}
		case quoted && c == '\\':
			j++
			if j == len(line) {
				return 0, &SyntaxError{Offset: j, Err: ErrSyntax}
			}
		case c == '"':
			quoted = !quoted
		case !quoted && c == ' ':
			return 0, &SyntaxError{Offset: j, Err: ErrSyntax}
		case !quoted && c == '<':
			return 0, &SyntaxError{Offset: j, Err: ErrSyntax}
		case !quoted && c == '>':
			if utf8OK && !utf8.ValidString(line[i:j]) {
				return 0, &SyntaxError{Offset: i, Err: ErrSyntax}
			}
			return j + 1, nil
		}
	}
	return 0, &SyntaxError{Offset: len(line), Err: ErrSyntax}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// FormatCommand returns the command line for verb, path and params, with its
// CRLF: "MAIL FROM:<path> P1 P2\r\n". It refuses (with a *SyntaxError) a
// path holding angle brackets outside quotes, spaces outside quotes or
// control characters, parameters that [FormatParams] refuses, and a line
// longer than opts.MaxLine.
func FormatCommand(verb Verb, path string, params Params, opts Options) (string, error) {
	if verb != Mail && verb != Rcpt {
		return "", &SyntaxError{Err: ErrSyntax}
	}
	head := string(verb) + ":<" + path + ">"
	if end, err := scanPath(head, len(verb)+1, opts.UTF8); err != nil || end != len(head) {
		if err == nil {
			err = &SyntaxError{Offset: end, Err: ErrSyntax}
		}
		return "", err
	}
	ps, err := FormatParams(params, opts)
	if err != nil {
		return "", err
	}
	line := head
	if ps != "" {
		line += " " + ps
	}
	if len(line)+2 > opts.maxLine() {
		return "", &SyntaxError{Offset: opts.maxLine() - 2, Err: ErrLineTooLong}
	}
	return line + "\r\n", nil
}
