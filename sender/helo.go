package sender

import (
	"context"
	"net/netip"
	"strings"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

// HELOSignal is one observation about the HELO/EHLO argument. Signals are
// for scoring and logs: RFC 5321 §4.1.4 says a server "MUST NOT" refuse mail
// solely because the HELO does not match the client, and Check never does.
type HELOSignal string

// The HELO signals.
const (
	// HELONotFQDN: neither a fully qualified domain name nor an address
	// literal (RFC 5321 §4.1.1.1, §2.3.5).
	HELONotFQDN HELOSignal = "not-fqdn"
	// HELOLiteralMismatch: an address literal that is not the client IP.
	HELOLiteralMismatch HELOSignal = "literal-mismatch"
	// HELOClaimsOurs: the client claims one of our own names or addresses,
	// a strong forgery signal.
	HELOClaimsOurs HELOSignal = "claims-ours"
	// HELONoAddress: the name has no A or AAAA records.
	HELONoAddress HELOSignal = "no-address"
	// HELONotClientIP: the name resolves, but not to the client IP.
	HELONotClientIP HELOSignal = "not-client-ip"
	// HELONotIPRevName: the name differs from the forward-confirmed PTR
	// name of the client (only when iprev passed).
	HELONotIPRevName HELOSignal = "not-iprev-name"
	// HELOSPFFail: SPF on the HELO identity (RFC 7208 §2.3) failed.
	HELOSPFFail HELOSignal = "spf-fail"
)

// HELOResult holds the HELO observations for one session.
type HELOResult struct {
	// HELO is the argument as given.
	HELO string
	// Name is the normalised name, "" for an address literal or an
	// invalid name; Literal is the address of an address literal.
	Name    string
	Literal netip.Addr
	// Signals lists what was observed, in the order of the constants.
	Signals []HELOSignal
	// SPFResult is the SPF result of the HELO identity ("" when not
	// checked: an address literal, an invalid name, or no SPF checker).
	SPFResult string
	// Err records a DNS failure that left a signal unknown (not a verdict).
	Err error
}

// Has reports whether the result holds signal s.
func (h HELOResult) Has(s HELOSignal) bool {
	for _, x := range h.Signals {
		if x == s {
			return true
		}
	}
	return false
}

// parseAddressLiteral parses an RFC 5321 §4.1.3 address literal:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func parseAddressLiteral(s string) (netip.Addr, bool) {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return netip.Addr{}, false
	}
	in := s[1 : len(s)-1]
	if len(in) > 5 && strings.EqualFold(in[:5], "IPv6:") {
		a, err := netip.ParseAddr(in[5:])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(in)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// CheckHELO observes the HELO/EHLO argument helo of a client at ip (RFC
// 5321 §4.1.4): whether it is a fully qualified name or an address literal,
// whether a literal is the client's address, whether it claims one of our
// names or addresses (OwnNames, OwnAddrs), whether the name resolves to the
// client, and, unless DisableHELOSPF is set, SPF for the HELO identity (RFC
// 7208 §2.3). It returns observations, never an error: a DNS failure leaves
// a signal out and is recorded in HELOResult.Err.
func (c *Checker) CheckHELO(ctx context.Context, helo string, ip netip.Addr) HELOResult {
	h := c.checkHELO(ctx, helo, ip, "")
	if !c.DisableHELOSPF && h.Name != "" {
		out, _ := c.spfChecker().CheckHELO(ctx, ip.Unmap(), h.Name)
		h.SPFResult = string(out.Result)
		if out.Result == spf.Fail {
			h.Signals = append(h.Signals, HELOSPFFail)
		}
	}
	return h
}

// checkHELO computes the DNS and syntax signals. iprevName is the confirmed
// PTR name ("" when iprev did not pass).
func (c *Checker) checkHELO(ctx context.Context, helo string, ip netip.Addr, iprevName string) HELOResult {
	ip = ip.Unmap()
	res := HELOResult{HELO: helo}
	add := func(s HELOSignal) { res.Signals = append(res.Signals, s) }
	if a, ok := parseAddressLiteral(helo); ok {
		res.Literal = a
		if a.Unmap() != ip {
			add(HELOLiteralMismatch)
		}
		if c.isOwnAddr(a) {
			add(HELOClaimsOurs)
		}
		return res
	}
	name, err := dnsname.Normalize(helo)
	if err != nil || name == "" || !strings.Contains(name, ".") || !isHostname(name) {
		add(HELONotFQDN)
		if err == nil && name != "" && c.isOwnName(name) {
			add(HELOClaimsOurs)
		}
		return res
	}
	res.Name = name
	if c.isOwnName(name) {
		add(HELOClaimsOurs)
	}
	network := "ip4"
	if ip.Is6() {
		network = "ip6"
	}
	r := c.resolver()
	addrs, err := r.LookupNetIP(ctx, network, dnsname.Absolute(name))
	switch {
	case err != nil && !resolver.IsNotFound(err):
		res.Err = &LookupError{Name: name, Err: ErrDNS, Cause: err}
	case len(addrs) == 0:
		// No address of the client's family; the other family may exist.
		other := "ip6"
		if network == "ip6" {
			other = "ip4"
		}
		more, err2 := r.LookupNetIP(ctx, other, dnsname.Absolute(name))
		switch {
		case err2 != nil && !resolver.IsNotFound(err2):
			res.Err = &LookupError{Name: name, Err: ErrDNS, Cause: err2}
		case len(more) == 0:
			add(HELONoAddress)
		default:
			add(HELONotClientIP)
		}
	default:
		found := false
		for _, a := range addrs {
			if a.Unmap() == ip {
				found = true
				break
			}
		}
		if !found {
			add(HELONotClientIP)
		}
	}
	if iprevName != "" && !dnsname.Equal(iprevName, name) {
		add(HELONotIPRevName)
	}
	return res
}

func (c *Checker) isOwnName(name string) bool {
	for _, n := range c.OwnNames {
		if dnsname.Equal(n, name) {
			return true
		}
	}
	return false
}

func (c *Checker) isOwnAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.OwnAddrs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isHostname reports whether a normalised name is made of LDH labels (RFC
// 1123 §2.1), as a HELO domain must be (RFC 5321 §4.1.2 Domain).
func isHostname(name string) bool {
	for l := range strings.SplitSeq(name, ".") {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}
