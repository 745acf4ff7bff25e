package sender_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
)

// exampleZone is the DNS the examples see, served from memory.
const exampleZone = `$TTL 300
_dmarc.example.com.             TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
example.com.                    TXT "v=spf1 ip4:192.0.2.0/28 -all"
mail.example.com.               A   192.0.2.11
forwarder.example.net.          TXT "v=spf1 ip4:198.51.100.0/24 -all"
out.forwarder.example.net.      A   198.51.100.7
7.100.51.198.in-addr.arpa.      PTR out.forwarder.example.net.
11.2.0.192.in-addr.arpa.        PTR mail.example.com.
attacker.example.               A   203.0.113.66
`

func exampleResolver() resolver.Resolver {
	z, err := resolver.ParseZone(strings.NewReader(exampleZone), ".")
	if err != nil {
		panic(err)
	}
	return z
}

func printVerdict(v sender.Verdict) {
	fmt.Println("disposition:", v.Disposition)
	fmt.Printf("dmarc: %s policy: %s override: %q\n", v.DMARC.Status, v.DMARC.Policy, v.Override)
	fmt.Print(strings.ReplaceAll(v.AuthResults, "\r\n", "\n"))
}

// A message from example.com (p=reject) reaches us through an alias service
// that forwards it with an SRS envelope sender: SPF passes for the
// forwarder, not for example.com, and the forwarder's footer broke the DKIM
// body hash. DMARC fails; the trusted forwarder softens the disposition.
func ExampleChecker_Check_forwarded() {
	c := &sender.Checker{
		AuthservID:     "mx.example.org",
		Resolver:       exampleResolver(),
		DisableHELOSPF: true,
		Forwarders: []sender.Forwarder{{
			Name:         "alias service",
			NameSuffixes: []string{"forwarder.example.net"}, // matched on iprev pass only
			Recipients:   []string{"example.org"},
		}},
	}
	v, err := c.Check(context.Background(), sender.Session{
		ClientIP:   netip.MustParseAddr("198.51.100.7"),
		HELO:       "out.forwarder.example.net",
		MailFrom:   "SRS0=x7Zq=TT=example.com=alice@forwarder.example.net",
		Recipients: []string{"bob@example.org"},
	}, sender.Message{
		From: []string{"alice@example.com"},
		DKIM: []sender.DKIMResult{{Status: sender.DKIMFail, Domain: "example.com", Selector: "s1", BodyHashMismatch: true}},
	})
	if err != nil {
		panic(err)
	}
	printVerdict(v)
	fmt.Println("SRS original (logs only):", v.SRSOriginal)
	// Output:
	// disposition: accept
	// dmarc: fail policy: reject override: "trusted_forwarder"
	// Authentication-Results: mx.example.org;
	// 	iprev=pass (out.forwarder.example.net) policy.iprev=198.51.100.7;
	// 	spf=pass smtp.mailfrom=SRS0=x7Zq=TT=example.com=alice@forwarder.example.net;
	// 	dkim=fail header.d=example.com header.s=s1;
	// 	dmarc=fail (p=reject dis=accept override=trusted_forwarder)
	// 	reason=trusted_forwarder header.from=example.com
	// SRS original (logs only): alice@example.com
}

// Our backup MX accepted the message while we were down and checked SPF
// against the real client. Its Authentication-Results field, under its
// pinned authserv-id and from its address, is read instead of checking SPF
// against the backup MX itself. A forged field with our own id is listed for
// removal.
func ExampleChecker_Check_backupMX() {
	c := &sender.Checker{
		AuthservID: "mx.example.org",
		Resolver:   exampleResolver(),
		Relays: []sender.Relay{{
			Name:        "backup MX",
			Prefixes:    []netip.Prefix{netip.MustParsePrefix("2001:db8::25/128")},
			Mode:        sender.RelayTrustAuthResults,
			AuthservIDs: []string{"mx2.example.org"},
		}},
	}
	incoming := []string{
		"mx2.example.org; spf=pass smtp.mailfrom=bob@example.com",
		"mx.example.org; dmarc=pass header.from=example.com", // forged: our id, not from us
	}
	v, err := c.Check(context.Background(), sender.Session{
		ClientIP: netip.MustParseAddr("2001:db8::25"),
		HELO:     "mx2.example.org",
		MailFrom: "bob@example.com",
	}, sender.Message{From: []string{"Bob <bob@example.com>"}, AuthResults: incoming})
	if err != nil {
		panic(err)
	}
	printVerdict(v)
	fmt.Println("SPF from:", v.SPFFrom)
	fmt.Println("remove fields:", v.RemoveAuthResults)
	// Output:
	// disposition: accept
	// dmarc: pass policy: reject override: ""
	// Authentication-Results: mx.example.org;
	// 	spf=pass (from trusted relay mx2.example.org) smtp.mailfrom=bob@example.com;
	// 	dmarc=pass (p=reject dis=accept) header.from=example.com
	// SPF from: relay mx2.example.org
	// remove fields: [1]
}

// A spoofed message claims to be from example.com, which publishes
// p=reject. SPF fails, there is no aligned DKIM signature: reject.
func ExampleChecker_Check_reject() {
	c := &sender.Checker{AuthservID: "mx.example.org", Resolver: exampleResolver(), DisableIPRev: true, DisableHELOSPF: true}
	v, err := c.Check(context.Background(), sender.Session{
		ClientIP: netip.MustParseAddr("203.0.113.66"),
		HELO:     "attacker.example",
		MailFrom: "ceo@example.com",
	}, sender.Message{From: []string{"ceo@example.com"}})
	if err != nil {
		panic(err)
	}
	printVerdict(v)
	// Output:
	// disposition: reject
	// dmarc: fail policy: reject override: ""
	// Authentication-Results: mx.example.org;
	// 	spf=fail smtp.mailfrom=ceo@example.com;
	// 	dmarc=fail (p=reject dis=reject) header.from=example.com
}

func ExampleParseRecord() {
	r, err := sender.ParseRecord("v=DMARC1; p=quarantine; sp=reject; pct=25; rua=mailto:d@example.com!10m")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Policy, r.SubdomainPolicy, r.EffectivePercent(), r.EffectiveDKIMAlignment(), r.AggregateURIs[0].MaxSize, string(r.AggregateURIs[0].Unit))
	fmt.Println(r)
	// Output:
	// quarantine reject 25 r 10 m
	// v=DMARC1; p=quarantine; sp=reject; pct=25; rua=mailto:d@example.com!10m
}

func ExampleOrganizationalDomain() {
	for _, d := range []string{"mail.example.com", "a.b.example.co.uk", "foo.github.io", "co.uk"} {
		fmt.Println(d, "->", sender.OrganizationalDomain(nil, d))
	}
	// Output:
	// mail.example.com -> example.com
	// a.b.example.co.uk -> example.co.uk
	// foo.github.io -> github.io
	// co.uk -> co.uk
}

func ExampleParseAuthResults() {
	a, err := sender.ParseAuthResults(`Authentication-Results: mx.example.org (our MX);
	spf=pass (sender SPF authorized) smtp.mailfrom="first last"@example.com;
	dkim=fail reason="body hash mismatch" header.d=example.com`)
	if err != nil {
		panic(err)
	}
	for _, m := range a.Results {
		fmt.Printf("%s=%s reason=%q comment=%q props=%v\n", m.Method, m.Result, m.Reason, m.Comment, m.Props)
	}
	// Output:
	// spf=pass reason="" comment="sender SPF authorized" props=[{smtp mailfrom first last@example.com}]
	// dkim=fail reason="body hash mismatch" comment="" props=[{header d example.com}]
}

func ExampleAuthResults_Format() {
	a := sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
		// A hostile HELO cannot add a method: it is quoted.
		{Method: "spf", Result: "none", Props: []sender.Property{{Type: "smtp", Name: "helo", Value: "x; dkim=pass"}}},
	}}
	v, err := a.Format()
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.ReplaceAll(v, "\r\n", "\n"))
	// Output:
	// mx.example.org;
	// 	spf=none smtp.helo="x; dkim=pass"
}
