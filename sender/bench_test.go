package sender_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/smtpsec/smtpsec/sender"
)

func BenchmarkParseRecord(b *testing.B) {
	const rec = "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; " +
		"rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; ri=3600"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sender.ParseRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAuthResults(b *testing.B) {
	const field = "mx.example.org; iprev=pass (mail.example.com) policy.iprev=192.0.2.11; " +
		"spf=pass smtp.mailfrom=alice@example.com; dkim=pass header.d=example.com header.s=s1; " +
		`dmarc=fail (p=reject dis=accept) reason="trusted_forwarder" header.from=example.com`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sender.ParseAuthResults(field); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthResultsFormat(b *testing.B) {
	a := &sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
		{Method: "iprev", Result: "pass", Comment: "mail.example.com", Props: []sender.Property{{Type: "policy", Name: "iprev", Value: "192.0.2.11"}}},
		{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp", Name: "mailfrom", Value: "alice@example.com"}}},
		{Method: "dkim", Result: "pass", Props: []sender.Property{{Type: "header", Name: "d", Value: "example.com"}}},
		{Method: "dmarc", Result: "fail", Reason: "trusted_forwarder", Props: []sender.Property{{Type: "header", Name: "from", Value: "example.com"}}},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Format(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluateDMARC(b *testing.B) {
	c := &sender.Checker{Resolver: newZone(b, baseZone)}
	in := sender.DMARCInput{From: "mail.example.com", SPFResult: "pass", SPFDomain: "example.net",
		DKIM: []sender.DKIMResult{{Status: sender.DKIMPass, Domain: "example.com"}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := c.EvaluateDMARC(ctx, in); r.Status != sender.StatusPass {
			b.Fatal(r.Status)
		}
	}
}

func BenchmarkEvaluateDMARCbis(b *testing.B) {
	c := &sender.Checker{Resolver: newZone(b, bisZone), DMARCbis: true}
	in := sender.DMARCInput{From: "z.example.org", DKIM: []sender.DKIMResult{{Status: sender.DKIMPass, Domain: "a.b.c.example.org"}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := c.EvaluateDMARC(ctx, in); r.Status != sender.StatusPass {
			b.Fatal(r.Status)
		}
	}
}

// BenchmarkCheck is a whole verdict for a forwarded message: iprev, SPF for
// MAIL FROM and HELO, HELO signals, DMARC, the forwarder override and the
// Authentication-Results field, over an in-memory zone.
func BenchmarkCheck(b *testing.B) {
	c := newChecker(newZone(b, checkZone()))
	s := sender.Session{ClientIP: netip.MustParseAddr("198.51.100.7"), HELO: "out1.fwd.example.net",
		MailFrom: "SRS0=HHH=TT=example.com=alice@fwd.example.net"}
	m := sender.Message{From: []string{"alice@example.com"},
		DKIM: []sender.DKIMResult{{Status: sender.DKIMFail, Domain: "example.com", BodyHashMismatch: true}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, err := c.Check(ctx, s, m)
		if err != nil || v.Override != sender.OverrideTrustedForwarder {
			b.Fatal(err, v.Reasons)
		}
	}
}
