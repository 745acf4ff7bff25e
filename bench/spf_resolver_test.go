package bench

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/mjl-/adns"
	moxdns "github.com/mjl-/mox/dns"
)

// memDNS is the pre-built in-memory DNS data every SPF implementation reads
// in these benchmarks. Each implementation gets an adapter for its own
// resolver interface; the adapters return pre-built values (no conversion
// per lookup), so the resolver costs every peer the same: a map lookup.
type memDNS struct {
	txt  map[string][]string
	mx   map[string][]*net.MX
	ip4  map[string][]netip.Addr
	ip6  map[string][]netip.Addr
	ptr  map[string][]string
	ipa  map[string][]net.IPAddr // for blitiri: A and AAAA together
	ipv4 map[string][]net.IP     // for mox
	ipv6 map[string][]net.IP
	all  map[string][]net.IP
}

// notFound is returned for every miss; it is shared and never modified.
var errNotFound error = &net.DNSError{Err: "no such host", IsNotFound: true}

func key(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// newMemDNS builds the data from simple records: "name TXT text",
// "name A addr", "name AAAA addr", "name MX pref host", "addr PTR name".
func newMemDNS(records ...string) *memDNS {
	d := &memDNS{
		txt: map[string][]string{}, mx: map[string][]*net.MX{},
		ip4: map[string][]netip.Addr{}, ip6: map[string][]netip.Addr{}, ptr: map[string][]string{},
		ipa: map[string][]net.IPAddr{}, ipv4: map[string][]net.IP{}, ipv6: map[string][]net.IP{}, all: map[string][]net.IP{},
	}
	for _, r := range records {
		f := strings.SplitN(r, " ", 3)
		name, typ, val := key(f[0]), f[1], f[2]
		switch typ {
		case "TXT":
			d.txt[name] = append(d.txt[name], val)
		case "A", "AAAA":
			a := netip.MustParseAddr(val)
			if typ == "A" {
				d.ip4[name] = append(d.ip4[name], a)
				d.ipv4[name] = append(d.ipv4[name], net.IP(a.AsSlice()))
			} else {
				d.ip6[name] = append(d.ip6[name], a)
				d.ipv6[name] = append(d.ipv6[name], net.IP(a.AsSlice()))
			}
			d.ipa[name] = append(d.ipa[name], net.IPAddr{IP: net.IP(a.AsSlice())})
			d.all[name] = append(d.all[name], net.IP(a.AsSlice()))
		case "MX":
			p := strings.SplitN(val, " ", 2)
			var pref uint16
			for _, c := range p[0] {
				pref = pref*10 + uint16(c-'0')
			}
			d.mx[name] = append(d.mx[name], &net.MX{Host: key(p[1]) + ".", Pref: pref})
		case "PTR":
			d.ptr[name] = append(d.ptr[name], key(val)+".")
		}
	}
	return d
}

// smtpsecResolver implements resolver.Resolver.
type smtpsecResolver struct{ d *memDNS }

func (r smtpsecResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := r.d.txt[key(name)]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r smtpsecResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	if v, ok := r.d.mx[key(name)]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r smtpsecResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	m := r.d.ip4
	if network == "ip6" {
		m = r.d.ip6
	}
	if v, ok := m[key(host)]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r smtpsecResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if v, ok := r.d.ptr[addr]; ok {
		return v, nil
	}
	return nil, errNotFound
}

// blitiriResolver implements blitiri spf's DNSResolver.
type blitiriResolver struct{ d *memDNS }

func (r blitiriResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return smtpsecResolver(r).LookupTXT(ctx, name)
}

func (r blitiriResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return smtpsecResolver(r).LookupMX(ctx, name)
}

func (r blitiriResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if v, ok := r.d.ipa[key(host)]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r blitiriResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return smtpsecResolver(r).LookupAddr(ctx, addr)
}

// moxResolver implements mox's dns.Resolver (the methods SPF does not use
// return not-found).
type moxResolver struct{ d *memDNS }

var _ moxdns.Resolver = moxResolver{}

func (r moxResolver) LookupPort(context.Context, string, string) (int, error) {
	return 0, errNotFound
}

func (r moxResolver) LookupAddr(ctx context.Context, addr string) ([]string, adns.Result, error) {
	v, err := smtpsecResolver(r).LookupAddr(ctx, addr)
	return v, adns.Result{}, err
}

func (r moxResolver) LookupCNAME(context.Context, string) (string, adns.Result, error) {
	return "", adns.Result{}, errNotFound
}

func (r moxResolver) LookupHost(context.Context, string) ([]string, adns.Result, error) {
	return nil, adns.Result{}, errNotFound
}

func (r moxResolver) LookupIP(_ context.Context, network, host string) ([]net.IP, adns.Result, error) {
	m := r.d.all
	switch network {
	case "ip4":
		m = r.d.ipv4
	case "ip6":
		m = r.d.ipv6
	}
	if v, ok := m[key(host)]; ok {
		return v, adns.Result{}, nil
	}
	return nil, adns.Result{}, errNotFound
}

func (r moxResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, adns.Result, error) {
	if v, ok := r.d.ipa[key(host)]; ok {
		return v, adns.Result{}, nil
	}
	return nil, adns.Result{}, errNotFound
}

func (r moxResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, adns.Result, error) {
	v, err := smtpsecResolver(r).LookupMX(ctx, name)
	return v, adns.Result{}, err
}

func (r moxResolver) LookupNS(context.Context, string) ([]*net.NS, adns.Result, error) {
	return nil, adns.Result{}, errNotFound
}

func (r moxResolver) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, adns.Result, error) {
	return "", nil, adns.Result{}, errNotFound
}

func (r moxResolver) LookupTXT(ctx context.Context, name string) ([]string, adns.Result, error) {
	v, err := smtpsecResolver(r).LookupTXT(ctx, name)
	return v, adns.Result{}, err
}

func (r moxResolver) LookupTLSA(context.Context, int, string, string) ([]adns.TLSA, adns.Result, error) {
	return nil, adns.Result{}, errNotFound
}
