package interop

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	msgauthres "github.com/emersion/go-msgauth/authres"
	msgdmarc "github.com/emersion/go-msgauth/dmarc"
	moxdkim "github.com/mjl-/mox/dkim"
	moxdmarc "github.com/mjl-/mox/dmarc"
	moxdns "github.com/mjl-/mox/dns"
	moxmessage "github.com/mjl-/mox/message"
	moxspf "github.com/mjl-/mox/spf"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
)

// Side-by-side benchmarks of sender against the Go libraries that do the
// same jobs: github.com/emersion/go-msgauth v0.7.0 (dmarc.Parse,
// authres.Parse/Format) and github.com/mjl-/mox v0.0.15 (dmarc.ParseRecord,
// dmarc.Verify, message.ParseAuthResults). Run with
// go test -run '^$' -bench Sender ./ in interop/.

const benchRecord = "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; " +
	"rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; ri=3600"

// benchAuthRes has no comments and no quoted strings, which go-msgauth's
// parser does not handle.
const benchAuthRes = "mx.example.org; iprev=pass policy.iprev=192.0.2.11; " +
	"spf=pass smtp.mailfrom=alice@example.com; dkim=pass header.d=example.com header.s=s1; " +
	"dmarc=pass header.from=example.com"

func BenchmarkSenderDMARCParse(b *testing.B) {
	b.Run("smtpsec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sender.ParseRecord(benchRecord); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-msgauth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := msgdmarc.Parse(benchRecord); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := moxdmarc.ParseRecord(benchRecord); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSenderAuthResParse(b *testing.B) {
	b.Run("smtpsec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sender.ParseAuthResults(benchAuthRes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-msgauth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := msgauthres.Parse(benchAuthRes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := moxmessage.ParseAuthResults(benchAuthRes + "\r\n"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSenderAuthResFormat(b *testing.B) {
	ours := &sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
		{Method: "iprev", Result: "pass", Props: []sender.Property{{Type: "policy", Name: "iprev", Value: "192.0.2.11"}}},
		{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp", Name: "mailfrom", Value: "alice@example.com"}}},
		{Method: "dkim", Result: "pass", Props: []sender.Property{{Type: "header", Name: "d", Value: "example.com"}, {Type: "header", Name: "s", Value: "s1"}}},
		{Method: "dmarc", Result: "pass", Props: []sender.Property{{Type: "header", Name: "from", Value: "example.com"}}},
	}}
	theirs := []msgauthres.Result{
		&msgauthres.IPRevResult{Value: msgauthres.ResultPass, IP: "192.0.2.11"},
		&msgauthres.SPFResult{Value: msgauthres.ResultPass, From: "alice@example.com"},
		&msgauthres.DKIMResult{Value: msgauthres.ResultPass, Domain: "example.com"},
		&msgauthres.DMARCResult{Value: msgauthres.ResultPass, From: "example.com"},
	}
	b.Run("smtpsec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ours.Format(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-msgauth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = msgauthres.Format("mx.example.org", theirs)
		}
	})
}

// mapResolver answers TXT from a map, like mox's MockResolver, so that the
// DMARC evaluation benchmark compares evaluators rather than fakes.
type mapResolver map[string][]string

func (m mapResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (m mapResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (m mapResolver) LookupNetIP(_ context.Context, _, name string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (m mapResolver) LookupAddr(_ context.Context, name string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// BenchmarkSenderDMARCVerify evaluates DMARC for From mail.example.com, whose
// policy comes from the organizational domain example.com (two TXT
// lookups), with a passing relaxed-aligned DKIM signature and an unaligned
// SPF pass.
func BenchmarkSenderDMARCVerify(b *testing.B) {
	ctx := context.Background()
	const rec = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
	in := sender.DMARCInput{From: "mail.example.com", SPFResult: "pass", SPFDomain: "example.net",
		DKIM: []sender.DKIMResult{{Status: sender.DKIMPass, Domain: "example.com"}}}
	check := func(b *testing.B, c *sender.Checker) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := c.EvaluateDMARC(ctx, in)
			if err != nil || r.Status != sender.StatusPass {
				b.Fatal(r.Status, err)
			}
		}
	}
	b.Run("smtpsec-map", func(b *testing.B) {
		check(b, &sender.Checker{Resolver: mapResolver{"_dmarc.example.com.": {rec}}})
	})
	b.Run("smtpsec-zone", func(b *testing.B) {
		z, err := resolver.ParseZone(strings.NewReader(`_dmarc.example.com. 300 TXT "`+rec+`"`), ".")
		if err != nil {
			b.Fatal(err)
		}
		check(b, &sender.Checker{Resolver: z})
	})
	b.Run("mox", func(b *testing.B) {
		r := moxdns.MockResolver{TXT: map[string][]string{"_dmarc.example.com.": {rec}}}
		log := slog.New(slog.DiscardHandler)
		from := moxdns.Domain{ASCII: "mail.example.com"}
		spfID := moxdns.Domain{ASCII: "example.net"}
		dk := []moxdkim.Result{{Status: moxdkim.StatusPass, Sig: &moxdkim.Sig{Domain: moxdns.Domain{ASCII: "example.com"}}}}
		b.ReportAllocs()
		for b.Loop() {
			_, res := moxdmarc.Verify(ctx, log, r, from, dk, moxspf.StatusPass, &spfID, true)
			if res.Status != moxdmarc.StatusPass {
				b.Fatal(res.Status, res.Err)
			}
		}
	})
}
