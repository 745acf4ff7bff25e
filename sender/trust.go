package sender

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// RelayMode says what a relay inside the trust boundary is trusted for.
type RelayMode string

// The relay modes.
const (
	// RelaySkipChecks is for an internal relay (a content filter
	// re-injecting mail, an internal hop): no check runs on mail from it,
	// and Authentication-Results fields it passes on are kept.
	RelaySkipChecks RelayMode = "skip-checks"
	// RelayTrustAuthResults is for a backup MX (or a filtering gateway)
	// that already checked SPF: its Authentication-Results fields carrying
	// one of the pinned authserv-ids are read instead of checking SPF
	// against the relay's own address, which would fail. iprev and the
	// HELO checks are skipped too: they would judge the relay, not the
	// client it spoke to.
	RelayTrustAuthResults RelayMode = "trust-auth-results"
)

// Relay is a host inside the trust boundary, matched by its client address
// only (never by a name it could claim).
type Relay struct {
	// Name is a label for reasons and logs.
	Name string
	// Prefixes are the relay's addresses. Required.
	Prefixes []netip.Prefix
	// Mode is required.
	Mode RelayMode
	// AuthservIDs are the authserv-ids the relay stamps into
	// Authentication-Results. Required for RelayTrustAuthResults: only
	// fields with one of these ids are read, and only when the message
	// arrives from Prefixes. They count as our own ids for the RFC 8601 §5
	// removal rule.
	AuthservIDs []string
}

// Forwarder is a host outside the trust boundary that is known to forward
// mail to us (an alias service, a university's lifetime address) and so to
// break SPF and sometimes DKIM. When a message from it fails DMARC, the
// disposition may be softened to Disposition, recorded as the RFC 7489
// override reason trusted_forwarder. DMARC still fails: a forwarder never
// makes a message pass.
type Forwarder struct {
	// Name is a label for reasons and logs.
	Name string
	// Prefixes match the client address.
	Prefixes []netip.Prefix
	// NameSuffixes match the client's forward-confirmed PTR name (iprev
	// pass only) when it equals or lies below one of them, e.g.
	// "forwarder.example" matches "out1.forwarder.example".
	NameSuffixes []string
	// Recipients, when not empty, limits the allowance to messages whose
	// every recipient is in (or below) one of these domains.
	Recipients []string
	// Disposition is the disposition for a DMARC failure. "" means
	// DispositionAccept. It is never applied when it is stricter than the
	// policy's own disposition.
	Disposition Disposition
}

// MailingList is a mailing list whose messages may fail DMARC for their
// authors' domains (it rewrites the subject, adds a footer, re-sends from
// its own envelope). A failing message is softened to Disposition, recorded
// as override reason mailing_list, when the list itself is authenticated:
// SPF passed for a MAIL FROM domain in (or below) Domains, or a DKIM
// signature with such a d= passed. This is a local policy allowance like
// mox's ListAllowDomain.
type MailingList struct {
	// Name is a label for reasons and logs.
	Name string
	// Domains are the list's own domains. Required.
	Domains []string
	// Recipients, when not empty, limits the allowance to messages whose
	// every recipient is in (or below) one of these domains.
	Recipients []string
	// Disposition is the disposition for a DMARC failure; "" means
	// DispositionAccept. Never stricter than the policy's own.
	Disposition Disposition
}

// validate reports configuration mistakes that would silently weaken or
// disable a trust rule.
func (c *Checker) validate() error {
	for i, r := range c.Relays {
		if len(r.Prefixes) == 0 {
			return fmt.Errorf("%w: Relays[%d] (%s) has no Prefixes", ErrConfig, i, r.Name)
		}
		switch r.Mode {
		case RelaySkipChecks:
		case RelayTrustAuthResults:
			if len(r.AuthservIDs) == 0 {
				return fmt.Errorf("%w: Relays[%d] (%s) trusts Authentication-Results but pins no AuthservIDs", ErrConfig, i, r.Name)
			}
		default:
			return fmt.Errorf("%w: Relays[%d] (%s) has unknown Mode %q", ErrConfig, i, r.Name, r.Mode)
		}
	}
	for i, f := range c.Forwarders {
		if len(f.Prefixes) == 0 && len(f.NameSuffixes) == 0 {
			return fmt.Errorf("%w: Forwarders[%d] (%s) matches nothing", ErrConfig, i, f.Name)
		}
		if !f.Disposition.valid() {
			return fmt.Errorf("%w: Forwarders[%d] (%s) has unknown Disposition %q", ErrConfig, i, f.Name, f.Disposition)
		}
	}
	for i, l := range c.MailingLists {
		if len(l.Domains) == 0 {
			return fmt.Errorf("%w: MailingLists[%d] (%s) has no Domains", ErrConfig, i, l.Name)
		}
		if !l.Disposition.valid() {
			return fmt.Errorf("%w: MailingLists[%d] (%s) has unknown Disposition %q", ErrConfig, i, l.Name, l.Disposition)
		}
	}
	if !c.MissingFrom.valid() {
		return fmt.Errorf("%w: MissingFrom %q", ErrConfig, c.MissingFrom)
	}
	return nil
}

func prefixesContain(ps []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// matchRelay returns the first relay whose prefixes hold ip.
func (c *Checker) matchRelay(ip netip.Addr) *Relay {
	for i := range c.Relays {
		if prefixesContain(c.Relays[i].Prefixes, ip) {
			return &c.Relays[i]
		}
	}
	return nil
}

// inDomains reports whether name equals or lies below one of domains.
func inDomains(name string, domains []string) bool {
	for _, d := range domains {
		if nd := normOrEmpty(d); nd != "" && dnsname.IsSubdomain(name, nd) {
			return true
		}
	}
	return false
}

// recipientsInScope reports whether every recipient's domain is in scope
// (an empty scope holds everything; no recipients at all are in no scope).
func recipientsInScope(rcpts, scope []string) bool {
	if len(scope) == 0 {
		return true
	}
	if len(rcpts) == 0 {
		return false
	}
	for _, r := range rcpts {
		d := normOrEmpty(addressDomain(r))
		if d == "" || !inDomains(d, scope) {
			return false
		}
	}
	return true
}

// matchForwarder returns the first forwarder that matches the client: by
// address, or by an iprev-confirmed name (never by an unconfirmed PTR name
// or the HELO, which the client chooses), with the recipients in scope.
func (c *Checker) matchForwarder(ip netip.Addr, iprev IPRevResult, rcpts []string) (*Forwarder, string) {
	for i := range c.Forwarders {
		f := &c.Forwarders[i]
		if !recipientsInScope(rcpts, f.Recipients) {
			continue
		}
		if prefixesContain(f.Prefixes, ip) {
			return f, "client address " + ip.String()
		}
		if iprev.Status == IPRevPass && iprev.Name != "" && inDomains(iprev.Name, f.NameSuffixes) {
			return f, "iprev-confirmed name " + iprev.Name
		}
	}
	return nil, ""
}

// matchList returns the first mailing list that is authenticated by an SPF
// pass for the MAIL FROM domain or by a passing DKIM signature.
func (c *Checker) matchList(spfPass bool, spfDomain string, dkim []DKIMResult, rcpts []string) (*MailingList, string) {
	for i := range c.MailingLists {
		l := &c.MailingLists[i]
		if !recipientsInScope(rcpts, l.Recipients) {
			continue
		}
		if spfPass && spfDomain != "" && inDomains(spfDomain, l.Domains) {
			return l, "SPF pass for " + spfDomain
		}
		for _, k := range dkim {
			if d := normOrEmpty(k.Domain); k.Status == DKIMPass && d != "" && inDomains(d, l.Domains) {
				return l, "DKIM pass for " + d
			}
		}
	}
	return nil, ""
}

// trustedSealer reports whether the ARC chain is valid and was sealed last
// by one of c.TrustedARCSealers.
func (c *Checker) trustedSealer(arc *ARCResult) (string, bool) {
	if arc == nil || arc.Status != ARCPass || len(arc.Sealers) == 0 {
		return "", false
	}
	last := normOrEmpty(arc.Sealers[len(arc.Sealers)-1])
	for _, s := range c.TrustedARCSealers {
		if last != "" && dnsname.Equal(normOrEmpty(s), last) {
			return last, true
		}
	}
	return "", false
}

// ownAuthservIDs returns our authserv-id and every relay's pinned ids.
func (c *Checker) ownAuthservIDs(own string) []string {
	ids := []string{own}
	for _, r := range c.Relays {
		ids = append(ids, r.AuthservIDs...)
	}
	return ids
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// RemovableAuthResults applies the RFC 8601 §5 rule to the incoming
// Authentication-Results fields: it returns the indices of the fields to
// delete before delivery, those that claim one of ownIDs (compared without
// regard to case). Fields whose authserv-id cannot be read are deleted too,
// since a downstream reader might take them for ours. keepIDs lists ids that
// may stay because the message came directly from the trusted relay that
// stamps them. (Mail from an internal relay keeps every field: Check does
// not call this for it.)
func RemovableAuthResults(fields []string, ownIDs, keepIDs []string) []int {
	var out []int
	for i, f := range fields {
		id, ok := AuthservID(f)
		if !ok {
			out = append(out, i)
			continue
		}
		if containsFold(ownIDs, id) && !containsFold(keepIDs, id) {
			out = append(out, i)
		}
	}
	return out
}

// addressDomain returns the domain of an address: after the last '@',
// without angle brackets or a trailing dot. It returns "" when there is none.
func addressDomain(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.TrimSuffix(addr[at+1:], ".")
}
