package spf_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

const exampleZone = `
$ORIGIN example.com.
$TTL 300
@          TXT "v=spf1 ip4:192.0.2.0/28 include:_spf.example.com -all"
_spf       TXT "v=spf1 a:mail.example.com ~all"
mail       A   198.51.100.25
broken     TXT "v=spf1 include:_spf.example.com ip4:192.0.2.300 -all"
`

func ExampleChecker_Check() {
	zone, err := resolver.ParseZone(strings.NewReader(exampleZone), "example.com.")
	if err != nil {
		panic(err)
	}
	c := &spf.Checker{Resolver: zone, ReceiverDomain: "mx.example.org"}
	ctx := context.Background()

	for _, ip := range []string{"192.0.2.3", "198.51.100.25", "203.0.113.7"} {
		out, err := c.Check(ctx, spf.Input{
			IP:       netip.MustParseAddr(ip),
			HELO:     "mail.example.com",
			MailFrom: "alice@example.com",
		})
		fmt.Println(ip, out.Result, out.Mechanism, err)
	}

	// A broken record: the error says where.
	out, err := c.Check(ctx, spf.Input{IP: netip.MustParseAddr("192.0.2.3"), MailFrom: "bob@broken.example.com"})
	var serr *spf.Error
	if errors.As(err, &serr) {
		fmt.Println(out.Result, serr.Domain, serr.Term, errors.Is(err, spf.ErrSyntax))
	}
	// Output:
	// 192.0.2.3 pass ip4:192.0.2.0/28 <nil>
	// 198.51.100.25 pass include:_spf.example.com <nil>
	// 203.0.113.7 fail -all <nil>
	// permerror broken.example.com ip4:192.0.2.300 true
}

func ExampleParseRecord() {
	r, err := spf.ParseRecord("v=spf1 +mx a:mail.example.com/24//64 ip6:2001:db8::/32 -all exp=explain.%{d}")
	if err != nil {
		panic(err)
	}
	for _, d := range r.Directives {
		fmt.Printf("%s %s %q\n", d.Qualifier.Result(), d.Mechanism, d.Domain)
	}
	fmt.Println(r.Exp)
	fmt.Println(r)

	_, err = spf.ParseRecord("v=spf1 ip4:192.0.2.0/24 -all moo")
	fmt.Println(err)
	// Output:
	// pass mx ""
	// pass a "mail.example.com"
	// pass ip6 ""
	// fail all ""
	// explain.%{d}
	// v=spf1 +mx a:mail.example.com/24//64 ip6:2001:db8::/32 -all exp=explain.%{d}
	// spf: syntax error: unknown mechanism in term "moo" at offset 29
}

func ExampleOutcome_ReceivedSPF() {
	zone, err := resolver.ParseZone(strings.NewReader(exampleZone), "example.com.")
	if err != nil {
		panic(err)
	}
	c := &spf.Checker{Resolver: zone, ReceiverDomain: "mx.example.org"}
	out, _ := c.Check(context.Background(), spf.Input{
		IP:       netip.MustParseAddr("192.0.2.3"),
		HELO:     "mail.example.com; x=injected",
		MailFrom: "alice@example.com",
	})
	// The field is folded with CRLF TAB; printed here with LF.
	fmt.Println(strings.ReplaceAll(out.ReceivedSPF(), "\r\n", "\n"))
	fmt.Println("Authentication-Results: mx.example.org; " + out.AuthenticationResults())
	// Output:
	// Received-SPF: pass (mx.example.org: domain of alice@example.com designates
	// 	192.0.2.3 as permitted sender) client-ip=192.0.2.3;
	// 	envelope-from="alice@example.com"; helo="mail.example.com; x=injected";
	// 	receiver=mx.example.org; identity=mailfrom; mechanism="ip4:192.0.2.0/28";
	// Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=alice@example.com
}
