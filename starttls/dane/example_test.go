package dane_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
)

func ExampleParseTLSA() {
	for _, s := range []string{
		"3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
		"1 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
		"3 1 1 0C72",
	} {
		r, err := dane.ParseTLSA(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(r.Usage, r.Selector, r.MatchingType, len(r.Data), r.Check())
	}
	// Output:
	// 3 1 1 32 <nil>
	// 1 1 1 32 dane: unusable TLSA record: PKIX usages are unusable for SMTP: "1 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6"
	// 3 1 1 2 dane: unusable TLSA record: SHA2-256 data is not 32 octets: "3 1 1 0c72"
}

// This example discovers the TLSA records of an MX host in a DNSSEC-signed
// zone and builds the starttls policy for level dane.
func ExampleLookup() {
	zone, _ := resolver.ParseZone(strings.NewReader(`$TTL 300
mx.example.com.           A     192.0.2.25
mail.example.com.         CNAME mx.example.com.
_25._tcp.mx.example.com.  TLSA  3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6
`), ".")
	_ = zone.SetSecure("example.com", true)
	// A validating resolver on loopback that serves the zone.
	srv, err := resolvertest.Start(zone)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// The MX lookup for example.com (done by the caller) was secure and
	// named mail.example.com.
	h, err := dane.Lookup(context.Background(), srv.Client(), dane.Input{Domain: "example.com", MXSecure: true, Host: "mail.example.com"})
	if err != nil {
		fmt.Println("do not use this MX:", err)
		return
	}
	fmt.Println(h.Status, h.BaseDomain, h.Names, h.Addrs)
	p, err := h.Policy(starttls.DANE, starttls.Policy{Level: starttls.May})
	fmt.Println(p.Level, p.SNI, err)
	// Output:
	// authenticated mx.example.com [mx.example.com mail.example.com example.com] [192.0.2.25]
	// dane mx.example.com <nil>
}
