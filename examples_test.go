package smtpsec_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/forward"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
	"github.com/smtpsec/smtpsec/spf"
	"github.com/smtpsec/smtpsec/starttls"
)

// The DNS the examples see, answered from memory: two sending domains with
// SPF and DMARC, and a forwarder.
const exampleZone = `$TTL 300
example.com.             TXT "v=spf1 ip4:192.0.2.0/28 -all"
_dmarc.example.com.      TXT "v=DMARC1; p=reject"
example.net.             TXT "v=spf1 ip4:198.51.100.0/24 -all"
mx.example.net.          A   198.51.100.25
25.100.51.198.in-addr.arpa. PTR mx.example.net.
11.2.0.192.in-addr.arpa.    PTR mail.example.com.
mail.example.com.        A   192.0.2.11
`

func exampleResolver() *resolver.Zone {
	z, err := resolver.ParseZone(strings.NewReader(exampleZone), ".")
	if err != nil {
		panic(err)
	}
	return z
}

// A receiving server on a private submission port requires STARTTLS before
// MAIL, checks SPF at MAIL FROM, and once the message is in reaches a verdict
// on its author's domain with DMARC, writing Authentication-Results.
func Example_receive() {
	ctx := context.Background()
	dns := exampleResolver()

	// 1. STARTTLS: the server's gate refuses MAIL before TLS.
	srv := &starttls.Server{Required: true}
	if re := srv.Gate("MAIL", false); re != nil {
		fmt.Print("before TLS: ", strings.TrimSuffix(re.Reply.String(), "\r\n"), "\n")
	}
	fmt.Println("after TLS, gate passes:", srv.Gate("MAIL", true) == nil)

	// 2. SPF at MAIL FROM: a client in example.com's range passes, and the
	// outcome is kept for DMARC.
	checker := &spf.Checker{Resolver: dns, ReceiverDomain: "mx.example.org"}
	out, err := checker.Check(ctx, spf.Input{
		IP:       netip.MustParseAddr("192.0.2.11"),
		HELO:     "mail.example.com",
		MailFrom: "alice@example.com",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("spf:", out.Result, "by", out.Mechanism)

	// 3. The verdict, from the session facts and the message's From.
	v, err := (&sender.Checker{AuthservID: "mx.example.org", Resolver: dns, DisableHELOSPF: true}).Check(ctx,
		sender.Session{ClientIP: out.IP, HELO: out.HELO, MailFrom: "alice@example.com", SPF: &out},
		sender.Message{From: []string{"Alice <alice@example.com>"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("disposition:", v.Disposition, "dmarc:", v.DMARC.Status)
	fmt.Print(strings.ReplaceAll(v.AuthResults, "\r\n", "\n"))
	// Output:
	// before TLS: 530 5.7.0 Must issue a STARTTLS command first
	// after TLS, gate passes: true
	// spf: pass by ip4:192.0.2.0/28
	// disposition: accept dmarc: pass
	// Authentication-Results: mx.example.org;
	// 	iprev=pass (mail.example.com) policy.iprev=192.0.2.11;
	// 	spf=pass smtp.mailfrom=alice@example.com;
	// 	dmarc=pass (p=reject dis=accept) header.from=example.com
}

// A forwarder (mx.example.net) relays mail for a user who forwards to another
// provider. It rewrites the envelope sender with SRS, so that the next hop's
// SPF check asks about the forwarder's own domain and passes; a bounce to the
// rewritten address is reversed to the original sender.
func Example_forward() {
	ctx := context.Background()
	day := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	srs, err := forward.NewSRS(forward.Config{
		Domain:  "example.net",
		Secrets: [][]byte{[]byte("a secret of at least sixteen octets")},
		Now:     func() time.Time { return day },
	})
	if err != nil {
		panic(err)
	}
	rewritten, err := srs.Forward("alice@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println("MAIL FROM:", rewritten)

	// The next hop checks SPF for the rewritten sender from the forwarder's IP.
	checker := &spf.Checker{Resolver: exampleResolver()}
	for _, from := range []string{"alice@example.com", rewritten} {
		out, _ := checker.Check(ctx, spf.Input{IP: netip.MustParseAddr("198.51.100.25"), HELO: "mx.example.net", MailFrom: from})
		fmt.Printf("spf for %s: %s\n", from, out.Result)
	}

	// Days later the message bounces back to the SRS address.
	srs2, _ := forward.NewSRS(forward.Config{
		Domain:  "example.net",
		Secrets: [][]byte{[]byte("a secret of at least sixteen octets")},
		Now:     func() time.Time { return day.AddDate(0, 0, 3) },
	})
	original, err := srs2.Reverse(rewritten)
	fmt.Println("bounce goes to:", original, err)
	// Output:
	// MAIL FROM: SRS0=/dos=JR=example.com=alice@example.net
	// spf for alice@example.com: fail
	// spf for SRS0=/dos=JR=example.com=alice@example.net: pass
	// bounce goes to: alice@example.com <nil>
}
