package requiretls

import (
	"context"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/starttls"
)

// HopOf returns the facts of the hop that s is connected to, as [CheckHop]
// takes them: TLS from s.Encrypted, Auth and Level from the upgrade, and
// RequireTLS only when the EHLO reply inside TLS listed it (a Session in
// plaintext never counts the keyword, whoever advertised it). mx is how the
// caller authenticated the host name it dialled.
func HopOf(s *starttls.Session, mx MXAuth) Hop {
	if s == nil {
		return Hop{MX: mx}
	}
	tls := s.Encrypted()
	return Hop{
		TLS:        tls,
		Auth:       s.Authentication(),
		Level:      s.Level(),
		MX:         mx,
		RequireTLS: tls && s.Extensions().Has(Keyword),
	}
}

// CheckSession is [CheckHop] on the facts of a starttls session ([HopOf]).
func CheckSession(tag Tag, s *starttls.Session, mx MXAuth) Decision {
	return CheckHop(tag, HopOf(s, mx))
}

// MailInput is one message's MAIL FROM on one session.
type MailInput struct {
	// Tag is the message's tag.
	Tag Tag
	// MX is how the host name of the session's server was authenticated.
	MX MXAuth
	// ReversePath is the envelope sender, "" for the null reverse path.
	ReversePath string
	// Params are the other MAIL FROM parameters (SIZE, BODY, ...).
	// REQUIRETLS may not be among them: the gate adds it.
	Params []Param
}

// Mail sends MAIL FROM for a message on s, through the gate: it decides with
// [CheckSession] from the session's own state, refuses before sending
// anything when the message may not go on this hop, and otherwise sends the
// line [Decision.MailFrom] writes (with REQUIRETLS exactly when the decision
// says so) and returns the server's reply. A reply that is not 250 is
// returned as it is, with no error.
//
// The Decision is returned in every case, for [Exhausted] once every MX host
// has been tried. When the gate refuses, the error is a *smtpsec.ReplyError
// with the decision's reply (5.7.10 or 5.7.30), wrapping ErrRefused; the
// caller then sends QUIT and tries the next MX host (RFC 8689 §4.2.1).
// Errors of the session (timeouts, a dropped connection) are returned as
// Session.Command returns them.
func Mail(ctx context.Context, s *starttls.Session, in MailInput) (Decision, smtpsec.Reply, error) {
	d := CheckSession(in.Tag, s, in.MX)
	line, err := d.MailFrom(in.ReversePath, in.Params)
	if err != nil {
		return d, smtpsec.Reply{}, err
	}
	r, err := s.Command(ctx, line[:len(line)-2])
	return d, r, err
}

// Relax returns the policy for a message tagged "TLS-Required: No" (RFC 8689
// §4.2.2): opportunistic TLS. STARTTLS is still tried, but no certificate is
// checked and a server without STARTTLS gets the message in plaintext, so
// MTA-STS, DANE, pins and verification levels no longer stop it. That
// follows Postfix 3.10+, which relaxes every level to "may" for such a
// message. Level None stays None: relaxing never starts TLS where the
// sender's configuration chose not to. p is not modified; nil means the zero
// Policy.
func Relax(p *starttls.Policy) *starttls.Policy {
	r := &starttls.Policy{Level: starttls.May}
	if p == nil {
		return r
	}
	if p.Level == starttls.None {
		r.Level = starttls.None
	}
	r.MinVersion = p.MinVersion
	return r
}
