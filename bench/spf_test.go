package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	blitiri "blitiri.com.ar/go/spf"
	moxdns "github.com/mjl-/mox/dns"
	"github.com/mjl-/mox/smtp"
	moxspf "github.com/mjl-/mox/spf"

	"github.com/smtpsec/smtpsec/spf"
)

// spfScenario is one benchmark input: DNS data, the client, the sender and
// the result every implementation must reach.
type spfScenario struct {
	name    string
	records []string
	ip      string
	sender  string
	helo    string
	want    string
}

func spfScenarios() []spfScenario {
	// An _spf.google.com-style chain: example.com includes _spf, which
	// includes three netblock records; 28 ip terms in all, the client
	// matching the last term of the last block.
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
	return []spfScenario{
		{
			name:    "ip4",
			records: []string{"example.com TXT v=spf1 ip4:192.0.2.0/24 -all"},
			ip:      "192.0.2.10", sender: "alice@example.com", helo: "mail.example.com", want: "pass",
		},
		{
			name: "include-chain",
			records: []string{
				"example.com TXT v=spf1 include:_spf.example.com ~all",
				"_spf.example.com TXT v=spf1 include:_netblocks.example.com include:_netblocks2.example.com include:_netblocks3.example.com ~all",
				"_netblocks.example.com TXT v=spf1 " + strings.Join(nb1, " ") + " ~all",
				"_netblocks2.example.com TXT v=spf1 " + strings.Join(nb2, " ") + " ~all",
				"_netblocks3.example.com TXT v=spf1 " + strings.Join(nb3, " ") + " ~all",
			},
			ip: "203.0.113.96", sender: "alice@example.com", helo: "mail.example.com", want: "pass",
		},
		{
			name: "mx",
			records: []string{
				"example.com TXT v=spf1 mx -all",
				"example.com MX 10 mx1.example.com",
				"example.com MX 20 mx2.example.com",
				"mx1.example.com A 192.0.2.1",
				"mx2.example.com A 192.0.2.2",
			},
			ip: "192.0.2.2", sender: "alice@example.com", helo: "mail.example.com", want: "pass",
		},
		{
			name: "exists-macro",
			records: []string{
				"example.com TXT v=spf1 exists:%{i}.%{l}._spf.%{d} -all",
				"192.0.2.10.alice._spf.example.com A 127.0.0.2",
			},
			ip: "192.0.2.10", sender: "alice@example.com", helo: "mail.example.com", want: "pass",
		},
	}
}

// BenchmarkSPF runs the four scenarios with smtpsec/spf, blitiri spf
// v1.6.0 and mox spf v0.0.15 on the same in-memory DNS data. Compare with
// benchstat -col /impl; the names are
// BenchmarkSPF/scenario=<scenario>/impl=<implementation>.
func BenchmarkSPF(b *testing.B) {
	for _, sc := range spfScenarios() {
		d := newMemDNS(sc.records...)
		ip := netip.MustParseAddr(sc.ip)
		local, domain, _ := strings.Cut(sc.sender, "@")
		b.Run("scenario="+sc.name+"/impl=smtpsec", func(b *testing.B) {
			c := &spf.Checker{Resolver: smtpsecResolver{d}}
			ctx := context.Background()
			in := spf.Input{IP: ip, HELO: sc.helo, MailFrom: sc.sender}
			if o, err := c.Check(ctx, in); string(o.Result) != sc.want {
				b.Fatalf("smtpsec: %s, %v; want %s", o.Result, err, sc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.Check(ctx, in)
			}
		})
		b.Run("scenario="+sc.name+"/impl=blitiri", func(b *testing.B) {
			r := blitiriResolver{d}
			nip := net.IP(ip.AsSlice())
			ctx := context.Background()
			if res, err := blitiri.CheckHostWithSender(nip, sc.helo, sc.sender, blitiri.WithResolver(r), blitiri.WithContext(ctx)); string(res) != sc.want {
				b.Fatalf("blitiri: %s, %v; want %s", res, err, sc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = blitiri.CheckHostWithSender(nip, sc.helo, sc.sender, blitiri.WithResolver(r), blitiri.WithContext(ctx))
			}
		})
		b.Run("scenario="+sc.name+"/impl=mox", func(b *testing.B) {
			r := moxResolver{d}
			dom, err := moxdns.ParseDomain(domain)
			if err != nil {
				b.Fatal(err)
			}
			helo, err := moxdns.ParseDomain(sc.helo)
			if err != nil {
				b.Fatal(err)
			}
			args := moxspf.Args{
				RemoteIP:          net.IP(ip.AsSlice()),
				MailFromLocalpart: smtp.Localpart(local),
				MailFromDomain:    dom,
				HelloDomain:       moxdns.IPDomain{Domain: helo},
				LocalIP:           net.ParseIP("192.0.2.254"),
				LocalHostname:     moxdns.Domain{ASCII: "mx.example.net"},
			}
			ctx := context.Background()
			// mox logs every verification; a discarding logger keeps
			// output out of the measurement.
			discard := slog.New(slog.DiscardHandler)
			if rcv, _, _, _, err := moxspf.Verify(ctx, discard, r, args); string(rcv.Result) != sc.want {
				b.Fatalf("mox: %s, %v; want %s", rcv.Result, err, sc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _, _, _, _ = moxspf.Verify(ctx, discard, r, args)
			}
		})
	}
}
