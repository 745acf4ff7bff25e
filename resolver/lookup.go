package resolver

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// This file holds the one mapping from Query answers to the net-style results
// of the Resolver methods. Client and Zone both call it, so that the wire path
// and the in-memory path cannot disagree.

// lookupTXT implements Resolver.LookupTXT on top of q: the strings of one
// record are joined without a separator, records are kept apart, and the
// result is the octets of the record, not miekg/dns's escaped presentation
// form (as net.Resolver.LookupTXT does: `say "hi"` stays `say "hi"`).
func lookupTXT(ctx context.Context, q Querier, name string) ([]string, error) {
	a, err := lookupAnswer(ctx, q, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	txts := make([]string, 0, len(a.Records))
	for _, rr := range a.Records {
		if t, ok := rr.(*dns.TXT); ok {
			txts = append(txts, JoinTXT(t.Txt))
		}
	}
	return txts, nil
}

// lookupMX implements Resolver.LookupMX: sorted by preference (stable, so
// records of equal preference keep the server's order; RFC 5321 §5.1 leaves
// randomising them to the SMTP client), targets absolute. As net.Resolver
// does, targets that are not host names (see netDomainName) are dropped and
// reported with an error returned alongside the others.
func lookupMX(ctx context.Context, q Querier, name string) ([]*net.MX, error) {
	a, err := lookupAnswer(ctx, q, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	mxs := make([]*net.MX, 0, len(a.Records))
	dropped := false
	for _, rr := range a.Records {
		if m, ok := rr.(*dns.MX); ok {
			host, ok := netHostName(m.Mx)
			if !ok {
				// net keeps an IP address written as a target, as
				// some domains do.
				ip, err := netip.ParseAddr(strings.TrimSuffix(host, "."))
				if err != nil || ip.Zone() != "" {
					dropped = true
					continue
				}
			}
			mxs = append(mxs, &net.MX{Host: host, Pref: m.Preference})
		}
	}
	slices.SortStableFunc(mxs, func(x, y *net.MX) int { return int(x.Pref) - int(y.Pref) })
	if dropped {
		return mxs, &net.DNSError{Err: errTextInvalidNames, Name: name, Server: a.Server}
	}
	return mxs, nil
}

// lookupNetIP implements Resolver.LookupNetIP. network is "ip4" (A), "ip6"
// (AAAA) or "ip" (both, IPv4 addresses first). An IP literal is returned as
// is, as net does.
func lookupNetIP(ctx context.Context, q Querier, network, host string) ([]netip.Addr, error) {
	var types []uint16
	switch network {
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	default:
		return nil, net.UnknownNetworkError(network)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if network == "ip" || (network == "ip4") == ip.Unmap().Is4() {
			return []netip.Addr{ip}, nil
		}
		return nil, notFoundError(host, "", ErrNoData)
	}
	if len(types) == 1 {
		a, err := lookupAnswer(ctx, q, host, types[0])
		if err != nil {
			return nil, err
		}
		return appendAddrs(nil, a), nil
	}
	// Both families: ask concurrently, as net does, and wait for both.
	type result struct {
		a   *Answer
		err error
	}
	aaaa := make(chan result, 1)
	go func() {
		a, err := lookupAnswer(ctx, q, host, dns.TypeAAAA)
		aaaa <- result{a, err}
	}()
	a4, err4 := lookupAnswer(ctx, q, host, dns.TypeA)
	r6 := <-aaaa
	var addrs []netip.Addr
	if err4 == nil {
		addrs = appendAddrs(addrs, a4)
	}
	if r6.err == nil {
		addrs = appendAddrs(addrs, r6.a)
	}
	switch {
	case len(addrs) > 0:
		return addrs, nil
	case err4 != nil && !IsNotFound(err4):
		return nil, err4
	case r6.err != nil && !IsNotFound(r6.err):
		return nil, r6.err
	default:
		return nil, err4
	}
}

func appendAddrs(addrs []netip.Addr, a *Answer) []netip.Addr {
	for _, rr := range a.Records {
		switch r := rr.(type) {
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(r.A.To4()); ok {
				addrs = append(addrs, ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(r.AAAA.To16()); ok {
				addrs = append(addrs, ip)
			}
		}
	}
	return addrs
}

// lookupAddr implements Resolver.LookupAddr: the PTR names of addr, absolute.
// As net.Resolver does, names that are not host names (see netDomainName)
// are dropped and reported with an error returned alongside the others.
func lookupAddr(ctx context.Context, q Querier, addr string) ([]string, error) {
	name, err := ReverseName(addr)
	if err != nil {
		return nil, &net.DNSError{Err: errTextUnrecognized, Name: addr, UnwrapErr: err}
	}
	a, err := lookupAnswer(ctx, q, name, dns.TypePTR)
	if err != nil {
		if de, ok := err.(*net.DNSError); ok {
			de.Name = addr // as net reports it: the address asked, not the arpa name
		}
		return nil, err
	}
	names := make([]string, 0, len(a.Records))
	dropped := false
	for _, rr := range a.Records {
		if p, ok := rr.(*dns.PTR); ok {
			n, ok := netHostName(p.Ptr)
			if !ok {
				dropped = true
				continue
			}
			names = append(names, n)
		}
	}
	if dropped {
		return names, &net.DNSError{Err: errTextInvalidNames, Name: addr, Server: a.Server}
	}
	return names, nil
}

// lookupAnswer runs one query and turns an answer without usable records
// into the error net would return.
func lookupAnswer(ctx context.Context, q Querier, name string, qtype uint16) (*Answer, error) {
	a, err := q.Query(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	if err := rcodeAnswerError(a, name); err != nil {
		return nil, err
	}
	return a, nil
}

// ReverseName returns the name under which the PTR records of addr are
// published: d.c.b.a.in-addr.arpa. for IPv4 (RFC 1035 §3.5) and the 32
// reversed nibbles under ip6.arpa. for IPv6 (RFC 3596 §2.5). IPv4-mapped IPv6
// addresses are treated as IPv4. A zone (fe80::1%eth0) is ignored.
func ReverseName(addr string) (string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "", ErrUnknownAddress
	}
	return ReverseAddr(ip), nil
}

// ReverseAddr is [ReverseName] for a parsed address.
func ReverseAddr(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	const hexDigits = "0123456789abcdef"
	var buf [64 + len("ip6.arpa.")]byte
	b := buf[:0]
	if ip.Is4() {
		v := ip.As4()
		for i := 3; i >= 0; i-- {
			b = appendUint8(b, v[i])
			b = append(b, '.')
		}
		return string(append(b, "in-addr.arpa."...))
	}
	v := ip.As16()
	for i := 15; i >= 0; i-- {
		b = append(b, hexDigits[v[i]&0xf], '.', hexDigits[v[i]>>4], '.')
	}
	return string(append(b, "ip6.arpa."...))
}

func appendUint8(b []byte, v uint8) []byte {
	if v >= 100 {
		b = append(b, '0'+v/100)
	}
	if v >= 10 {
		b = append(b, '0'+v/10%10)
	}
	return append(b, '0'+v%10)
}
