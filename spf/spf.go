package spf

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// DefaultExplanation is the explanation given for Fail when the record has
// no usable exp= and Checker.DefaultExplanation is "". It is a macro-string
// (RFC 7208 §7): %{c} is the client IP, %{o} the sender's domain.
const DefaultExplanation = "%{o} does not designate %{c} as permitted sender"

// Identity names the identity an SPF check authorized (RFC 7208 §2.3,
// §2.4; RFC 8601 §2.7.2).
type Identity string

// The identities.
const (
	IdentityMailFrom Identity = "mailfrom"
	IdentityHELO     Identity = "helo"
)

// maxDepth bounds the nesting of include and redirect whatever MaxLookups
// says, so that a generous limit cannot exhaust the stack.
const maxDepth = 16

// Checker evaluates SPF policies (RFC 7208). The zero value is ready to use
// with net.DefaultResolver and the RFC limits. A Checker is safe for
// concurrent use; do not change its fields after first use.
type Checker struct {
	// Resolver answers DNS queries. If nil, net.DefaultResolver is used.
	// When it also implements resolver.Querier, Query is used instead, so
	// that NXDOMAIN and NODATA are told apart precisely and the DNSSEC AD
	// bit is reported in Outcome.Authentic.
	Resolver resolver.Resolver

	// MaxLookups is the limit on DNS-querying terms (include, a, mx, ptr,
	// exists, redirect) over the whole evaluation. 0 (or less) means 10,
	// the limit of RFC 7208 §4.6.4; values above 10 violate that section.
	MaxLookups int

	// MaxVoidLookups is the limit on DNS-querying terms whose lookup
	// returned no name (NXDOMAIN) or no data. 0 means 2, the default RFC
	// 7208 §4.6.4 recommends; a negative value means no limit. Receivers
	// that see legitimate IPv6 clients fail (each a or mx term over an
	// IPv4-only host is void for an IPv6 client) may raise it: the RFC lets
	// the limit be configurable.
	MaxVoidLookups int

	// DefaultExplanation is the explanation for Fail when the record has no
	// exp= or its explanation cannot be used (RFC 7208 §6.2). It is a
	// macro-string and may use every macro letter. "" means the package's
	// DefaultExplanation.
	DefaultExplanation string

	// ReceiverDomain is the receiving host's domain: the %{r} macro and the
	// Received-SPF receiver. "" means "unknown".
	ReceiverDomain string

	// Now returns the current time, for the %{t} macro. nil means
	// time.Now.
	Now func() time.Time

	// Logger receives a Debug record for each mechanism evaluated and for
	// the error that ends a check. nil means silent. The text of these
	// records is not stable.
	Logger *slog.Logger

	cache recordCache
}

// Input is what an SMTP server knows when it checks SPF.
type Input struct {
	// IP is the SMTP client's address. An IPv4-mapped IPv6 address is
	// treated as the IPv4 address.
	IP netip.Addr
	// HELO is the HELO or EHLO argument.
	HELO string
	// MailFrom is the MAIL FROM address without angle brackets. "" (or
	// "<>") is the null reverse-path: then the HELO identity is checked,
	// as postmaster@HELO (RFC 7208 §2.4).
	MailFrom string
}

// Outcome is the verdict of a check and what a receiver needs to record it.
type Outcome struct {
	Result Result
	// Identity is the identity that was checked.
	Identity Identity
	// IP is the client address checked (unmapped), HELO the HELO name.
	IP   netip.Addr
	HELO string
	// Sender is the <sender> of check_host: the MAIL FROM address, or
	// postmaster@HELO for the HELO identity.
	Sender string
	// Domain is the domain whose policy decided: the checked domain, or
	// the target of the redirect= that decided.
	Domain string
	// Mechanism is the deciding term as written in Domain's record
	// ("-all", "include:_spf.example.com"), "default" when no mechanism
	// matched (RFC 7208 §4.7), or "" for None and errors outside a term.
	Mechanism string
	// Explanation is set for Fail only (RFC 7208 §6.2): the domain's exp=
	// text, macro-expanded, or the default explanation. It holds printable
	// US-ASCII only, so it can go into an SMTP reply.
	Explanation string
	// Lookups is the number of DNS-querying terms evaluated, VoidLookups
	// the number of those whose lookup was void (RFC 7208 §4.6.4).
	Lookups, VoidLookups int
	// Authentic is true when the resolver is a resolver.Querier and every
	// DNS answer the verdict rests on had the DNSSEC AD bit set.
	Authentic bool
	// Receiver is Checker.ReceiverDomain ("unknown" when empty).
	Receiver string
	// Problem is the error text for TempError and PermError.
	Problem string
}

// Check checks the MAIL FROM identity of in (RFC 7208 §2.4), or the HELO
// identity when MailFrom is the null reverse-path.
//
// The error is non-nil exactly when the result is TempError or PermError,
// and is then an [*Error] naming the domain and term that caused it. A
// verdict (Pass, Fail, SoftFail, Neutral, None) never comes with an error.
func (c *Checker) Check(ctx context.Context, in Input) (Outcome, error) {
	from := in.MailFrom
	if from == "<>" {
		from = ""
	} else if len(from) >= 2 && from[0] == '<' && from[len(from)-1] == '>' {
		from = from[1 : len(from)-1]
	}
	if from == "" {
		return c.CheckHELO(ctx, in.IP, in.HELO)
	}
	local, domain := splitSender(from)
	sender := from
	if local == "" {
		// RFC 7208 §4.3: an empty local-part is replaced by "postmaster".
		local = "postmaster"
		sender = "postmaster@" + domain
	}
	return c.run(ctx, in.IP, in.HELO, sender, local, domain, IdentityMailFrom)
}

// CheckHELO checks the HELO identity (RFC 7208 §2.3): check_host() with the
// HELO name as domain and postmaster@HELO as sender. The error follows the
// rule of Check.
func (c *Checker) CheckHELO(ctx context.Context, ip netip.Addr, helo string) (Outcome, error) {
	return c.run(ctx, ip, helo, "postmaster@"+helo, "postmaster", helo, IdentityHELO)
}

// CheckHost is check_host() of RFC 7208 §4: the SPF policy of domain for
// ip and sender (an address; a missing local-part becomes "postmaster").
// The %{h} macro expands to the domain of sender. The error follows the rule
// of Check.
func (c *Checker) CheckHost(ctx context.Context, ip netip.Addr, domain, sender string) (Outcome, error) {
	local, sdom := splitSender(sender)
	if local == "" {
		local = "postmaster"
		sender = "postmaster@" + sdom
	}
	return c.runDomain(ctx, ip, sdom, sender, local, sdom, domain, IdentityMailFrom)
}

// splitSender splits an address at its last "@"; with no "@" the whole is
// the domain.
func splitSender(s string) (local, domain string) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

func (c *Checker) run(ctx context.Context, ip netip.Addr, helo, sender, local, senderDomain string, id Identity) (Outcome, error) {
	return c.runDomain(ctx, ip, helo, sender, local, senderDomain, senderDomain, id)
}

func (c *Checker) runDomain(ctx context.Context, ip netip.Addr, helo, sender, local, senderDomain, domain string, id Identity) (Outcome, error) {
	e := eval{
		c:          c,
		ctx:        ctx,
		ip:         ip.Unmap(),
		helo:       helo,
		sender:     sender,
		local:      local,
		maxLookups: c.MaxLookups,
		maxVoids:   c.MaxVoidLookups,
	}
	if e.maxLookups <= 0 {
		e.maxLookups = 10 // RFC 7208 §4.6.4
	}
	if e.maxVoids == 0 {
		e.maxVoids = 2 // RFC 7208 §4.6.4
	}
	e.r = c.Resolver
	if e.r == nil {
		e.r = net.DefaultResolver
	}
	if q, ok := e.r.(resolver.Querier); ok {
		e.q = q
		e.authentic = true
	}
	o := Outcome{Identity: id, IP: e.ip, HELO: helo, Sender: sender, Receiver: c.receiver()}
	if !e.ip.IsValid() {
		err := &Error{Result: PermError, Domain: domain, Err: ErrInvalidIP}
		o.Result, o.Domain, o.Problem = PermError, domain, err.Error()
		return o, err
	}
	// RFC 7208 §4.3: a malformed or single-label domain gives None.
	dom, ok := initialDomain(domain)
	if !ok {
		o.Result, o.Domain = None, domain
		return o, nil
	}
	e.senderDomain = senderDomain // %{o}: normalised when it can be
	if senderDomain == domain {
		e.senderDomain = dom
	} else if sd, ok := initialDomain(senderDomain); ok {
		e.senderDomain = sd
	}
	domain = dom
	r := e.checkHost(domain)
	o.Result, o.Domain, o.Mechanism = r.result, r.domain, r.term
	o.Lookups, o.VoidLookups = e.lookups, e.voids
	if r.err != nil {
		o.Authentic = false
		o.Problem = r.err.Error()
		return o, r.err
	}
	if r.result == Fail {
		o.Explanation = e.explanation(r.rec, r.domain)
	}
	o.Authentic = e.authentic
	return o, nil
}

func (c *Checker) receiver() string {
	if c.ReceiverDomain != "" {
		return c.ReceiverDomain
	}
	return "unknown"
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// initialDomain validates and normalises the domain of check_host() (RFC
// 7208 §4.3): a name that is malformed, is a domain literal, or is not
// multi-label gives None.
func initialDomain(d string) (string, bool) {
	if d == "" || d[0] == '[' {
		return "", false
	}
	// Fast path: a lower-case LDH name is already normal.
	if n, dots, ok := lowerLDHName(trimDot(d)); ok {
		return n, dots > 0
	}
	n, err := dnsname.Normalize(d)
	if err != nil || strings.IndexByte(n, '.') < 0 {
		return "", false
	}
	return n, true
}

// lowerLDHName reports whether s is a valid query name (see
// checkQueryName) of lower-case letters, digits, "-" and "_", and counts its
// dots, in one pass.
func lowerLDHName(s string) (string, int, bool) {
	if s == "" || len(s) > 253 {
		return "", 0, false
	}
	dots, l := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_':
			l++
			if l > 63 {
				return "", 0, false
			}
		case c == '.':
			if l == 0 {
				return "", 0, false
			}
			dots++
			l = 0
		default:
			return "", 0, false
		}
	}
	return s, dots, l > 0
}

// eval is the state of one evaluation.
type eval struct {
	c   *Checker
	ctx context.Context
	r   resolver.Resolver
	q   resolver.Querier

	ip                                   netip.Addr
	sender, local, senderDomain, helo    string
	ipDotted                             string
	maxLookups, maxVoids, lookups, voids int
	authentic                            bool

	// The domains being evaluated, for loops: the first few inline, the
	// rest (rare: includes nested more than 4 deep) in deeper.
	stack  [4]string
	deeper []string
	nstack int

	overBudget bool // an expansion exceeded maxExpansionWork
}

// hostResult is what check_host() returns inside the evaluation.
type hostResult struct {
	result Result
	domain string  // the domain whose record decided
	term   string  // the deciding term
	rec    *Record // the record that decided (for exp=)
	err    *Error
}

func (e *eval) fail(res Result, domain, term string, err error) hostResult {
	if e.c.Logger != nil {
		e.logf("spf error", "domain", domain, "term", term, "err", err)
	}
	return hostResult{result: res, domain: domain, term: term, err: &Error{Result: res, Domain: domain, Term: term, Err: err}}
}

func (e *eval) logf(msg string, args ...any) {
	if l := e.c.Logger; l != nil {
		l.DebugContext(e.ctx, msg, args...)
	}
}

// checkHost is check_host() of RFC 7208 §4 for domain, inside the current
// include/redirect path.
func (e *eval) checkHost(domain string) hostResult {
	// Loops: a domain already being evaluated would repeat the same
	// evaluation (RFC 7208 §4.6.4 would stop it at the limit anyway).
	n := e.nstack
	for i := 0; i < n && i < len(e.stack); i++ {
		if e.stack[i] == domain {
			return e.fail(PermError, domain, "", ErrLoop)
		}
	}
	for _, d := range e.deeper {
		if d == domain {
			return e.fail(PermError, domain, "", ErrLoop)
		}
	}
	if n >= maxDepth {
		return e.fail(PermError, domain, "", ErrTooManyLookups)
	}
	if n < len(e.stack) {
		e.stack[n] = domain
	} else {
		e.deeper = append(e.deeper, domain)
	}
	e.nstack++
	r := e.evalRecord(domain)
	e.nstack--
	if n >= len(e.stack) {
		e.deeper = e.deeper[:len(e.deeper)-1]
	}
	return r
}

// evalRecord evaluates the record of domain (RFC 7208 §4.4 to §4.7).
func (e *eval) evalRecord(domain string) hostResult {
	rec, r := e.record(domain)
	if rec == nil {
		return r
	}
	// RFC 7208 §4.6.2: mechanisms in order; the first match decides.
	for i := range rec.Directives {
		d := &rec.Directives[i]
		m, r := e.match(d, domain)
		if r.err != nil {
			return r
		}
		if e.c.Logger != nil {
			e.logf("spf term", "domain", domain, "term", d.term(), "match", m)
		}
		if m {
			return hostResult{result: d.Qualifier.Result(), domain: domain, term: d.term(), rec: rec}
		}
	}
	// RFC 7208 §6.1, §5.1: redirect applies when nothing matched, and is
	// ignored when the record has "all".
	if rec.Redirect != "" && !rec.hasAll {
		term := rec.redirectText
		if r, ok := e.countLookup(domain, term); !ok {
			return r
		}
		target, ok := e.targetName(rec.Redirect, domain)
		if !ok {
			// An impossible name does not exist: no record (§6.1).
			return e.fail(PermError, domain, term, ErrNoRecord)
		}
		r := e.checkHost(target)
		if r.err == nil && r.result == None {
			// RFC 7208 §6.1: a redirect to a domain without a record is
			// permerror.
			return e.fail(PermError, domain, term, ErrNoRecord)
		}
		return r
	}
	// RFC 7208 §4.7: no match, no redirect: neutral.
	return hostResult{result: Neutral, domain: domain, term: "default", rec: rec}
}

// record fetches and selects the SPF record of domain (RFC 7208 §4.4, §4.5).
// A nil record comes with the result to return.
func (e *eval) record(domain string) (*Record, hostResult) {
	var buf [4]string
	txts, void, err := e.lookupTXT(domain, buf[:0])
	if err != nil {
		return nil, e.fail(TempError, domain, "", err)
	}
	if void {
		return nil, hostResult{result: None, domain: domain}
	}
	var text string
	n := 0
	for _, t := range txts {
		if isSPFRecord(t) {
			text = t
			n++
		}
	}
	switch {
	case n == 0:
		return nil, hostResult{result: None, domain: domain}
	case n > 1:
		return nil, e.fail(PermError, domain, "", ErrMultipleRecords)
	}
	rec, err := e.c.cache.parse(text)
	if err != nil {
		term := ""
		if se, ok := err.(*SyntaxError); ok {
			term = se.Term
		}
		return nil, e.fail(PermError, domain, term, err)
	}
	return rec, hostResult{}
}

// countLookup counts a DNS-querying term (RFC 7208 §4.6.4).
func (e *eval) countLookup(domain, term string) (hostResult, bool) {
	e.lookups++
	if e.lookups > e.maxLookups {
		return e.fail(PermError, domain, term, ErrTooManyLookups), false
	}
	if err := e.ctx.Err(); err != nil {
		return e.fail(TempError, domain, term, err), false
	}
	return hostResult{}, true
}

// countVoid counts a void lookup (RFC 7208 §4.6.4).
func (e *eval) countVoid(domain, term string) (hostResult, bool) {
	e.voids++
	if e.maxVoids > 0 && e.voids > e.maxVoids {
		return e.fail(PermError, domain, term, ErrTooManyVoidLookups), false
	}
	return hostResult{}, true
}

// targetName expands a domain-spec for a query (RFC 7208 §7.3, truncated to
// 253 octets). ok is false when the result cannot be a DNS name (an empty
// label or a label over 63 octets): such a name does not exist.
func (e *eval) targetName(spec, domain string) (string, bool) {
	var name string
	if !strings.Contains(spec, "%") {
		name = spec
		if n := len(name); name[n-1] == '.' {
			name = name[:n-1]
		}
	} else {
		var tmp [256]byte
		b, ok := e.expand(tmp[:0], spec, domain, macroDomain)
		if !ok {
			return "", false
		}
		name = string(truncateDomain(b))
	}
	clean, ok := checkQueryName(name)
	if !ok {
		return "", false
	}
	if clean {
		return name, true
	}
	return presentationName(name), true
}

// presentationName writes name in DNS presentation format (RFC 1035 §5.1):
// octets outside printable US-ASCII and the octets space ' @ ; ( ) " \
// become \DDD. Macros can put such octets into a name (RFC 7208 §7.3);
// resolvers built on github.com/miekg/dns, like resolver.Client and
// resolver.Zone, take names in that format. Most names need no escaping.
func presentationName(name string) string {
	clean := true
	for i := 0; i < len(name); i++ {
		if needsEscape(name[i]) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	b := make([]byte, 0, len(name)+16)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if needsEscape(c) {
			b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func needsEscape(c byte) bool {
	switch c {
	case ' ', '\'', '@', ';', '(', ')', '"', '\\':
		return true
	}
	return c < ' ' || c > '~'
}

// match evaluates one mechanism (RFC 7208 §5).
func (e *eval) match(d *Directive, domain string) (bool, hostResult) {
	switch d.Mechanism {
	case MechanismAll:
		return true, hostResult{}
	case MechanismIP4, MechanismIP6:
		// RFC 7208 §5.6.
		return d.Prefix.Contains(e.ip), hostResult{}
	}
	term := d.term()
	if r, ok := e.countLookup(domain, term); !ok {
		return false, r
	}
	target := domain
	if d.Domain != "" {
		t, ok := e.targetName(d.Domain, domain)
		if !ok {
			if d.Mechanism == MechanismInclude {
				return false, e.fail(PermError, domain, term, ErrNoRecord)
			}
			// A name that cannot exist is a void lookup.
			if r, ok := e.countVoid(domain, term); !ok {
				return false, r
			}
			return false, hostResult{}
		}
		target = t
	}
	switch d.Mechanism {
	case MechanismInclude:
		// RFC 7208 §5.2: pass matches; fail, softfail, neutral do not;
		// temperror and permerror propagate; none is permerror.
		r := e.checkHost(target)
		if r.err != nil {
			return false, r
		}
		switch r.result {
		case Pass:
			return true, hostResult{}
		case None:
			return false, e.fail(PermError, domain, term, ErrNoRecord)
		}
		return false, hostResult{}
	case MechanismA:
		// RFC 7208 §5.3.
		m, void, err := e.matchHost(target, d)
		if err != nil {
			return false, e.fail(TempError, domain, term, err)
		}
		if void {
			if r, ok := e.countVoid(domain, term); !ok {
				return false, r
			}
		}
		return m, hostResult{}
	case MechanismMX:
		// RFC 7208 §5.4.
		var buf [10]string
		hosts, more, void, err := e.lookupMX(target, buf[:0])
		if err != nil {
			return false, e.fail(TempError, domain, term, err)
		}
		if void {
			if r, ok := e.countVoid(domain, term); !ok {
				return false, r
			}
			return false, hostResult{}
		}
		for _, h := range hosts {
			if h == "" {
				continue // null MX (RFC 7505)
			}
			m, _, err := e.matchHost(h, d)
			if err != nil {
				return false, e.fail(TempError, domain, term, err)
			}
			if m {
				return true, hostResult{}
			}
		}
		// RFC 7208 §4.6.4: at most 10 MX names per mx mechanism; needing
		// the 11th is permerror.
		if more {
			return false, e.fail(PermError, domain, term, ErrTooManyMX)
		}
		return false, hostResult{}
	case MechanismPTR:
		// RFC 7208 §5.5.
		names, void, err := e.lookupPTR()
		if err != nil {
			// "If a DNS error occurs while doing the PTR RR lookup, then
			// this mechanism fails to match."
			return false, hostResult{}
		}
		if void {
			if r, ok := e.countVoid(domain, term); !ok {
				return false, r
			}
			return false, hostResult{}
		}
		for i, n := range names {
			if i >= 10 { // §4.6.4: names after the 10th are ignored
				break
			}
			if dnsname.IsSubdomain(n, target) && e.validates(n) {
				return true, hostResult{}
			}
		}
		return false, hostResult{}
	case MechanismExists:
		// RFC 7208 §5.7: an A query whatever the client's family.
		var buf [4]netip.Addr
		addrs, void, err := e.lookupIP(target, false, buf[:0])
		if err != nil {
			return false, e.fail(TempError, domain, term, err)
		}
		if void {
			if r, ok := e.countVoid(domain, term); !ok {
				return false, r
			}
		}
		return len(addrs) > 0, hostResult{}
	}
	return false, hostResult{}
}

// matchHost looks up the addresses of host in the client's family and
// matches them with the dual CIDR lengths of d (RFC 7208 §5.3, §5.6).
func (e *eval) matchHost(host string, d *Directive) (match, void bool, err error) {
	v6 := !e.ip.Is4()
	var buf [8]netip.Addr
	addrs, void, err := e.lookupIP(host, v6, buf[:0])
	if err != nil || void {
		return false, void, err
	}
	bits := d.CIDR4
	if v6 {
		bits = d.CIDR6
	}
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() == v6 {
			continue // an address of the other family never matches
		}
		if bits < 0 {
			if a == e.ip {
				return true, false, nil
			}
			continue
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(e.ip) {
			return true, false, nil
		}
	}
	return false, false, nil
}

// validates reports whether name resolves to the client IP (the
// validation of RFC 7208 §5.5); DNS errors mean no.
func (e *eval) validates(name string) bool {
	var buf [8]netip.Addr
	addrs, _, err := e.lookupIP(name, !e.ip.Is4(), buf[:0])
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.Unmap() == e.ip {
			return true
		}
	}
	return false
}

// validatedName is the %{p} macro (RFC 7208 §7.2): a validated name of the
// client, preferring domain or a subdomain of it; "unknown" when there is
// none. DNS errors are not errors here.
func (e *eval) validatedName(domain string) string {
	names, _, err := e.lookupPTR()
	if err != nil {
		return "unknown"
	}
	if len(names) > 10 {
		names = names[:10]
	}
	for _, n := range names {
		if dnsname.IsSubdomain(n, domain) && e.validates(n) {
			return n
		}
	}
	for _, n := range names {
		if !dnsname.IsSubdomain(n, domain) && e.validates(n) {
			return n
		}
	}
	return "unknown"
}

// explanation computes the explanation for a Fail (RFC 7208 §6.2): the exp=
// of the deciding record, expanded; on any problem, the default.
func (e *eval) explanation(rec *Record, domain string) string {
	if rec != nil && rec.Exp != "" {
		if s, ok := e.expExplanation(rec.Exp, domain); ok {
			return s
		}
	}
	def := e.c.DefaultExplanation
	if def == "" {
		def = DefaultExplanation
	}
	var tmp [256]byte
	b, ok := e.expand(tmp[:0], def, domain, macroExplain)
	if !ok || !printable(b) {
		return sanitizeText(def)
	}
	return string(b)
}

func (e *eval) expExplanation(spec, domain string) (string, bool) {
	name, ok := e.targetName(spec, domain)
	if !ok {
		return "", false
	}
	var buf [2]string
	txts, void, err := e.lookupTXT(name, buf[:0])
	// RFC 7208 §6.2: no record, several records, a DNS error or a syntax
	// error all mean the default explanation.
	if err != nil || void || len(txts) != 1 {
		return "", false
	}
	var tmp [256]byte
	b, ok := e.expand(tmp[:0], txts[0], domain, macroExplain)
	if !ok || !printable(b) {
		return "", false
	}
	return string(b), true
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// sanitizeText replaces every octet outside printable US-ASCII with "?".
func sanitizeText(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// checkQueryName reports whether name can be sent as a DNS query (ok: 1 to
// 253 octets, labels of 1 to 63 octets, RFC 1035 §2.3.4) and whether it
// needs no escaping (clean, see presentationName), in one pass.
func checkQueryName(name string) (clean, ok bool) {
	if name == "" || len(name) > 253 {
		return false, false
	}
	clean = true
	l := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '.' {
			if l == 0 {
				return false, false
			}
			l = 0
			continue
		}
		if needsEscape(c) {
			clean = false
		}
		l++
		if l > 63 {
			return false, false
		}
	}
	return clean, l > 0
}
