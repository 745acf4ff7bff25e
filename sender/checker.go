package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/forward"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

// Disposition is what the receiver should do with the message.
type Disposition string

// The dispositions.
const (
	DispositionAccept     Disposition = "accept"
	DispositionQuarantine Disposition = "quarantine"
	DispositionReject     Disposition = "reject"
	// DispositionTempFail: answer with a 4xx reply, a DNS failure left the
	// verdict unknown and the policy could have been reject or quarantine.
	DispositionTempFail Disposition = "tempfail"
)

func (d Disposition) valid() bool {
	switch d {
	case "", DispositionAccept, DispositionQuarantine, DispositionReject, DispositionTempFail:
		return true
	}
	return false
}

// rank orders dispositions from the softest to the strictest.
func (d Disposition) rank() int {
	switch d {
	case DispositionQuarantine:
		return 1
	case DispositionTempFail:
		return 2
	case DispositionReject:
		return 3
	}
	return 0
}

// OverrideReason is an RFC 7489 Appendix C PolicyOverrideType: why the
// disposition is softer than the domain owner's policy.
type OverrideReason string

// The override reasons of RFC 7489 Appendix C.
const (
	OverrideForwarded        OverrideReason = "forwarded"
	OverrideSampledOut       OverrideReason = "sampled_out"
	OverrideTrustedForwarder OverrideReason = "trusted_forwarder"
	OverrideMailingList      OverrideReason = "mailing_list"
	OverrideLocalPolicy      OverrideReason = "local_policy"
	OverrideOther            OverrideReason = "other"
)

// Checker decides who really sent a message: DMARC (RFC 7489, or DMARCbis
// when asked), iprev (RFC 8601 §3), HELO signals, and the local trust rules
// for relays, forwarders and mailing lists, and it writes the
// Authentication-Results field (RFC 8601).
//
// The zero value is ready to use: net.DefaultResolver, SPF with the RFC
// limits, the public suffix list of golang.org/x/net, no trusted hosts. A
// Checker is safe for concurrent use; do not change its fields after first
// use.
type Checker struct {
	// AuthservID is our authserv-id for Authentication-Results (RFC 8601
	// §2.5), usually the host name. "" means os.Hostname(), or "localhost"
	// when that fails.
	AuthservID string

	// Resolver answers DNS queries. nil means net.DefaultResolver.
	Resolver resolver.Resolver

	// SPF checks SPF when the session carries no pre-computed outcome. nil
	// means an spf.Checker using Resolver.
	SPF *spf.Checker

	// SuffixList gives public suffixes for the organizational domain (RFC
	// 7489 §3.2). nil means golang.org/x/net/publicsuffix. Only its ICANN
	// section is used. Ignored in DMARCbis mode.
	SuffixList SuffixList

	// DMARCbis selects the RFC 9989 rules: the DNS tree walk instead of
	// the public suffix list (at most 8 queries per walk), psd=, np= and
	// t=; pct= is ignored. false means RFC 7489.
	DMARCbis bool

	// Rand returns a uniform integer in [0, n) for pct= sampling (RFC 7489
	// §6.6.4). nil means math/rand/v2.IntN.
	Rand func(n int) int

	// Relays are the hosts inside the trust boundary.
	Relays []Relay
	// Forwarders are outside hosts allowed to soften a DMARC failure.
	Forwarders []Forwarder
	// MailingLists are lists allowed to soften a DMARC failure.
	MailingLists []MailingList
	// TrustedARCSealers are ARC sealer domains: a DMARC failure of a
	// message whose ARC chain passed and was sealed last by one of them is
	// softened to accept, with override reason local_policy. ARC never
	// turns a failure into a pass.
	TrustedARCSealers []string

	// OwnNames and OwnAddrs are our host names and addresses: a client
	// that claims one of them in HELO gets the HELOClaimsOurs signal.
	OwnNames []string
	OwnAddrs []netip.Prefix

	// MissingFrom is the disposition for a message with no usable
	// RFC5322.From domain, which RFC 5322 §3.6 forbids and DMARC cannot
	// evaluate (RFC 7489 §6.6.1). "" means DispositionReject.
	MissingFrom Disposition

	// DisableIPRev turns the iprev check off (it still runs when a
	// Forwarder matches by name). DisableHELOSPF turns off the separate
	// SPF check of the HELO identity (RFC 7208 §2.3).
	DisableIPRev   bool
	DisableHELOSPF bool

	// MaxPTRNames bounds the PTR names iprev checks. 0 means 10.
	MaxPTRNames int
	// IPRevTimeout bounds the iprev check. 0 means 10 seconds.
	IPRevTimeout time.Duration
	// Timeout bounds a whole Check. 0 means 30 seconds.
	Timeout time.Duration

	// Logger receives one Debug record per Check with the verdict and its
	// reasons. nil means silent. The record's text is not stable.
	Logger *slog.Logger
}

const (
	defaultTimeout = 30 * time.Second
	// maxFromDomains bounds the distinct From domains evaluated.
	maxFromDomains = 8
)

func (c *Checker) resolver() resolver.Resolver {
	if c.Resolver != nil {
		return c.Resolver
	}
	return net.DefaultResolver
}

func (c *Checker) spfChecker() *spf.Checker {
	if c.SPF != nil {
		return c.SPF
	}
	return &spf.Checker{Resolver: c.Resolver}
}

func (c *Checker) authservID() string {
	if c.AuthservID != "" {
		return c.AuthservID
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// Session holds the SMTP facts of a transaction.
type Session struct {
	// ClientIP is the SMTP client's address. Required.
	ClientIP netip.Addr
	// HELO is the HELO/EHLO argument.
	HELO string
	// MailFrom is the MAIL FROM address without angle brackets; "" or "<>"
	// is the null reverse-path (bounces), for which SPF and alignment use
	// the HELO identity (RFC 7489 §3.1.2, RFC 7208 §2.4).
	MailFrom string
	// Recipients are the RCPT TO addresses, for the recipient scopes of
	// forwarders and lists.
	Recipients []string
	// Authenticated is set when the client authenticated with SMTP AUTH;
	// AuthUser is its identity. Authenticated submissions are not
	// subjected to SPF or DMARC.
	Authenticated bool
	AuthUser      string
	// SPF, when not nil, is an SPF outcome already computed for this
	// session's MAIL FROM (or HELO for the null sender); the Checker then
	// does not check SPF again. Its Sender names the identity; when empty,
	// MailFrom (or postmaster@HELO) is taken.
	SPF *spf.Outcome
}

// Message holds the facts of the message.
type Message struct {
	// From holds the addresses of the RFC5322.From field (addr-specs,
	// angle brackets allowed), as the caller's header parser found them.
	From []string
	// DKIM holds the result of every DKIM-Signature.
	DKIM []DKIMResult
	// ARC is the ARC chain validation, nil when not done.
	ARC *ARCResult
	// AuthResults holds the value of every Authentication-Results field
	// already in the message, from the top of the header down.
	AuthResults []string
}

// Verdict is the outcome of Check.
type Verdict struct {
	// Disposition is what to do with the message.
	Disposition Disposition
	// DMARC is the DMARC result that decided: the one with the strictest
	// disposition among the From domains. DMARCAll holds one per distinct
	// From domain (at most 8), in order.
	DMARC    DMARCResult
	DMARCAll []DMARCResult
	// Override is why Disposition is softer than the policy, "" for none;
	// OverrideBy names the forwarder, list or sealer.
	Override   OverrideReason
	OverrideBy string
	// SPF is the SPF outcome used for DMARC, nil when none was available
	// (an internal relay, an authenticated session, a relay without a
	// trusted Authentication-Results). SPFFrom says where it came from:
	// "check", "session", or "relay <authserv-id>".
	SPF     *spf.Outcome
	SPFFrom string
	// IPRev and HELO are the client checks (status none when not run).
	IPRev IPRevResult
	HELO  HELOResult
	// Relay is the matched relay, Forwarder the matched forwarder (even
	// when no override was needed), nil for none.
	Relay     *Relay
	Forwarder *Forwarder
	// SRSOriginal is the original sender an SRS0/SRS1 MAIL FROM claims to
	// wrap, for logs only: it is not authenticated and never aligned.
	SRSOriginal string
	// Reasons explains the verdict in words, one step per entry. The text
	// is not stable.
	Reasons []string
	// AuthResults is the Authentication-Results field to prepend, with its
	// name and final CRLF; "" for an internal relay (its own fields stay).
	AuthResults string
	// RemoveAuthResults holds the indices, in Message.AuthResults, of the
	// fields to delete before delivery (RFC 8601 §5).
	RemoveAuthResults []int
}

func (v *Verdict) reason(format string, args ...any) {
	v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
}

// Check evaluates a message received in a session and returns a verdict.
//
// A DMARC failure, a failed iprev or suspicious HELO are results in the
// Verdict, not errors. The error is non-nil only when no verdict can be
// reached: an invalid configuration (ErrConfig), a session without a valid
// client address (ErrNoClientIP), or a cancelled context. DNS failures
// become temperror results and, where the policy might have rejected, the
// disposition DispositionTempFail.
//
// Outcomes of the special cases:
//   - no From domain: DMARC permerror, disposition Checker.MissingFrom
//     (reject by default);
//   - several From addresses: every distinct domain (up to 8) is evaluated
//     and the strictest disposition wins;
//   - null reverse-path: SPF and SPF alignment use the HELO identity;
//   - an internal relay (RelaySkipChecks): accept, no checks, no new field;
//   - SMTP AUTH: accept, auth=pass recorded, no SPF or DMARC.
func (c *Checker) Check(ctx context.Context, s Session, m Message) (Verdict, error) {
	if err := c.validate(); err != nil {
		return Verdict{}, err
	}
	if !s.ClientIP.IsValid() {
		return Verdict{}, ErrNoClientIP
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ip := s.ClientIP.Unmap()
	mailFrom := s.MailFrom
	if mailFrom == "<>" {
		mailFrom = ""
	}
	mailFrom = strings.TrimSuffix(strings.TrimPrefix(mailFrom, "<"), ">")
	id := c.authservID()
	v := Verdict{Disposition: DispositionAccept}
	v.IPRev = IPRevResult{Status: IPRevNone, IP: ip}
	ar := &AuthResults{AuthservID: id}

	// The trust boundary and the RFC 8601 §5 removal rule.
	relay := c.matchRelay(ip)
	v.Relay = relay
	var keep []string
	if relay != nil {
		keep = relay.AuthservIDs
	}
	if relay == nil || relay.Mode != RelaySkipChecks {
		v.RemoveAuthResults = RemovableAuthResults(m.AuthResults, c.ownAuthservIDs(id), keep)
	}
	if len(v.RemoveAuthResults) > 0 {
		v.reason("removing %d Authentication-Results field(s) claiming our authserv-ids (RFC 8601 §5)", len(v.RemoveAuthResults))
	}
	if relay != nil && relay.Mode == RelaySkipChecks {
		v.reason("client %s is internal relay %q: no checks", ip, relay.Name)
		if c.Logger != nil {
			c.Logger.LogAttrs(ctx, slog.LevelDebug, "sender verdict",
				slog.String("disposition", string(v.Disposition)), slog.Any("reasons", v.Reasons))
		}
		return v, nil
	}
	if s.Authenticated {
		v.reason("client authenticated as %q: no SPF or DMARC checks", s.AuthUser)
		mr := MethodResult{Method: "auth", Result: "pass"}
		if s.AuthUser != "" {
			mr.Props = []Property{{Type: "smtp", Name: "auth", Value: s.AuthUser}}
		}
		ar.Results = append(ar.Results, mr)
		return c.finish(ctx, &v, ar)
	}

	// The client: iprev and HELO, unless it is a relay that speaks for
	// another client.
	trusting := relay != nil && relay.Mode == RelayTrustAuthResults
	if !trusting {
		if !c.DisableIPRev || c.forwardersUseNames() {
			v.IPRev = c.iprev(ctx, ip)
			v.reason("iprev %s for %s%s", v.IPRev.Status, ip, nameNote(v.IPRev.Name))
			mr := MethodResult{Method: "iprev", Result: string(v.IPRev.Status),
				Props: []Property{{Type: "policy", Name: "iprev", Value: ip.String()}}}
			if v.IPRev.Name != "" {
				mr.Comment = v.IPRev.Name
			}
			ar.Results = append(ar.Results, mr)
		}
	}

	// SPF.
	var spfDomain string
	switch {
	case trusting:
		out, from, ok := trustedSPF(m.AuthResults, relay)
		if ok {
			v.SPF, v.SPFFrom = &out, "relay "+from
			v.reason("SPF %s taken from relay %q (authserv-id %s)", out.Result, relay.Name, from)
			spfDomain = addressDomain(out.Sender)
		} else {
			v.reason("relay %q sent no Authentication-Results under its pinned authserv-ids: SPF unknown", relay.Name)
		}
	case s.SPF != nil:
		out := *s.SPF
		if out.Sender == "" {
			// An outcome not made by spf.Checker: derive the identity
			// from the session (RFC 7208 §2.4: HELO for the null sender).
			if out.Identity == spf.IdentityHELO || mailFrom == "" {
				out.Identity, out.HELO, out.Sender = spf.IdentityHELO, s.HELO, "postmaster@"+s.HELO
			} else {
				out.Sender = mailFrom
			}
		}
		v.SPF, v.SPFFrom = &out, "session"
		spfDomain = addressDomain(out.Sender)
	default:
		out, _ := c.spfChecker().Check(ctx, spf.Input{IP: ip, HELO: s.HELO, MailFrom: mailFrom})
		v.SPF, v.SPFFrom = &out, "check"
		spfDomain = addressDomain(out.Sender)
	}
	if v.SPF != nil {
		v.reason("SPF %s for %s identity %s", v.SPF.Result, v.SPF.Identity, v.SPF.Sender)
		ar.Results = append(ar.Results, spfMethod(v.SPF, v.SPFFrom))
	}

	// HELO signals (never a rejection, RFC 5321 §4.1.4).
	if !trusting {
		v.HELO = c.checkHELO(ctx, s.HELO, ip, iprevName(v.IPRev))
		if !c.DisableHELOSPF && v.HELO.Name != "" {
			if v.SPF != nil && v.SPF.Identity == spf.IdentityHELO {
				v.HELO.SPFResult = string(v.SPF.Result)
			} else {
				out, _ := c.spfChecker().CheckHELO(ctx, ip, v.HELO.Name)
				v.HELO.SPFResult = string(out.Result)
				ar.Results = append(ar.Results, spfMethod(&out, "helo"))
			}
			if v.HELO.SPFResult == string(spf.Fail) {
				v.HELO.Signals = append(v.HELO.Signals, HELOSPFFail)
			}
		}
		if len(v.HELO.Signals) > 0 {
			v.reason("HELO %q signals: %s (scored, never rejected on their own)", s.HELO, joinSignals(v.HELO.Signals))
		}
	}

	// SRS senders: noted, never aligned.
	if mailFrom != "" {
		if a, err := forward.Parse(mailFrom); err == nil {
			if orig, ok := a.Original(); ok {
				v.SRSOriginal = orig
				v.reason("MAIL FROM is an %s address wrapping %q (unverified, not used for alignment)", a.Kind, orig)
			}
		}
	}

	// DKIM and ARC results from the caller, recorded as given.
	for _, k := range m.DKIM {
		mr := MethodResult{Method: "dkim", Result: string(k.Status), Reason: k.Reason}
		if !isKeyword(mr.Result) {
			// A status from the caller that is no RFC 8601 keyword must
			// not cost the whole field; DMARC ignores it too.
			mr.Result = string(DKIMNone)
		}
		if k.Domain != "" {
			mr.Props = append(mr.Props, Property{Type: "header", Name: "d", Value: k.Domain})
		}
		if k.Selector != "" {
			mr.Props = append(mr.Props, Property{Type: "header", Name: "s", Value: k.Selector})
		}
		if k.AUID != "" {
			mr.Props = append(mr.Props, Property{Type: "header", Name: "i", Value: k.AUID})
		}
		ar.Results = append(ar.Results, mr)
	}
	if m.ARC != nil {
		st := m.ARC.Status
		if !isKeyword(string(st)) {
			st = ARCNone
		}
		ar.Results = append(ar.Results, MethodResult{Method: "arc", Result: string(st)})
	}

	// DMARC for each distinct From domain.
	in := DMARCInput{DKIM: m.DKIM}
	if v.SPF != nil {
		in.SPFResult, in.SPFDomain = string(v.SPF.Result), spfDomain
	}
	domains := fromDomains(m.From)
	st := newEvalState()
	if len(domains) == 0 {
		disp := c.MissingFrom
		if disp == "" {
			disp = DispositionReject
		}
		v.DMARC = DMARCResult{Status: StatusPermError, Err: ErrNoFrom}
		v.DMARCAll = []DMARCResult{v.DMARC}
		v.Disposition = disp
		v.reason("no RFC5322.From domain: DMARC cannot apply, disposition %s", disp)
		ar.Results = append(ar.Results, MethodResult{Method: "dmarc", Result: string(StatusPermError), Reason: "no RFC5322.From domain"})
		return c.finish(ctx, &v, ar)
	}
	if len(m.From) > 1 {
		v.reason("%d From addresses, %d distinct domain(s): the strictest outcome applies", len(m.From), len(domains))
	}
	first := true
	for _, d := range domains {
		in.From = d
		r := c.evaluateDMARC(ctx, st, in)
		disp := dispositionFor(r)
		v.DMARCAll = append(v.DMARCAll, r)
		if first || disp.rank() > v.Disposition.rank() {
			v.DMARC, v.Disposition = r, disp
			first = false
		}
		v.reason("DMARC %s for %s%s", r.Status, r.Domain, dmarcNote(r, disp))
	}
	if v.DMARC.SampledOut {
		v.Override = OverrideSampledOut
	}

	// Overrides of a failure: trusted forwarder, mailing list, ARC sealer.
	fwd, how := c.matchForwarder(ip, v.IPRev, s.Recipients)
	v.Forwarder = fwd
	if v.DMARC.Status == StatusFail && (v.Disposition == DispositionReject || v.Disposition == DispositionQuarantine) {
		soften := func(to Disposition, why OverrideReason, by, note string) {
			if to == "" {
				to = DispositionAccept
			}
			if to.rank() < v.Disposition.rank() {
				v.reason("%s %q (%s) softens %s to %s; DMARC still fails", why, by, note, v.Disposition, to)
				v.Disposition, v.Override, v.OverrideBy = to, why, by
			}
		}
		if fwd != nil {
			soften(fwd.Disposition, OverrideTrustedForwarder, fwd.Name, how)
		} else if l, how := c.matchList(in.SPFResult == string(spf.Pass), normOrEmpty(in.SPFDomain), m.DKIM, s.Recipients); l != nil {
			soften(l.Disposition, OverrideMailingList, l.Name, how)
		} else if sealer, ok := c.trustedSealer(m.ARC); ok {
			soften(DispositionAccept, OverrideLocalPolicy, sealer, "trusted ARC sealer")
		}
	}
	for _, r := range v.DMARCAll {
		ar.Results = append(ar.Results, dmarcMethod(r, v))
	}
	return c.finish(ctx, &v, ar)
}

// finish formats the Authentication-Results field. A cancelled context is
// the only error: the verdict may rest on answers that never came.
func (c *Checker) finish(ctx context.Context, v *Verdict, ar *AuthResults) (Verdict, error) {
	f, err := ar.Field()
	if err != nil {
		// Our own tokens are constants; a failure here is a bug, but it
		// must not lose the verdict.
		v.reason("Authentication-Results not written: %v", err)
	}
	v.AuthResults = f
	if c.Logger != nil {
		c.Logger.LogAttrs(ctx, slog.LevelDebug, "sender verdict",
			slog.String("disposition", string(v.Disposition)),
			slog.String("dmarc", string(v.DMARC.Status)),
			slog.String("from", v.DMARC.Domain),
			slog.String("override", string(v.Override)),
			slog.Any("reasons", v.Reasons))
	}
	if err := ctx.Err(); err != nil && errors.Is(err, context.Canceled) {
		return *v, err
	}
	return *v, nil
}

func (c *Checker) forwardersUseNames() bool {
	for _, f := range c.Forwarders {
		if len(f.NameSuffixes) > 0 {
			return true
		}
	}
	return false
}

// dispositionFor maps a DMARC result to a disposition before overrides.
func dispositionFor(r DMARCResult) Disposition {
	switch r.Status {
	case StatusFail:
		switch r.Applied {
		case PolicyReject:
			return DispositionReject
		case PolicyQuarantine:
			return DispositionQuarantine
		}
	case StatusTempError:
		// The policy might have been enforced had DNS answered; when the
		// record is known and asks for nothing, there is nothing to wait
		// for.
		if r.Record == nil || r.Applied != PolicyNone {
			return DispositionTempFail
		}
	}
	return DispositionAccept
}

// fromDomains returns the distinct normalised From domains, at most
// maxFromDomains.
func fromDomains(from []string) []string {
	var out []string
	for _, f := range from {
		d := normOrEmpty(addressDomain(f))
		if d == "" || containsFold(out, d) {
			continue
		}
		out = append(out, d)
		if len(out) == maxFromDomains {
			break
		}
	}
	return out
}

// trustedSPF reads the SPF result from the topmost Authentication-Results
// field that carries one of the relay's pinned authserv-ids and an spf
// result. Fields that do not parse are skipped (fail closed).
func trustedSPF(fields []string, relay *Relay) (spf.Outcome, string, bool) {
	for _, f := range fields {
		a, err := ParseAuthResults(f)
		if err != nil || !containsFold(relay.AuthservIDs, a.AuthservID) {
			continue
		}
		for _, mr := range a.Results {
			if !strings.EqualFold(mr.Method, "spf") {
				continue
			}
			out := spf.Outcome{Result: spf.Result(strings.ToLower(mr.Result)), Identity: spf.IdentityMailFrom}
			if v, ok := mr.Prop("smtp", "mailfrom"); ok {
				if !strings.Contains(v, "@") {
					v = "postmaster@" + v
				}
				out.Sender = v
			} else if v, ok := mr.Prop("smtp", "helo"); ok {
				out.Identity, out.HELO, out.Sender = spf.IdentityHELO, v, "postmaster@"+v
			} else {
				continue
			}
			out.Domain = addressDomain(out.Sender)
			return out, a.AuthservID, true
		}
	}
	return spf.Outcome{}, "", false
}

func spfMethod(o *spf.Outcome, from string) MethodResult {
	mr := MethodResult{Method: "spf", Result: string(o.Result)}
	if mr.Result == "" {
		mr.Result = string(spf.None)
	}
	if o.Identity == spf.IdentityHELO {
		h := o.HELO
		if h == "" {
			h = addressDomain(o.Sender)
		}
		mr.Props = []Property{{Type: "smtp", Name: "helo", Value: h}}
	} else {
		mr.Props = []Property{{Type: "smtp", Name: "mailfrom", Value: o.Sender}}
	}
	if strings.HasPrefix(from, "relay ") {
		mr.Comment = "from trusted relay " + strings.TrimPrefix(from, "relay ")
	}
	return mr
}

func dmarcMethod(r DMARCResult, v Verdict) MethodResult {
	mr := MethodResult{Method: "dmarc", Result: string(r.Status)}
	if r.Domain != "" {
		mr.Props = []Property{{Type: "header", Name: "from", Value: r.Domain}}
	}
	var parts []string
	if r.Record != nil {
		parts = append(parts, "p="+string(r.Record.Policy))
		if r.Record.SubdomainPolicy != "" {
			parts = append(parts, "sp="+string(r.Record.SubdomainPolicy))
		}
		if r.PolicyTag != "" && r.PolicyTag != "p" {
			parts = append(parts, "applied "+r.PolicyTag+"="+string(r.Policy))
		}
	}
	if r.Domain == v.DMARC.Domain {
		parts = append(parts, "dis="+string(v.Disposition))
		if v.Override != "" {
			mr.Reason = string(v.Override)
			parts = append(parts, "override="+string(v.Override))
		}
	}
	if r.Err != nil && r.Status != StatusFail && r.Status != StatusPass {
		mr.Reason = errText(r.Err)
	}
	mr.Comment = strings.Join(parts, " ")
	return mr
}

func errText(err error) string {
	var le *LookupError
	if errors.As(err, &le) {
		return "DNS failure for " + le.Name
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		return "invalid DMARC record"
	}
	switch {
	case errors.Is(err, ErrMultipleRecords):
		return "several DMARC records"
	case errors.Is(err, ErrInvalidDomain):
		return "invalid From domain"
	}
	return "error"
}

func iprevName(r IPRevResult) string {
	if r.Status == IPRevPass {
		return r.Name
	}
	return ""
}

func nameNote(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

func joinSignals(s []HELOSignal) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

func dmarcNote(r DMARCResult, d Disposition) string {
	var b strings.Builder
	if r.PolicyDomain != "" {
		fmt.Fprintf(&b, ", policy from _dmarc.%s", r.PolicyDomain)
	}
	if r.Policy != "" {
		fmt.Fprintf(&b, " %s=%s", r.PolicyTag, r.Policy)
	}
	fmt.Fprintf(&b, ", SPF aligned %t, DKIM aligned %t", r.SPFAligned, r.DKIMAligned)
	if r.SampledOut {
		fmt.Fprintf(&b, ", sampled out by pct=%d", r.Record.EffectivePercent())
	}
	if r.Err != nil {
		fmt.Fprintf(&b, " (%v)", r.Err)
	}
	fmt.Fprintf(&b, ": %s", d)
	return b.String()
}
