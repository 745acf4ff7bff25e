package resolvertest_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// Tests use NewServer(t, zone); an example has no testing.T, so it uses
// Start and Close.
func ExampleStart() {
	z, err := resolver.ParseZone(strings.NewReader(`
@                IN TXT  "v=spf1 " "mx -all"
@                IN MX   10 mx1
mx1              IN A    192.0.2.25
_25._tcp.mx1     IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`), "example.test.")
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = z.SetSecure("example.test", true)
	srv, err := resolvertest.Start(z)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c := srv.Client() // asks srv over UDP (and TCP), trusts its AD bit
	ctx := context.Background()
	txt, err := c.LookupTXT(ctx, "example.test")
	fmt.Printf("%q %v\n", txt, err)
	a, err := c.Query(ctx, "_25._tcp.mx1.example.test", dns.TypeTLSA)
	fmt.Println(len(a.Records), "TLSA record, authentic:", a.Authentic, err)
	_, err = c.LookupMX(ctx, "nx.example.test")
	fmt.Println("not found:", resolver.IsNotFound(err))
	fmt.Println("queries:", srv.Count())
	// Output:
	// ["v=spf1 mx -all"] <nil>
	// 1 TLSA record, authentic: true <nil>
	// not found: true
	// queries: 3
}

func ExampleServer_SetMaxUDPSize() {
	z := new(resolver.Zone)
	_ = z.Add(`big.example.test. IN TXT "` + strings.Repeat("x", 255) + `" "` + strings.Repeat("y", 255) + `"`)
	srv, err := resolvertest.Start(z)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	srv.SetMaxUDPSize(512)

	txt, err := srv.Client().LookupTXT(context.Background(), "big.example.test")
	fmt.Println(len(txt[0]), err)
	for _, q := range srv.Queries() {
		fmt.Println(q.Network, q.Name)
	}
	// Output:
	// 510 <nil>
	// udp big.example.test.
	// tcp big.example.test.
}
