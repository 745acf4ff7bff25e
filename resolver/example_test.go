package resolver_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

func ExampleParseZone() {
	z, err := resolver.ParseZone(strings.NewReader(`
$TTL 3600
@      IN MX  20 backup.example.net.
@      IN MX  10 mx1
@      IN TXT "v=spf1 ip4:192.0.2.0/24 " "-all"
mx1    IN A   192.0.2.25
`), "example.test.")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	mxs, _ := z.LookupMX(ctx, "example.test")
	for _, mx := range mxs {
		fmt.Println("MX", mx.Pref, mx.Host)
	}
	txt, _ := z.LookupTXT(ctx, "example.test")
	fmt.Printf("TXT %q\n", txt)
	_, err = z.LookupTXT(ctx, "mx1.example.test")
	fmt.Println("NODATA is not found:", resolver.IsNotFound(err))
	// Output:
	// MX 10 mx1.example.test.
	// MX 20 backup.example.net.
	// TXT ["v=spf1 ip4:192.0.2.0/24 -all"]
	// NODATA is not found: true
}

func ExampleZone_SetFailure() {
	z := new(resolver.Zone)
	_ = z.Add(`example.test. IN TXT "v=spf1 -all"`)
	_ = z.SetFailure("example.test", dns.TypeTXT, resolver.FailServFail)

	ctx := context.Background()
	a, _ := z.Query(ctx, "example.test", dns.TypeTXT)
	fmt.Println("rcode:", dns.RcodeToString[a.Rcode])
	_, err := z.LookupTXT(ctx, "example.test")
	fmt.Println("temporary:", resolver.IsTemporary(err))
	fmt.Println(err)
	// Output:
	// rcode: SERVFAIL
	// temporary: true
	// lookup example.test: server misbehaving
}

func ExampleZone_Query() {
	z := new(resolver.Zone)
	_ = z.Add(`
example.test.           IN A     192.0.2.1
www.example.test.       IN CNAME example.test.
_25._tcp.example.test.  IN TLSA  3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`)
	_ = z.SetSecure("example.test", true)

	ctx := context.Background()
	a, _ := z.Query(ctx, "WWW.Example.Test", dns.TypeA)
	fmt.Println(a.Name, "via", a.CNAMEs[0].Target, "authentic:", a.Authentic)
	fmt.Println(a.Records[0].(*dns.A).A)
	a, _ = z.Query(ctx, "nx.example.test", dns.TypeTLSA)
	fmt.Println("NXDOMAIN:", a.NXDomain())
	// Output:
	// www.example.test. via example.test. authentic: true
	// 192.0.2.1
	// NXDOMAIN: true
}

// A Client asks recursive resolvers; here a resolvertest server on
// loopback stands in for one.
func ExampleClient() {
	z := new(resolver.Zone)
	_ = z.Add(`
example.test.           IN MX  10 mx1.example.test.
mx1.example.test.       IN A   192.0.2.25
mx1.example.test.       IN AAAA 2001:db8::25
`)
	srv, err := resolvertest.Start(z)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c := &resolver.Client{Servers: []string{srv.Addr()}} // loopback: its AD bit is trusted
	ctx := context.Background()
	mxs, err := c.LookupMX(ctx, "example.test")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mx := range mxs {
		ips, _ := c.LookupNetIP(ctx, "ip", mx.Host)
		fmt.Println(mx.Pref, mx.Host, ips)
	}
	_, err = c.LookupMX(ctx, "mx1.example.test")
	fmt.Println("NODATA is not found:", resolver.IsNotFound(err))
	// Output:
	// 10 mx1.example.test. [192.0.2.25 2001:db8::25]
	// NODATA is not found: true
}

// Raw names, as net.Resolver takes them, reach records whose names zone text
// writes with escapes; TXT data comes back as its octets.
func ExampleCanonicalName() {
	z, err := resolver.ParseZone(strings.NewReader(`
foo:bar%x  IN A   192.0.2.1
a\032b     IN TXT "say \"hi\" caf\195\169"
`), "example.test.")
	if err != nil {
		fmt.Println(err)
		return
	}
	key, _ := resolver.CanonicalName("A B.Example.TEST")
	fmt.Println(key)
	ctx := context.Background()
	txt, _ := z.LookupTXT(ctx, "a b.example.test")
	fmt.Println(txt[0])
	addrs, _ := z.LookupNetIP(ctx, "ip4", "foo:bar%x.example.test")
	fmt.Println(addrs)
	// Output:
	// a\ b.example.test.
	// say "hi" café
	// [192.0.2.1]
}
