package interop

import (
	"strings"
	"testing"
	"time"

	moxdns "github.com/mjl-/mox/dns"
	moxmtasts "github.com/mjl-/mox/mtasts"
	"github.com/stretchr/testify/assert"

	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

// MTA-STS inputs on which smtpsec and mox (v0.0.15) are compared.
var mtastsPolicies = []string{
	"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
	"version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n",
	"version: STSv1\nmode: none\nmax_age: 0\n",
	"version: STSv1\nmode: testing\nmode: enforce\nmax_age: 1\nmax_age: 2\nmx: a.example\n",
	"version: STSv1\nmode: none\nmax_age: 9\nfoo: bar baz\n",
	"version: STSv1\nmode: enforce\nmax_age: 1\n",
	"version: STSv2\nmode: none\nmax_age: 1\n",
	"version: STSv1\nmode: strict\nmax_age: 1\n",
	"version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n",
	"version: STSv1\nmode: enforce\nmx: m*.example\nmax_age: 1\n",
	"mode: none\nmax_age: 1\n",
	"version: STSv1\nmode: none\n",
	"version: STSv1\nmode: none\nmax_age: -1\n",
	"version: STSv1\nmode: none\nmax_age: 1\ngarbage\n",
	"Version: STSv1\nmode: none\nmax_age: 1\n",
	"version: STSv1\nmode: Enforce\nmx: mx.example.com\nmax_age: 1\n",
	"version:STSv1  \nmode:\tenforce\nmx:   MX.Example.COM\nmax_age: 31557600\n",
	"version: STSv1\nmode: none\nmax_age: 31557601\n",
	"",
}

var mtastsRecords = []string{
	"v=STSv1; id=20160831085700Z",
	"v=STSv1;id=abc",
	"v=STSv1; id=abc;",
	"v=STSv1; id=1; ext_1.a-b=val/ue",
	"v=STSv1; id=" + strings.Repeat("a", 33),
	"v=STSv1; id=",
	"v=STSv1; id=a-b",
	"v=STSv1;",
	"v=STSv1",
	"id=a; v=STSv1",
	"v=STSv2; id=a",
	"v=STSv1; id=a; x=",
	"v=STSv1; id=a; x=1 2",
	"",
}

// mtastsKnownDifferences are policies on which smtpsec deliberately
// disagrees with mox, with the reason.
var mtastsKnownDifferences = map[string]string{
	// RFC 8461 §3.2: max_age has a "maximum value of 31557600"; mox
	// accepts larger values, smtpsec (like chasquid) rejects the policy.
	"version: STSv1\nmode: none\nmax_age: 31557601\n": "max_age above the RFC maximum",
}

// TestMTASTSParseAgainstMox checks that smtpsec and mox accept and reject
// the same policies and records, and agree on what they parse.
func TestMTASTSParseAgainstMox(t *testing.T) {
	for _, text := range mtastsPolicies {
		ours, err1 := mtasts.ParsePolicy(text)
		theirs, err2 := moxmtasts.ParsePolicy(text)
		if why, ok := mtastsKnownDifferences[text]; ok {
			assert.Error(t, err1, why)
			assert.NoError(t, err2, "mox changed: %s", why)
			continue
		}
		if !assert.Equal(t, err2 == nil, err1 == nil, "policy %q: smtpsec %v, mox %v", text, err1, err2) || err1 != nil {
			continue
		}
		assert.Equal(t, string(theirs.Mode), string(ours.Mode), "policy %q", text)
		assert.Equal(t, time.Duration(theirs.MaxAgeSeconds)*time.Second, ours.MaxAge, "policy %q", text)
		var mx []string
		for _, m := range theirs.MX {
			s := m.Domain.ASCII
			if m.Wildcard {
				s = "*." + s
			}
			mx = append(mx, s)
		}
		assert.Equal(t, mx, ours.MX, "policy %q", text)
		for _, host := range []string{"mail.example.com", "x.example.net", "a.b.example.net", "mx.example.org", "a.example"} {
			d, err := moxdns.ParseDomain(host)
			if assert.NoError(t, err) {
				assert.Equal(t, theirs.Matches(d), ours.Match(host), "policy %q host %s", text, host)
			}
		}
	}
	for _, txt := range mtastsRecords {
		ours, err1 := mtasts.ParseRecord(txt)
		theirs, _, err2 := moxmtasts.ParseRecord(txt)
		if !assert.Equal(t, err2 == nil, err1 == nil, "record %q: smtpsec %v, mox %v", txt, err1, err2) || err1 != nil {
			continue
		}
		assert.Equal(t, theirs.ID, ours.ID)
	}
}

func BenchmarkMTASTSParsePolicy(b *testing.B) {
	text := mtastsPolicies[0]
	b.Run("smtpsec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := mtasts.ParsePolicy(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := moxmtasts.ParsePolicy(text); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMTASTSParseRecord(b *testing.B) {
	txt := mtastsRecords[0]
	b.Run("smtpsec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := mtasts.ParseRecord(txt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := moxmtasts.ParseRecord(txt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
