package spf_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

// memResolver is a pre-built in-memory resolver.Resolver: every lookup is a
// map lookup returning shared slices, so benchmarks measure the evaluator.
type memResolver struct {
	txt      map[string][]string
	mx       map[string][]*net.MX
	ip4, ip6 map[string][]netip.Addr
}

var errNotFound error = &net.DNSError{Err: "no such host", IsNotFound: true}

func newMemResolver(records ...string) *memResolver {
	r := &memResolver{txt: map[string][]string{}, mx: map[string][]*net.MX{}, ip4: map[string][]netip.Addr{}, ip6: map[string][]netip.Addr{}}
	for _, rec := range records {
		f := strings.SplitN(rec, " ", 3)
		switch f[1] {
		case "TXT":
			r.txt[f[0]] = append(r.txt[f[0]], f[2])
		case "A":
			r.ip4[f[0]] = append(r.ip4[f[0]], netip.MustParseAddr(f[2]))
		case "AAAA":
			r.ip6[f[0]] = append(r.ip6[f[0]], netip.MustParseAddr(f[2]))
		case "MX":
			p := strings.SplitN(f[2], " ", 2)
			var pref uint16
			fmt.Sscan(p[0], &pref)
			r.mx[f[0]] = append(r.mx[f[0]], &net.MX{Host: p[1] + ".", Pref: pref})
		}
	}
	return r
}

func (r *memResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := r.txt[name]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r *memResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	if v, ok := r.mx[name]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r *memResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	m := r.ip4
	if network == "ip6" {
		m = r.ip6
	}
	if v, ok := m[host]; ok {
		return v, nil
	}
	return nil, errNotFound
}

func (r *memResolver) LookupAddr(context.Context, string) ([]string, error) {
	return nil, errNotFound
}

// benchScenarios are the four scenarios of bench/spf_test.go, where the
// same inputs run against blitiri spf and mox spf.
func benchScenarios() map[string][]string {
	var nb1, nb2, nb3 []string
	for i := range 12 {
		nb1 = append(nb1, fmt.Sprintf("ip4:198.51.%d.0/24", i))
	}
	for i := range 9 {
		nb2 = append(nb2, fmt.Sprintf("ip6:2001:db8:%x::/48", i+1))
	}
	for i := range 7 {
		nb3 = append(nb3, fmt.Sprintf("ip4:203.0.113.%d/32", i*16))
	}
	return map[string][]string{
		"ip4": {"example.com TXT v=spf1 ip4:192.0.2.0/24 -all"},
		"include-chain": {
			"example.com TXT v=spf1 include:_spf.example.com ~all",
			"_spf.example.com TXT v=spf1 include:_netblocks.example.com include:_netblocks2.example.com include:_netblocks3.example.com ~all",
			"_netblocks.example.com TXT v=spf1 " + strings.Join(nb1, " ") + " ~all",
			"_netblocks2.example.com TXT v=spf1 " + strings.Join(nb2, " ") + " ~all",
			"_netblocks3.example.com TXT v=spf1 " + strings.Join(nb3, " ") + " ~all",
		},
		"mx": {
			"example.com TXT v=spf1 mx -all",
			"example.com MX 10 mx1.example.com",
			"example.com MX 20 mx2.example.com",
			"mx1.example.com A 192.0.2.1",
			"mx2.example.com A 192.0.2.2",
		},
		"exists-macro": {
			"example.com TXT v=spf1 exists:%{i}.%{l}._spf.%{d} -all",
			"192.0.2.10.alice._spf.example.com A 127.0.0.2",
		},
	}
}

var benchIPs = map[string]string{"ip4": "192.0.2.10", "include-chain": "203.0.113.96", "mx": "192.0.2.2", "exists-macro": "192.0.2.10"}

func BenchmarkCheck(b *testing.B) {
	for _, name := range []string{"ip4", "include-chain", "mx", "exists-macro"} {
		recs := benchScenarios()[name]
		in := spf.Input{IP: netip.MustParseAddr(benchIPs[name]), HELO: "mail.example.com", MailFrom: "alice@example.com"}
		for _, kind := range []string{"mem", "zone"} {
			b.Run(name+"/"+kind, func(b *testing.B) {
				var r resolver.Resolver = newMemResolver(recs...)
				if kind == "zone" {
					r = zoneFromRecords(b, recs)
				}
				c := &spf.Checker{Resolver: r}
				ctx := context.Background()
				if o, err := c.Check(ctx, in); o.Result != spf.Pass {
					b.Fatalf("%s: %+v %v", name, o, err)
				}
				b.ReportAllocs()
				for b.Loop() {
					_, _ = c.Check(ctx, in)
				}
			})
		}
	}
}

func zoneFromRecords(tb testing.TB, recs []string) *resolver.Zone {
	tb.Helper()
	var zt strings.Builder
	for _, rec := range recs {
		f := strings.SplitN(rec, " ", 3)
		v := f[2]
		if f[1] == "TXT" {
			v = `"` + v + `"`
		}
		if f[1] == "MX" {
			v += "."
		}
		fmt.Fprintf(&zt, "%s. 300 IN %s %s\n", f[0], f[1], v)
	}
	z, err := resolver.ParseZone(strings.NewReader(zt.String()), "")
	if err != nil {
		tb.Fatal(err)
	}
	return z
}

func BenchmarkParseRecord(b *testing.B) {
	const rec = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com/24//64 mx include:_spf.example.com exists:%{i}.%{l}._spf.%{d} redirect=_spf.example.net"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spf.ParseRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}
