package spf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/spf"
)

// zone parses zone-file text with origin example.com.
func zone(t testing.TB, text string) *resolver.Zone {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader("$TTL 300\n"+text), "example.com.")
	require.NoError(t, err)
	return z
}

// netOnly hides the Querier methods of a resolver, so that the evaluator
// takes its net.Resolver-style path.
type netOnly struct{ r resolver.Resolver }

func (n netOnly) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return n.r.LookupTXT(ctx, name)
}
func (n netOnly) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return n.r.LookupMX(ctx, name)
}
func (n netOnly) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return n.r.LookupNetIP(ctx, network, host)
}
func (n netOnly) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return n.r.LookupAddr(ctx, addr)
}

// countingResolver counts the lookups made through it.
type countingResolver struct {
	resolver.Resolver
	mu sync.Mutex
	n  int
}

func (c *countingResolver) count() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}
func (c *countingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	c.count()
	return c.Resolver.LookupTXT(ctx, name)
}
func (c *countingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	c.count()
	return c.Resolver.LookupNetIP(ctx, network, host)
}
func (c *countingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	c.count()
	return c.Resolver.LookupMX(ctx, name)
}

const behaviourZone = `
$ORIGIN example.com.
pass        TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
upper       TXT "V=SPF1 IP4:192.0.2.0/24 -ALL"
two         TXT "v=spf1 -all"
two         TXT "v=spf1 +all"
other       TXT "hello" "v=spf1-not" "v=spf10 -all"
other       TXT "v=spf1 ?all"
late-error  TXT "v=spf1 ip4:192.0.2.1 -all foo:bar"
dup-redir   TXT "v=spf1 redirect=pass.example.com redirect=pass.example.com"
dup-exp     TXT "v=spf1 -all exp=a.example.com exp=b.example.com"
unknown-mod TXT "v=spf1 foo=bar.%{d} -all"
inc-none    TXT "v=spf1 include:nothing.example.com -all"
inc-broken  TXT "v=spf1 include:broken.example.com -all"
broken      TXT "v=spf1 ip4:192.0.2.1 bogus -all"
inc-fail    TXT "v=spf1 include:two-fail.example.com ?all"
two-fail    TXT "v=spf1 -all"
redir-none  TXT "v=spf1 redirect=nothing.example.com"
redir-self  TXT "v=spf1 ip4:198.51.100.1 redirect=redir-self.example.com"
mutual-a    TXT "v=spf1 include:mutual-b.example.com -all"
mutual-b    TXT "v=spf1 include:mutual-a.example.com -all"
a-dual      TXT "v=spf1 a:host.example.com/24//64 -all"
host        A    192.0.2.200
host        AAAA 2001:db8:1::99
a-v4only    TXT "v=spf1 a:v4.example.com//0 -all"
v4          A    192.0.2.77
mx          TXT "v=spf1 mx/30 -all"
mx          MX   10 mx1.example.com.
mx          MX   20 mx2.example.com.
mx1         A    198.51.100.10
mx2         A    198.51.100.20
mx11        TXT "v=spf1 mx -all"
mx11        MX   1 m1.example.com.
mx11        MX   2 m2.example.com.
mx11        MX   3 m3.example.com.
mx11        MX   4 m4.example.com.
mx11        MX   5 m5.example.com.
mx11        MX   6 m6.example.com.
mx11        MX   7 m7.example.com.
mx11        MX   8 m8.example.com.
mx11        MX   9 m9.example.com.
mx11        MX   10 m10.example.com.
mx11        MX   11 m11.example.com.
m1          A    198.51.100.1
m11         A    198.51.100.11
exists      TXT "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"
10.2.0.192.alice._spf.exists A 127.0.0.2
voids       TXT "v=spf1 a:nx1.example.com a:nx2.example.com a:nx3.example.com a:host.example.com -all"
exp         TXT "v=spf1 -ip4:192.0.2.66 ~all exp=why.%{d}"
why.exp     TXT "%{c} may not send as %{s}; see %{r}"
exp-bad     TXT "v=spf1 -all exp=nothing.example.com"
exp-multi   TXT "v=spf1 -all exp=multi.example.com"
multi       TXT "one"
multi       TXT "two"
exp-macro   TXT "v=spf1 -all exp=badmacro.example.com"
badmacro    TXT "broken %{z} macro"
ptr         TXT "v=spf1 ptr -all"
10.2.0.192.in-addr.arpa. PTR other.example.net.
10.2.0.192.in-addr.arpa. PTR mail.ptr.example.com.
mail.ptr    A    192.0.2.10
helo        TXT "v=spf1 a -all"
helo        A    192.0.2.50
timeout     TXT "v=spf1 a:slow.example.com -all"
`

func TestCheck(t *testing.T) {
	t.Parallel()
	z := zone(t, behaviourZone)
	require.NoError(t, z.SetFailure("slow.example.com", 0, resolver.FailTimeout))
	tests := []struct {
		name      string
		ip, from  string
		helo      string
		want      spf.Result
		mech      string
		sentinel  error
		errDomain string
		errTerm   string
		expl      string
	}{
		{name: "ip4 pass", ip: "192.0.2.9", from: "a@pass.example.com", want: spf.Pass, mech: "ip4:192.0.2.0/24"},
		{name: "ip6 pass", ip: "2001:db8::5", from: "a@pass.example.com", want: spf.Pass, mech: "ip6:2001:db8::/32"},
		{name: "fail", ip: "198.51.100.1", from: "a@pass.example.com", want: spf.Fail, mech: "-all", expl: "pass.example.com does not designate 198.51.100.1 as permitted sender"},
		{name: "ipv4-mapped client", ip: "::ffff:192.0.2.9", from: "a@pass.example.com", want: spf.Pass},
		{name: "case-insensitive record", ip: "192.0.2.9", from: "a@upper.example.com", want: spf.Pass, mech: "IP4:192.0.2.0/24"},
		{name: "two records", ip: "192.0.2.9", from: "a@two.example.com", want: spf.PermError, sentinel: spf.ErrMultipleRecords, errDomain: "two.example.com"},
		{name: "other TXT ignored", ip: "192.0.2.9", from: "a@other.example.com", want: spf.Neutral, mech: "?all"},
		{name: "no record", ip: "192.0.2.9", from: "a@nothing.example.com", want: spf.None},
		{name: "single-label domain", ip: "192.0.2.9", from: "a@localhost", want: spf.None},
		{name: "domain literal", ip: "192.0.2.9", from: "a@[192.0.2.9]", want: spf.None},
		{name: "error after match", ip: "192.0.2.1", from: "a@late-error.example.com", want: spf.PermError, sentinel: spf.ErrUnknownMechanism, errDomain: "late-error.example.com", errTerm: "foo:bar"},
		{name: "redirect twice", ip: "192.0.2.1", from: "a@dup-redir.example.com", want: spf.PermError, sentinel: spf.ErrDuplicateModifier},
		{name: "exp twice", ip: "192.0.2.1", from: "a@dup-exp.example.com", want: spf.PermError, sentinel: spf.ErrDuplicateModifier},
		{name: "unknown modifier ignored", ip: "192.0.2.1", from: "a@unknown-mod.example.com", want: spf.Fail},
		{name: "include of no record", ip: "192.0.2.1", from: "a@inc-none.example.com", want: spf.PermError, sentinel: spf.ErrNoRecord, errDomain: "inc-none.example.com", errTerm: "include:nothing.example.com"},
		{name: "include of broken record names it", ip: "192.0.2.1", from: "a@inc-broken.example.com", want: spf.PermError, sentinel: spf.ErrSyntax, errDomain: "broken.example.com", errTerm: "bogus"},
		{name: "include fail does not match", ip: "192.0.2.1", from: "a@inc-fail.example.com", want: spf.Neutral, mech: "?all"},
		{name: "redirect to no record", ip: "192.0.2.1", from: "a@redir-none.example.com", want: spf.PermError, sentinel: spf.ErrNoRecord},
		{name: "redirect to itself", ip: "192.0.2.1", from: "a@redir-self.example.com", want: spf.PermError, sentinel: spf.ErrLoop, errDomain: "redir-self.example.com"},
		{name: "mutual includes", ip: "192.0.2.1", from: "a@mutual-a.example.com", want: spf.PermError, sentinel: spf.ErrLoop},
		{name: "a dual cidr v4", ip: "192.0.2.1", from: "a@a-dual.example.com", want: spf.Pass},
		{name: "a dual cidr v6", ip: "2001:db8:1::1", from: "a@a-dual.example.com", want: spf.Pass},
		{name: "a//0 v4-only host, v6 client", ip: "2001:db8::1", from: "a@a-v4only.example.com", want: spf.Fail},
		{name: "mx second host", ip: "198.51.100.21", from: "a@mx.example.com", want: spf.Pass, mech: "mx/30"},
		{name: "mx first of 11 matches", ip: "198.51.100.1", from: "a@mx11.example.com", want: spf.Pass},
		{name: "mx 11th name", ip: "198.51.100.11", from: "a@mx11.example.com", want: spf.PermError, sentinel: spf.ErrTooManyMX},
		{name: "exists macro", ip: "192.0.2.10", from: "alice@exists.example.com", want: spf.Pass},
		{name: "exists macro no match", ip: "192.0.2.11", from: "alice@exists.example.com", want: spf.Fail},
		{name: "void limit", ip: "192.0.2.200", from: "a@voids.example.com", want: spf.PermError, sentinel: spf.ErrTooManyVoidLookups, errTerm: "a:nx3.example.com"},
		{name: "exp with macros", ip: "192.0.2.66", from: "bob@exp.example.com", want: spf.Fail, expl: "192.0.2.66 may not send as bob@exp.example.com; see mx.example.org"},
		{name: "exp not for softfail", ip: "192.0.2.67", from: "bob@exp.example.com", want: spf.SoftFail},
		{name: "exp missing: default", ip: "192.0.2.1", from: "bob@exp-bad.example.com", want: spf.Fail, expl: "exp-bad.example.com does not designate 192.0.2.1 as permitted sender"},
		{name: "exp several TXT: default", ip: "192.0.2.1", from: "bob@exp-multi.example.com", want: spf.Fail, expl: "exp-multi.example.com does not designate 192.0.2.1 as permitted sender"},
		{name: "exp bad macro: default", ip: "192.0.2.1", from: "bob@exp-macro.example.com", want: spf.Fail, expl: "exp-macro.example.com does not designate 192.0.2.1 as permitted sender"},
		{name: "ptr validated", ip: "192.0.2.10", from: "a@ptr.example.com", want: spf.Pass},
		{name: "null sender uses helo", ip: "192.0.2.50", from: "", helo: "helo.example.com", want: spf.Pass},
		{name: "null sender <>", ip: "192.0.2.51", from: "<>", helo: "helo.example.com", want: spf.Fail},
		{name: "empty local-part", ip: "192.0.2.9", from: "@pass.example.com", want: spf.Pass},
		{name: "timeout is temperror", ip: "192.0.2.9", from: "a@timeout.example.com", want: spf.TempError, sentinel: spf.ErrDNS, errTerm: "a:slow.example.com"},
		{name: "invalid ip", ip: "", from: "a@pass.example.com", want: spf.PermError, sentinel: spf.ErrInvalidIP},
	}
	for _, r := range []struct {
		name string
		res  resolver.Resolver
	}{{"querier", z}, {"resolver", netOnly{z}}} {
		c := &spf.Checker{Resolver: r.res, ReceiverDomain: "mx.example.org"}
		for _, tc := range tests {
			t.Run(r.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var ip netip.Addr
				if tc.ip != "" {
					ip = netip.MustParseAddr(tc.ip)
				}
				helo := tc.helo
				if helo == "" {
					helo = "mail.example.net"
				}
				o, err := c.Check(context.Background(), spf.Input{IP: ip, HELO: helo, MailFrom: tc.from})
				assert.Equal(t, tc.want, o.Result)
				if tc.mech != "" {
					assert.Equal(t, tc.mech, o.Mechanism)
				}
				if tc.expl != "" {
					assert.Equal(t, tc.expl, o.Explanation)
				}
				if o.Result != spf.Fail {
					assert.Empty(t, o.Explanation)
				}
				if tc.want != spf.TempError && tc.want != spf.PermError {
					assert.NoError(t, err)
					assert.Empty(t, o.Problem)
					return
				}
				var se *spf.Error
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.want, se.Result)
				assert.Equal(t, err.Error(), o.Problem)
				if tc.sentinel != nil {
					assert.ErrorIs(t, err, tc.sentinel)
				}
				if tc.errDomain != "" {
					assert.Equal(t, tc.errDomain, se.Domain)
				}
				if tc.errTerm != "" {
					assert.Equal(t, tc.errTerm, se.Term)
				}
			})
		}
	}
}

func TestCheckHELOAndCheckHost(t *testing.T) {
	t.Parallel()
	z := zone(t, behaviourZone)
	c := &spf.Checker{Resolver: z}
	ctx := context.Background()
	o, err := c.CheckHELO(ctx, netip.MustParseAddr("192.0.2.50"), "helo.example.com")
	require.NoError(t, err)
	assert.Equal(t, spf.Pass, o.Result)
	assert.Equal(t, spf.IdentityHELO, o.Identity)
	assert.Equal(t, "postmaster@helo.example.com", o.Sender)
	assert.Equal(t, "spf=pass smtp.helo=helo.example.com", o.AuthenticationResults())

	o, err = c.CheckHost(ctx, netip.MustParseAddr("192.0.2.9"), "pass.example.com", "someone@elsewhere.example.net")
	require.NoError(t, err)
	assert.Equal(t, spf.Pass, o.Result)
	assert.Equal(t, "pass.example.com", o.Domain)
	assert.Equal(t, spf.IdentityMailFrom, o.Identity)

	// The sender's domain need not be valid: only <domain> is (§4.3).
	o, err = c.CheckHost(ctx, netip.MustParseAddr("192.0.2.9"), "Pass.Example.COM.", "nobody")
	require.NoError(t, err)
	assert.Equal(t, spf.Pass, o.Result)
	assert.Equal(t, "pass.example.com", o.Domain)
	assert.Equal(t, "postmaster@nobody", o.Sender)
}

func TestLookupLimit(t *testing.T) {
	t.Parallel()
	// A chain of includes: c0 -> c1 -> ... -> c11, the last passing.
	var zt strings.Builder
	for i := range 12 {
		fmt.Fprintf(&zt, "c%d TXT \"v=spf1 include:c%d.example.com -all\"\n", i, i+1)
	}
	zt.WriteString("c12 TXT \"v=spf1 +all\"\n")
	z := zone(t, zt.String())
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")

	for _, tc := range []struct {
		from string
		max  int
		want spf.Result
	}{
		{"a@c3.example.com", 0, spf.Pass},      // 9 includes
		{"a@c2.example.com", 0, spf.Pass},      // 10 includes: at the limit
		{"a@c1.example.com", 0, spf.PermError}, // 11
		{"a@c0.example.com", 20, spf.Pass},     // a raised limit
		{"a@c7.example.com", 5, spf.Pass},      // 5 includes
		{"a@c6.example.com", 5, spf.PermError}, // 6
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.from, tc.max), func(t *testing.T) {
			t.Parallel()
			cr := &countingResolver{Resolver: netOnly{z}}
			c := &spf.Checker{Resolver: cr, MaxLookups: tc.max}
			o, err := c.Check(ctx, spf.Input{IP: ip, MailFrom: tc.from})
			assert.Equal(t, tc.want, o.Result)
			limit := tc.max
			if limit == 0 {
				limit = 10
			}
			assert.LessOrEqual(t, o.Lookups, limit+1)
			assert.LessOrEqual(t, cr.n, limit+1, "DNS queries")
			if tc.want == spf.PermError {
				assert.ErrorIs(t, err, spf.ErrTooManyLookups)
			}
		})
	}
}

func TestVoidLookupKnob(t *testing.T) {
	t.Parallel()
	z := zone(t, behaviourZone)
	ctx := context.Background()
	in := spf.Input{IP: netip.MustParseAddr("192.0.2.200"), MailFrom: "a@voids.example.com"}
	for _, tc := range []struct {
		max  int
		want spf.Result
	}{{0, spf.PermError}, {2, spf.PermError}, {3, spf.Pass}, {-1, spf.Pass}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			t.Parallel()
			o, _ := (&spf.Checker{Resolver: z, MaxVoidLookups: tc.max}).Check(ctx, in)
			assert.Equal(t, tc.want, o.Result)
			if tc.want == spf.Pass {
				assert.Equal(t, 3, o.VoidLookups)
			}
		})
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	z := zone(t, behaviourZone)
	srv := resolvertest.NewServer(t, z)
	srv.SetLatency(2 * time.Second)
	c := &spf.Checker{Resolver: srv.Client()}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	o, err := c.Check(ctx, spf.Input{IP: netip.MustParseAddr("192.0.2.9"), MailFrom: "a@pass.example.com"})
	assert.Less(t, time.Since(start), time.Second)
	assert.Equal(t, spf.TempError, o.Result)
	assert.ErrorIs(t, err, spf.ErrDNS)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	o, err = (&spf.Checker{Resolver: z}).Check(cctx, spf.Input{IP: netip.MustParseAddr("192.0.2.9"), MailFrom: "a@pass.example.com"})
	assert.Equal(t, spf.TempError, o.Result)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestAuthentic(t *testing.T) {
	t.Parallel()
	z := zone(t, behaviourZone)
	require.NoError(t, z.SetSecure("example.com", true))
	in := spf.Input{IP: netip.MustParseAddr("198.51.100.21"), MailFrom: "a@mx.example.com"}
	o, err := (&spf.Checker{Resolver: z}).Check(context.Background(), in)
	require.NoError(t, err)
	assert.True(t, o.Authentic)

	o, err = (&spf.Checker{Resolver: netOnly{z}}).Check(context.Background(), in)
	require.NoError(t, err)
	assert.False(t, o.Authentic, "a plain Resolver cannot vouch for DNSSEC")

	require.NoError(t, z.SetSecure("mx2.example.com", false))
	o, err = (&spf.Checker{Resolver: z}).Check(context.Background(), in)
	require.NoError(t, err)
	assert.False(t, o.Authentic, "one insecure answer makes the verdict insecure")

	srv := resolvertest.NewServer(t, z)
	o, err = (&spf.Checker{Resolver: srv.Client()}).Check(context.Background(), spf.Input{IP: netip.MustParseAddr("192.0.2.9"), MailFrom: "a@pass.example.com"})
	require.NoError(t, err)
	assert.True(t, o.Authentic, "the AD bit over the wire")
}

// TestHostile checks that hostile records and inputs are bounded in time.
func TestHostile(t *testing.T) {
	t.Parallel()
	// 10,000 terms in under 64 KiB: 4,000 ip6 and 6,000 unknown modifiers.
	bigTerms := "v=spf1" + strings.Repeat(" ip6:::1", 4000) + strings.Repeat(" x=y", 6000) + " -all"
	bomb := "v=spf1 " + strings.Repeat("exists:"+strings.Repeat("%{s}%{l}%{o}%{d}%{h}%{ir}", 40)+".example.com ", 12) + "-all"
	huge := "v=spf1 " + strings.Repeat("a", 60000) + " -all"
	z := &resolver.Zone{}
	txt := func(name, v string) {
		var parts []string
		for len(v) > 255 {
			parts, v = append(parts, v[:255]), v[255:]
		}
		parts = append(parts, v)
		require.NoError(t, z.AddRR(&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: parts}))
	}
	txt("terms.example.com.", bigTerms)
	txt("bomb.example.com.", bomb)
	txt("huge.example.com.", huge)
	longLocal := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name, from string
		want       spf.Result
	}{
		{"10000 terms", "a@terms.example.com", spf.Fail},
		{"macro bomb", longLocal + "@bomb.example.com", spf.PermError},
		{"64 KiB record", "a@huge.example.com", spf.PermError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &spf.Checker{Resolver: z}
			start := time.Now()
			for range 3 {
				o, err := c.Check(context.Background(), spf.Input{IP: netip.MustParseAddr("192.0.2.1"), HELO: strings.Repeat("h.", 100) + "example", MailFrom: tc.from})
				assert.Equal(t, tc.want, o.Result, "%v", err)
				assert.LessOrEqual(t, o.Lookups, 11)
			}
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	z := zone(t, behaviourZone)
	c := &spf.Checker{Resolver: z, ReceiverDomain: "mx.example.org"}
	hostile := []string{
		"mail.example.com\r\nX-Injected: yes",
		"mail.example.com; identity=helo",
		"a\"b\\c) (d",
		"mail.example.com\n",
		"x\x00y",
		strings.Repeat("z", 2000),
		"ünïcode.example",
	}
	for _, h := range hostile {
		t.Run(fmt.Sprintf("%q", clipString(h)), func(t *testing.T) {
			t.Parallel()
			for _, from := range []string{"a@pass.example.com", h + "@pass.example.com", ""} {
				o, _ := c.Check(context.Background(), spf.Input{IP: netip.MustParseAddr("192.0.2.1"), HELO: h, MailFrom: from})
				for _, field := range []string{o.ReceivedSPF(), o.AuthenticationResults()} {
					assertOneHeaderField(t, field)
				}
			}
		})
	}
}

func clipString(s string) string {
	if len(s) > 30 {
		return s[:30]
	}
	return s
}

// assertOneHeaderField checks that field is one header field: no bare CR
// or LF, every line break a fold, no control characters, and that the
// key=value pairs outside quotes and comments are the known keys, each once.
func assertOneHeaderField(t *testing.T, field string) {
	t.Helper()
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == '\r':
			require.True(t, i+2 < len(field) && field[i+1] == '\n' && (field[i+2] == '\t' || field[i+2] == ' '), "bare CR or unfolded line in %q", field)
			i++
		case c == '\n':
			t.Fatalf("bare LF in %q", field)
		case c < ' ' && c != '\t' || c == 0x7f:
			t.Fatalf("control character in %q", field)
		}
	}
	// Walk the unfolded field and collect the keys outside quotes/comments.
	s := strings.NewReplacer("\r\n\t", " ", "\r\n ", " ").Replace(field)
	var keys []string
	depth, quoted := 0, false
	word := ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0):
			i++
		case quoted:
			if c == '"' {
				quoted = false
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth > 0:
		case c == '"':
			quoted = true
		case c == '=':
			keys = append(keys, strings.TrimSpace(word))
			word = ""
		case c == ';' || c == ' ':
			word = ""
		default:
			word += string(c)
		}
	}
	require.False(t, quoted, "unterminated quote in %q", field)
	require.Zero(t, depth, "unbalanced comment in %q", field)
	known := map[string]bool{"client-ip": true, "envelope-from": true, "helo": true, "receiver": true, "identity": true,
		"mechanism": true, "problem": true, "spf": true, "smtp.mailfrom": true, "smtp.helo": true}
	seen := map[string]bool{}
	for _, k := range keys {
		require.True(t, known[k], "unexpected key %q in %q", k, field)
		require.False(t, seen[k], "key %q twice in %q", k, field)
		seen[k] = true
	}
}

func TestReceivedSPFResults(t *testing.T) {
	t.Parallel()
	for _, r := range []spf.Result{spf.None, spf.Neutral, spf.Pass, spf.Fail, spf.SoftFail, spf.TempError, spf.PermError} {
		t.Run(string(r), func(t *testing.T) {
			t.Parallel()
			o := spf.Outcome{Result: r, Identity: spf.IdentityMailFrom, IP: netip.MustParseAddr("2001:db8::1"),
				HELO: "mail.example.com", Sender: "a@example.com", Receiver: "mx.example.org", Mechanism: "default"}
			if r == spf.PermError {
				o.Problem = "spf: permerror in the record of \"example.com\": bad (really)"
			}
			h := o.ReceivedSPF()
			assert.True(t, strings.HasPrefix(h, "Received-SPF: "+string(r)+" ("), h)
			assert.Contains(t, h, "client-ip=\"2001:db8::1\";")
			assertOneHeaderField(t, h)
			assert.Equal(t, "spf="+string(r)+" smtp.mailfrom=a@example.com", o.AuthenticationResults())
		})
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	c := &spf.Checker{Resolver: zone(t, behaviourZone), Logger: slog.New(h)}
	_, err := c.Check(context.Background(), spf.Input{IP: netip.MustParseAddr("192.0.2.1"), MailFrom: "a@inc-broken.example.com"})
	require.Error(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, buf.String(), "broken.example.com")
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := &spf.Checker{Resolver: zone(t, behaviourZone)}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i*50 + j)})
				o, err := c.Check(context.Background(), spf.Input{IP: ip, MailFrom: "a@pass.example.com"})
				assert.NoError(t, err)
				assert.Equal(t, spf.Pass, o.Result)
			}
		}()
	}
	wg.Wait()
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	_, err := spf.ParseRecord("v=spf1 ip4:192.0.2.0/33")
	var se *spf.SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 7, se.Offset)
	assert.Equal(t, "ip4:192.0.2.0/33", se.Term)
	assert.ErrorIs(t, err, spf.ErrInvalidCIDR)
	assert.ErrorIs(t, err, spf.ErrSyntax)

	e := &spf.Error{Result: spf.TempError, Domain: "example.com", Term: "a:x.example.com",
		Err: &spf.LookupError{Name: "x.example.com", Type: "A", Err: errors.New("i/o timeout")}}
	assert.Equal(t, `spf: temperror in the record of "example.com" at term "a:x.example.com": DNS lookup failed: A "x.example.com": i/o timeout`, e.Error())
	assert.ErrorIs(t, e, spf.ErrDNS)
}

func TestNestingBound(t *testing.T) {
	t.Parallel()
	var zt strings.Builder
	for i := range 30 {
		fmt.Fprintf(&zt, "n%d TXT \"v=spf1 include:n%d.example.com -all\"\n", i, i+1)
	}
	zt.WriteString("n30 TXT \"v=spf1 +all\"\n")
	z := zone(t, zt.String())
	c := &spf.Checker{Resolver: z, MaxLookups: 100}
	ip := netip.MustParseAddr("192.0.2.1")
	o, err := c.Check(context.Background(), spf.Input{IP: ip, MailFrom: "a@n20.example.com"})
	assert.NoError(t, err)
	assert.Equal(t, spf.Pass, o.Result, "10 nested includes")
	o, err = c.Check(context.Background(), spf.Input{IP: ip, MailFrom: "a@n0.example.com"})
	assert.Equal(t, spf.PermError, o.Result, "30 nested includes exceed the nesting bound")
	assert.ErrorIs(t, err, spf.ErrTooManyLookups)
	assert.LessOrEqual(t, o.Lookups, 17)
}
