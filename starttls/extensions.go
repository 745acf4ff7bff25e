package starttls

import (
	"strings"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
)

// Extensions is the service extension list of one EHLO reply (RFC 5321
// §4.1.1.1). A Session holds only the list received inside TLS: the one
// received before STARTTLS may have been forged and is discarded (RFC 3207
// §4.2), so it cannot be reached from the Session at all.
type Extensions struct {
	domain string
	list   []smtpwire.Extension
}

// Domain returns the server's name from the first line of the EHLO reply.
// It is the server's claim, useful in logs and TLS reports
// ("receiving-mx-helo", RFC 8460 §4.4), not an identity.
func (e Extensions) Domain() string { return e.domain }

// Has reports whether keyword (case-insensitive) was advertised.
func (e Extensions) Has(keyword string) bool {
	_, ok := e.Params(keyword)
	return ok
}

// Params returns the parameters of keyword ("10240000" for "SIZE
// 10240000"), and whether keyword was advertised.
func (e Extensions) Params(keyword string) (string, bool) {
	for _, x := range e.list {
		if strings.EqualFold(x.Keyword, keyword) {
			return x.Params, true
		}
	}
	return "", false
}

// Keywords returns the advertised keywords in upper case, in order.
func (e Extensions) Keywords() []string {
	k := make([]string, len(e.list))
	for i, x := range e.list {
		k[i] = x.Keyword
	}
	return k
}

func parseExtensions(r smtpsec.Reply) Extensions {
	var e Extensions
	e.domain, e.list = smtpwire.ParseEHLO(r)
	return e
}
