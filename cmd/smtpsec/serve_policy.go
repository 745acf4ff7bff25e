package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	root "github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/postfix"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
	"github.com/smtpsec/smtpsec/spf"
)

// verdictAction is what the policy does with an SPF result.
type verdictAction string

const (
	actReject  verdictAction = "reject"  // a 5xx reply
	actDefer   verdictAction = "defer"   // a 4xx reply
	actPrepend verdictAction = "prepend" // accept, adding Received-SPF
	actDunno   verdictAction = "dunno"   // accept, no header
)

// actionFlag is a verdictAction flag limited to some values.
type actionFlag struct {
	v       verdictAction
	allowed []verdictAction
}

func (f *actionFlag) String() string { return string(f.v) }

func (f *actionFlag) Set(s string) error {
	for _, a := range f.allowed {
		if strings.EqualFold(s, string(a)) {
			f.v = a
			return nil
		}
	}
	var names []string
	for _, a := range f.allowed {
		names = append(names, string(a))
	}
	return fmt.Errorf("must be one of %s", strings.Join(names, ", "))
}

// iprevMode says what the policy does with iprev (RFC 8601 §3).
type iprevMode string

const (
	iprevOff    iprevMode = "off"
	iprevLog    iprevMode = "log"
	iprevReject iprevMode = "reject"
)

// policy decides SMTPD access policy requests with SPF, and optionally
// iprev and HELO signals.
type policy struct {
	spf     *spf.Checker
	checker *sender.Checker // iprev and HELO signals
	trusted []netip.Prefix
	timeout time.Duration

	onFail, onSoftFail, onTempError, onPermError verdictAction
	onHELOFail                                   verdictAction
	heloCheck                                    bool
	prepend                                      bool
	iprev                                        iprevMode
	heloSignals                                  bool

	cache  *instanceCache
	logger *slog.Logger
}

// decision is the verdict for one message (one Postfix "instance").
type decision struct {
	action postfix.Action
	// final is true for a reply (reject or defer), which every later
	// request of the same message gets too; otherwise later requests get
	// DUNNO, since the header was prepended once already.
	final bool
}

// decide is the postfix.PolicyHandler.
func (p *policy) decide(ctx context.Context, req *postfix.PolicyRequest) (postfix.Action, error) {
	if r := req.Get("request"); r != "smtpd_access_policy" {
		// Not ours to answer: the server closes the connection, and
		// Postfix applies smtpd_policy_service_default_action.
		return "", fmt.Errorf("unsupported request type %q", r)
	}
	switch strings.ToUpper(req.Get("protocol_state")) {
	case "MAIL", "RCPT", "DATA", "BDAT":
	default:
		// CONNECT, EHLO and HELO come before the sender is known;
		// PREPEND is not allowed at END-OF-MESSAGE; VRFY and ETRN carry
		// no message.
		return postfix.Dunno, nil
	}
	if req.Get("sasl_username") != "" {
		// An authenticated submission: SPF judges relays, not users.
		return postfix.Dunno, nil
	}
	ip, err := netip.ParseAddr(req.Get("client_address"))
	if err != nil {
		p.logger.Warn("policy request without a usable client_address", "client_address", req.Get("client_address"))
		return postfix.Dunno, nil
	}
	ip = ip.Unmap()
	for _, t := range p.trusted {
		if t.Contains(ip) {
			return postfix.Dunno, nil
		}
	}
	helo, from := req.Get("helo_name"), req.Get("sender")
	key := ""
	if inst := req.Get("instance"); inst != "" {
		key = inst + "\x00" + ip.String() + "\x00" + helo + "\x00" + from
		if d, ok := p.cache.get(key); ok {
			if d.final {
				return d.action, nil
			}
			return postfix.Dunno, nil
		}
	}
	d := p.evaluate(ctx, req, ip, helo, from)
	if key != "" {
		p.cache.put(key, d)
	}
	return d.action, nil
}

// evaluate runs the checks for one message.
func (p *policy) evaluate(ctx context.Context, req *postfix.PolicyRequest, ip netip.Addr, helo, from string) decision {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	log := p.logger.With("client", ip.String(), "helo", helo, "sender", from, "queue_id", req.Get("queue_id"))

	// RFC 7208 §2.3: checking HELO first is RECOMMENDED; a Fail there may
	// reject the message before MAIL FROM is judged. With a null sender,
	// Check below checks the HELO identity itself.
	if p.heloCheck && from != "" && isDomainName(helo) {
		ho, _ := p.spf.CheckHELO(ctx, ip, helo)
		if ho.Result == spf.Fail && p.onHELOFail == actReject {
			// RFC 7208 §8.4, RFC 7372 §3.2: 550 5.7.23.
			a := postfix.Reply(root.Reply{Code: 550, Enhanced: root.EnhancedCode{Subject: 7, Detail: 23},
				Text: "SPF HELO check failed: " + ho.Explanation})
			log.Info("policy", "identity", "helo", "spf", ho.Result, "action", "reject", "elapsed", time.Since(start))
			return decision{action: a, final: true}
		}
	}

	out, _ := p.spf.Check(ctx, spf.Input{IP: ip, HELO: helo, MailFrom: from})
	d := p.spfDecision(&out)
	attrs := []any{"identity", out.Identity, "spf", out.Result, "mechanism", out.Mechanism}
	if out.Problem != "" {
		attrs = append(attrs, "problem", out.Problem)
	}

	if !d.final && p.iprev != iprevOff {
		r, _ := p.checker.IPRev(ctx, ip)
		attrs = append(attrs, "iprev", r.Status, "iprev_name", r.Name)
		if p.iprev == iprevReject && (r.Status == sender.IPRevFail || r.Status == sender.IPRevPermError) {
			// RFC 7372 §3.3: X.7.25, reverse DNS validation failed.
			d = decision{final: true, action: postfix.Reply(root.Reply{Code: 550, Enhanced: root.EnhancedCode{Subject: 7, Detail: 25},
				Text: "Reverse DNS validation failed for " + ip.String()})}
		}
	}
	if p.heloSignals {
		// RFC 5321 §4.1.4: a server MUST NOT refuse mail only because the
		// HELO does not match the client, so these are logged only.
		h := p.checker.CheckHELO(ctx, helo, ip)
		var sig []string
		for _, s := range h.Signals {
			sig = append(sig, string(s))
		}
		attrs = append(attrs, "helo_signals", strings.Join(sig, ","))
	}
	kind := "accept"
	switch {
	case d.final && strings.HasPrefix(string(d.action), "4"):
		kind = "defer"
	case d.final:
		kind = "reject"
	case strings.HasPrefix(string(d.action), "PREPEND"):
		kind = "prepend"
	}
	attrs = append(attrs, "action", kind, "elapsed", time.Since(start))
	log.Info("policy", attrs...)
	return d
}

// spfDecision maps an SPF outcome to an action (RFC 7208 §8).
func (p *policy) spfDecision(out *spf.Outcome) decision {
	var act verdictAction
	var reply root.Reply
	switch out.Result {
	case spf.Fail:
		// RFC 7208 §8.4: 550 (5.7.1, which RFC 7372 §3.2 replaced with
		// 5.7.23), with the explanation.
		act = p.onFail
		id := "MAIL FROM"
		if out.Identity == spf.IdentityHELO {
			id = "HELO"
		}
		reply = root.Reply{Code: 550, Enhanced: root.EnhancedCode{Subject: 7, Detail: 23},
			Text: "SPF " + id + " check failed: " + out.Explanation}
	case spf.SoftFail:
		// RFC 7208 §8.5: receivers SHOULD NOT reject on SoftFail alone;
		// a site that does uses its own policy code.
		act = p.onSoftFail
		reply = root.Reply{Code: 550, Enhanced: root.EnhancedCode{Subject: 7, Detail: 1},
			Text: "SPF softfail: " + out.Domain + " does not authorize " + out.IP.String()}
	case spf.TempError:
		// RFC 7208 §8.6: 451 (4.4.3, replaced by 4.7.24 in RFC 7372 §3.2).
		act = p.onTempError
		reply = root.Reply{Code: 451, Enhanced: root.EnhancedCode{Subject: 7, Detail: 24},
			Text: "SPF check of " + out.Domain + " failed temporarily; try again later"}
	case spf.PermError:
		// RFC 7208 §8.7: 550 (5.5.2, replaced by 5.7.24 in RFC 7372 §3.2).
		act = p.onPermError
		reply = root.Reply{Code: 550, Enhanced: root.EnhancedCode{Subject: 7, Detail: 24},
			Text: "SPF record of " + out.Domain + " is invalid: " + out.Problem}
	default: // pass, neutral, none
		act = actPrepend
	}
	switch act {
	case actReject, actDefer:
		if act == actDefer {
			reply.Code = 451
		}
		return decision{action: postfix.Reply(reply), final: true}
	case actPrepend:
		if p.prepend {
			return decision{action: postfix.Prepend(out.ReceivedSPF())}
		}
	}
	return decision{action: postfix.Dunno}
}

// isDomainName reports whether a HELO argument is worth an SPF check: a
// name with a dot, not an address literal.
func isDomainName(s string) bool {
	return strings.Contains(s, ".") && !strings.HasPrefix(s, "[")
}

// instanceCache remembers decisions per message for a while, so that a
// message with several recipients is checked once and gets one
// Received-SPF field. It holds at most max entries; the oldest go first.
type instanceCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[string]cacheEntry
	order   []string // insertion order, a ring of at most max keys
	next    int
}

type cacheEntry struct {
	d       decision
	expires time.Time
}

func newInstanceCache(max int, ttl time.Duration) *instanceCache {
	return &instanceCache{max: max, ttl: ttl, entries: make(map[string]cacheEntry), order: make([]string, 0, max)}
}

func (c *instanceCache) get(key string) (decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		return decision{}, false
	}
	return e.d, true
}

func (c *instanceCache) put(key string, d decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		c.entries[key] = cacheEntry{d, time.Now().Add(c.ttl)}
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, key)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % c.max
	}
	c.entries[key] = cacheEntry{d, time.Now().Add(c.ttl)}
}

const policyHelp = `Usage: smtpsec serve policy [--listen ADDR] [--dns ADDR | --zone FILE] [flags]

Serves the Postfix SMTPD policy delegation protocol for
check_policy_service, checking SPF (RFC 7208) for MAIL FROM and HELO.
By default it prepends a Received-SPF field (RFC 7208 §9.1), rejects Fail
with "550 5.7.23" and the domain's explanation (RFC 7208 §8.4, RFC 7372
§3.2), defers TempError with "451 4.7.24" (§8.6), and accepts PermError
and SoftFail with the header. A HELO identity that fails SPF is rejected
too. Each message is checked once, whatever the number of recipients.

Not checked (answered DUNNO): clients in --trusted, clients that
authenticated (sasl_username set), and the CONNECT, EHLO, END-OF-MESSAGE,
VRFY and ETRN stages. Use it in smtpd_recipient_restrictions after
reject_unauth_destination.

Flags:
`

func servePolicy(ctx context.Context, args []string, e env) int {
	var c serveCommon
	fs := c.flagSet("serve policy", policyHelp)
	addr := fs.String("listen", "127.0.0.1:10040", "listen `address`: host:port or unix:/path")
	dnsAddr := fs.String("dns", "", "ask this DNS server (`ip` or ip:port) instead of /etc/resolv.conf")
	zone := fs.String("zone", "", "answer DNS queries from this zone `file` (testing)")
	timeout := fs.Duration("timeout", 15*time.Second, "time budget of the checks of one message")
	receiver := fs.String("receiver", "", "our host `name` in Received-SPF (default: the host name)")
	var trusted listFlag
	fs.Var(&trusted, "trusted", "client `CIDRs` not checked: trusted relays (repeatable, comma-separated)")
	heloCheck := fs.Bool("helo-check", true, "check SPF for the HELO identity too (RFC 7208 §2.3)")
	prepend := fs.Bool("prepend", true, "prepend Received-SPF; false answers DUNNO instead")
	onFail := actionFlag{actReject, []verdictAction{actReject, actPrepend, actDunno}}
	onSoftFail := actionFlag{actPrepend, []verdictAction{actPrepend, actReject, actDunno}}
	onTemp := actionFlag{actDefer, []verdictAction{actDefer, actPrepend, actDunno}}
	onPerm := actionFlag{actPrepend, []verdictAction{actPrepend, actReject, actDunno}}
	onHELO := actionFlag{actReject, []verdictAction{actReject, actDunno}}
	fs.Var(&onFail, "on-fail", "`action` for Fail: reject (550 5.7.23), prepend or dunno")
	fs.Var(&onSoftFail, "on-softfail", "`action` for SoftFail: prepend, reject (550 5.7.1) or dunno")
	fs.Var(&onTemp, "on-temperror", "`action` for TempError: defer (451 4.7.24), prepend or dunno")
	fs.Var(&onPerm, "on-permerror", "`action` for PermError: prepend, reject (550 5.7.24) or dunno")
	fs.Var(&onHELO, "on-helo-fail", "`action` when the HELO identity fails SPF: reject (550 5.7.23) or dunno")
	iprev := fs.String("iprev", "off", "iprev check (RFC 8601 §3) `mode`: off, log, or reject (550 5.7.25 when it fails)")
	heloSignals := fs.Bool("helo-signals", false, "log HELO signals (not a FQDN, not the client, ...); never rejects")
	if code, ok := parseServeFlags(fs, &c, args, e); !ok {
		return code
	}
	logger, err := c.logger(e.stderr)
	if err != nil {
		return usageError(e, "%v", err)
	}
	mode := iprevMode(*iprev)
	if mode != iprevOff && mode != iprevLog && mode != iprevReject {
		return usageError(e, "--iprev must be off, log or reject")
	}
	var prefixes []netip.Prefix
	for _, t := range trusted {
		pf, err := netip.ParsePrefix(t)
		if err != nil {
			a, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return usageError(e, "--trusted: %v", err)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, pf.Masked())
	}
	cm := common{zone: *zone, dns: *dnsAddr}
	res, err := cm.resolver()
	if err != nil {
		return fail(e, exitUsage, err)
	}
	if *receiver == "" {
		if h, err := os.Hostname(); err == nil {
			*receiver = h
		}
	}
	checker := &spf.Checker{Resolver: res, ReceiverDomain: *receiver}
	p := &policy{
		spf:         checker,
		checker:     &sender.Checker{Resolver: res, SPF: checker, DisableHELOSPF: true, AuthservID: *receiver},
		trusted:     prefixes,
		timeout:     *timeout,
		onFail:      onFail.v,
		onSoftFail:  onSoftFail.v,
		onTempError: onTemp.v,
		onPermError: onPerm.v,
		onHELOFail:  onHELO.v,
		heloCheck:   *heloCheck,
		prepend:     *prepend,
		iprev:       mode,
		heloSignals: *heloSignals,
		cache:       newInstanceCache(10000, 10*time.Minute),
		logger:      logger,
	}
	lns, err := c.openListeners(ctx, []string{*addr})
	if err != nil {
		return fail(e, exitUsage, err)
	}
	srv := &postfix.PolicyServer{Handler: p.decide, Limits: c.limits(*timeout + 5*time.Second), Logger: logger}
	logger.Info("policy service starting", "dns", dnsDescription(res, *dnsAddr, *zone), "trusted", trusted.String())
	return runServers(ctx, logger, []namedServer{{name: "policy", ln: lns[0], srv: srv}})
}

func dnsDescription(_ resolver.Resolver, dnsAddr, zone string) string {
	switch {
	case zone != "":
		return "zone " + zone
	case dnsAddr != "":
		return dnsAddr
	}
	return "resolv.conf"
}
