package requiretls

import (
	"errors"
	"strings"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
)

// Keyword is the EHLO keyword and the MAIL FROM parameter of the extension
// (RFC 8689 §2). Neither takes a value.
const Keyword = "REQUIRETLS"

// LineRaise is how many octets RFC 8689 §2 adds to the MAIL FROM line limit
// of a server offering REQUIRETLS: a space and the keyword.
const LineRaise = 11

// Param is an ESMTP parameter of MAIL FROM or RCPT TO: esmtp-keyword
// ["=" esmtp-value] (RFC 5321 §4.1.2). Keyword is upper-case.
type Param = esmtp.Param

// Errors wrapped in the *smtpsec.ReplyError that the receiver checks return.
var (
	// ErrNoTLS: REQUIRETLS on MAIL FROM of a session without TLS, where the
	// extension is not offered (RFC 8689 §2).
	ErrNoTLS = errors.New("requiretls: REQUIRETLS parameter on a session without TLS")
	// ErrParamValue: REQUIRETLS given a value; the parameter has none
	// (RFC 8689 §2: requiretls-param = "REQUIRETLS").
	ErrParamValue = errors.New("requiretls: REQUIRETLS parameter with a value")
	// ErrNotMail: ParseMailFrom was given a command other than MAIL FROM.
	ErrNotMail = errors.New("requiretls: not a MAIL FROM command")
)

// ServerSession is what a receiver knows about its SMTP session when it
// decides on REQUIRETLS. The zero value is a plaintext session.
type ServerSession struct {
	// TLS reports whether TLS is active: after a successful STARTTLS
	// handshake (RFC 3207) or on an implicit-TLS port. False: plaintext.
	TLS bool
	// Extensions are the other EHLO keywords the server offers. Those that
	// raise the MAIL FROM line limit (SIZE) raise it here too, and SMTPUTF8
	// admits UTF-8 in the reverse path and parameter values (RFC 6531).
	// Nil: none.
	Extensions []string
}

// Advertise reports whether the EHLO reply lists REQUIRETLS: only when TLS is
// active. RFC 8689 §2 lets a client use the option only when the server lists
// it after STARTTLS, so offering it in plaintext would only invite a client
// to send it over a session an attacker can rewrite.
func (s ServerSession) Advertise() bool { return s.TLS }

// MailLineLimit returns the longest MAIL FROM line, CRLF included, that the
// server accepts: 512 octets (RFC 5321 §4.5.3.1.4) plus the raise of every
// offered extension, 11 octets for REQUIRETLS when it is advertised (RFC 8689
// §2).
func (s ServerSession) MailLineLimit() int {
	ext := s.Extensions
	if s.Advertise() {
		ext = append(ext[:len(ext):len(ext)], Keyword)
	}
	return esmtp.MailLineLimit(ext...)
}

// CheckParam judges a REQUIRETLS parameter received on MAIL FROM. It returns
// nil when the parameter is acceptable: TLS is active and the parameter has
// no value. Otherwise it returns a *smtpsec.ReplyError with the reply of
// [ReplyParamNotOffered] (555 5.5.4) wrapping ErrNoTLS or ErrParamValue.
// A parameter with another keyword is not its concern and gives nil.
func (s ServerSession) CheckParam(p Param) error {
	if !strings.EqualFold(p.Keyword, Keyword) {
		return nil
	}
	switch {
	case !s.TLS:
		// RFC 8689 §2: the option is valid only in a session using TLS.
		return &smtpsec.ReplyError{Reply: ReplyParamNotOffered(Param{Keyword: Keyword, Value: p.Value, HasValue: p.HasValue}.String()), Err: ErrNoTLS}
	case p.HasValue:
		// RFC 8689 §2: requiretls-param = "REQUIRETLS", no value.
		return &smtpsec.ReplyError{Reply: ReplyParamNotOffered(Keyword + "=" + p.Value), Err: ErrParamValue}
	}
	return nil
}

// CheckParams applies CheckParam to every parameter of a MAIL FROM that
// another parser already split (a server framework's hook), and reports
// whether an acceptable REQUIRETLS was among them: the message is then tagged
// [TagRequireTLS]. The error is CheckParam's.
func (s ServerSession) CheckParams(params []Param) (requireTLS bool, err error) {
	for _, p := range params {
		if !strings.EqualFold(p.Keyword, Keyword) {
			continue
		}
		if err := s.CheckParam(p); err != nil {
			return false, err
		}
		requireTLS = true
	}
	return requireTLS, nil
}

// MailFrom is a MAIL FROM command as a receiver accepted it.
type MailFrom struct {
	// ReversePath is the text between the angle brackets; "" is the null
	// reverse path "<>".
	ReversePath string
	// RequireTLS reports whether the REQUIRETLS parameter was present (and
	// accepted): the message must be tagged [TagRequireTLS] (RFC 8689 §4.1).
	RequireTLS bool
	// Params are all parameters in the order sent, REQUIRETLS included.
	Params []Param
}

// ParseMailFrom parses a MAIL FROM command line, with or without CRLF, and
// applies the REQUIRETLS rules of the session: the line limit raised by 11
// octets only when REQUIRETLS is offered, and [ServerSession.CheckParam] on
// the parameter. Keywords are case-insensitive and may appear once
// (RFC 5321 §4.1.2). Parameters other than REQUIRETLS are returned for the
// caller to judge.
//
// Every error is a *smtpsec.ReplyError carrying the reply to send: 555 5.5.4
// for REQUIRETLS on plaintext or with a value, 501 5.5.4 for a malformed or
// repeated parameter, 501 5.5.2 for a malformed command, 500 5.5.2 for a line
// too long.
func (s ServerSession) ParseMailFrom(line string) (*MailFrom, error) {
	opts := esmtp.Options{MaxLine: s.MailLineLimit()}
	for _, e := range s.Extensions {
		if strings.EqualFold(e, "SMTPUTF8") {
			opts.UTF8 = true
		}
	}
	c, err := esmtp.ParseCommand(line, opts)
	if err != nil {
		var se *esmtp.SyntaxError
		if errors.As(err, &se) {
			return nil, &smtpsec.ReplyError{Reply: se.Reply(), Err: err}
		}
		return nil, err
	}
	if c.Verb != esmtp.Mail {
		return nil, &smtpsec.ReplyError{
			Reply: smtpsec.Reply{Code: 501, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 2}, Text: "Syntax error in command"},
			Err:   ErrNotMail,
		}
	}
	m := &MailFrom{ReversePath: c.Path, Params: c.Params}
	if p, ok := c.Params.Get(Keyword); ok {
		if err := s.CheckParam(p); err != nil {
			return nil, err
		}
		m.RequireTLS = true
	}
	return m, nil
}
