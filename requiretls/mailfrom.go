package requiretls

import (
	"errors"
	"strings"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
)

// Errors of [Decision.MailFrom].
var (
	// ErrRefused: the decision does not allow the message on this hop. It
	// is wrapped in a *smtpsec.ReplyError carrying the decision's reply.
	ErrRefused = errors.New("requiretls: message may not be sent on this hop")
	// ErrReservedParam: the caller passed a REQUIRETLS parameter itself;
	// only the gate adds it.
	ErrReservedParam = errors.New("requiretls: REQUIRETLS parameter is added by the gate only")
)

// MailFrom returns the MAIL FROM command line, with its CRLF, for this hop:
// "MAIL FROM:<reversePath> params... [REQUIRETLS]". REQUIRETLS is added
// exactly when [Decision.RequireTLS] is true, that is when [CheckHop] or
// [CheckSession] found the hop fit for it; a caller cannot add it through
// params (ErrReservedParam). The line limit is 512 octets raised by the
// extensions whose parameters it carries (11 for REQUIRETLS, RFC 8689 §2;
// 26 for SIZE). SMTPUTF8 among params admits a UTF-8 reverse path.
//
// A Decision that does not allow sending gives a *smtpsec.ReplyError with the
// decision's reply, wrapping ErrRefused. A malformed path or parameter gives
// the *esmtp-level syntax error, wrapped in a *smtpsec.ReplyError too.
func (d Decision) MailFrom(reversePath string, params []Param) (string, error) {
	if !d.send {
		return "", &smtpsec.ReplyError{Reply: d.Reply(), Err: ErrRefused}
	}
	ps := make(esmtp.Params, 0, len(params)+1)
	keywords := make([]string, 0, len(params)+1)
	opts := esmtp.Options{}
	for _, p := range params {
		if strings.EqualFold(p.Keyword, Keyword) {
			return "", &smtpsec.ReplyError{
				Reply: smtpsec.Reply{Code: 554, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 4}, Text: "REQUIRETLS is added by the gate only"},
				Err:   ErrReservedParam,
			}
		}
		if strings.EqualFold(p.Keyword, "SMTPUTF8") {
			opts.UTF8 = true
		}
		ps = append(ps, p)
		keywords = append(keywords, p.Keyword)
	}
	if d.requireTLS {
		ps = append(ps, Param{Keyword: Keyword})
		keywords = append(keywords, Keyword)
	}
	opts.MaxLine = esmtp.MailLineLimit(keywords...)
	line, err := esmtp.FormatCommand(esmtp.Mail, reversePath, ps, opts)
	if err != nil {
		var se *esmtp.SyntaxError
		if errors.As(err, &se) {
			r := se.Reply()
			r.Code = 554 // our own command is wrong: a local, permanent error
			return "", &smtpsec.ReplyError{Reply: r, Err: err}
		}
		return "", err
	}
	return line, nil
}
