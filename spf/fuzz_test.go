package spf_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

// suiteRecords returns the TXT/SPF texts of the RFC 7208 suite, as fuzz
// seeds.
func suiteRecords(tb testing.TB) []string {
	var out []string
	for _, s := range loadSuite(tb) {
		for _, entries := range s.ZoneData {
			for _, e := range entries {
				m, ok := e.(map[string]any)
				if !ok {
					continue
				}
				for k, v := range m {
					if s, ok := v.(string); ok && (k == "TXT" || k == "SPF") {
						out = append(out, s)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FuzzParseRecord checks that ParseRecord never panics, that its errors are
// *SyntaxError with an offset inside the record, and that every record it
// accepts round-trips: String parses back to a record with the same String
// and the same fields.
func FuzzParseRecord(f *testing.F) {
	for _, s := range suiteRecords(f) {
		f.Add(s)
	}
	f.Add("v=spf1 a:mail.example.com/24//64 mx//0 ip6:::ffff:192.0.2.1/120 ?exists:%{ir}.%{l1r-}.x.%{d2} ~ptr redirect=%{d} exp=x.%{o}. foo=%{c}")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := spf.ParseRecord(s)
		if err != nil {
			var se *spf.SyntaxError
			require.ErrorAs(t, err, &se)
			require.ErrorIs(t, err, spf.ErrSyntax)
			require.GreaterOrEqual(t, se.Offset, 0)
			require.LessOrEqual(t, se.Offset, len(s))
			return
		}
		text := r.String()
		r2, err := spf.ParseRecord(text)
		require.NoError(t, err, "String() of %q gave %q", s, text)
		require.Equal(t, text, r2.String())
		require.Equal(t, len(r.Directives), len(r2.Directives))
		for i := range r.Directives {
			a, b := r.Directives[i], r2.Directives[i]
			require.Equal(t, a.String(), b.String())
			require.Equal(t, a.Qualifier, b.Qualifier)
			require.Equal(t, a.Mechanism, b.Mechanism)
			require.Equal(t, a.Domain, b.Domain)
			require.Equal(t, a.Prefix, b.Prefix)
			require.Equal(t, a.CIDR4, b.CIDR4)
			require.Equal(t, a.CIDR6, b.CIDR6)
		}
		require.Equal(t, r.Redirect, r2.Redirect)
		require.Equal(t, r.Exp, r2.Exp)
		require.Equal(t, r.Modifiers, r2.Modifiers)
	})
}

// fuzzResolver answers TXT for fz.example.com with the fuzzed record and
// every other query from a fixed zone.
type fuzzResolver struct {
	*resolver.Zone
	record string
}

func (f *fuzzResolver) Query(ctx context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	if strings.EqualFold(strings.TrimSuffix(name, "."), "fz.example.com") && qtype == dns.TypeTXT {
		return &resolver.Answer{Name: "fz.example.com.", Rcode: dns.RcodeSuccess, Records: []dns.RR{
			&dns.TXT{Hdr: dns.RR_Header{Name: "fz.example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: txtStrings(f.record)},
		}}, nil
	}
	return f.Zone.Query(ctx, name, qtype)
}

const fuzzZone = `
$ORIGIN example.com.
inc       TXT "v=spf1 ip4:192.0.2.0/25 -all"
loop      TXT "v=spf1 include:fz.example.com ~all"
deep      TXT "v=spf1 include:deep.example.com a a a"
host      A    192.0.2.1
host      AAAA 2001:db8::1
@         MX   10 host.example.com.
fz        MX   10 host.example.com.
fz        A    192.0.2.200
1.2.0.192.in-addr.arpa. PTR host.example.com.
why       TXT "denied %{i} %{s} %{c}"
slow      TXT "v=spf1 -all"
`

// FuzzCheck evaluates random records against a zone and checks the error
// invariant, the lookup limit, the explanation rule, header safety, and
// that every check ends within its deadline.
func FuzzCheck(f *testing.F) {
	for _, s := range suiteRecords(f) {
		f.Add(s, "192.0.2.1", "user@fz.example.com")
	}
	f.Add("v=spf1 include:loop.example.com -all", "192.0.2.1", "a@fz.example.com")
	f.Add("v=spf1 a mx ptr exists:%{i}.example.com include:inc.example.com redirect=inc.example.com exp=why.example.com", "2001:db8::1", "")
	f.Add("v=spf1 -all exp=why.%{d2}", "192.0.2.9", "x@fz.example.com")
	f.Add("v=spf1 a:slow.example.com", "192.0.2.9", "x@fz.example.com")
	f.Fuzz(func(t *testing.T, record, ip, from string) {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			addr = netip.MustParseAddr("192.0.2.1")
		}
		if _, d, ok := strings.Cut(from, "@"); ok && d != "fz.example.com" || !ok && from != "" {
			from = "user@fz.example.com"
		}
		z, err := resolver.ParseZone(strings.NewReader(fuzzZone), "example.com.")
		require.NoError(t, err)
		require.NoError(t, z.SetFailure("slow.example.com", 0, resolver.FailTimeout))
		c := &spf.Checker{Resolver: &fuzzResolver{Zone: z, record: record}, ReceiverDomain: "mx.example.org"}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		o, err := c.Check(ctx, spf.Input{IP: addr, HELO: "fz.example.com", MailFrom: from})
		assert.Less(t, time.Since(start), 5*time.Second)
		switch o.Result {
		case spf.TempError, spf.PermError:
			var se *spf.Error
			require.ErrorAs(t, err, &se, "result %s", o.Result)
			assert.Equal(t, o.Result, se.Result)
			assert.NotEmpty(t, se.Domain)
			assert.NotEmpty(t, o.Problem)
		case spf.None, spf.Neutral, spf.Pass, spf.Fail, spf.SoftFail:
			require.NoError(t, err)
		default:
			t.Fatalf("result %q", o.Result)
		}
		assert.LessOrEqual(t, o.Lookups, 11)
		assert.LessOrEqual(t, o.VoidLookups, 3)
		if o.Result != spf.Fail {
			assert.Empty(t, o.Explanation)
		} else {
			assert.NotEmpty(t, o.Explanation)
			for _, c := range []byte(o.Explanation) {
				assert.True(t, c >= ' ' && c <= '~', "explanation %q", o.Explanation)
			}
		}
		h := o.ReceivedSPF()
		assert.False(t, strings.ContainsAny(strings.ReplaceAll(h, "\r\n\t", ""), "\r\n"), "header %q", h)
		if errors.Is(err, spf.ErrSyntax) {
			_, perr := spf.ParseRecord(record)
			assert.Error(t, perr, fmt.Sprintf("%q", record))
		}
	})
}
