package spf

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ptrOnly answers the PTR and address lookups of the RFC 7208 §7.4
// examples: the client's validated name is mx.example.org.
type ptrOnly struct{}

func (ptrOnly) LookupTXT(context.Context, string) ([]string, error) { return nil, errNotFound }
func (ptrOnly) LookupMX(context.Context, string) ([]*net.MX, error) { return nil, errNotFound }
func (ptrOnly) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if host == "mx.example.org" {
		return []netip.Addr{netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("2001:db8::cb01")}, nil
	}
	return nil, errNotFound
}
func (ptrOnly) LookupAddr(context.Context, string) ([]string, error) {
	return []string{"mx.example.org."}, nil
}

var errNotFound error = &net.DNSError{Err: "no such host", IsNotFound: true}

func testEval(ip string) *eval {
	c := &Checker{Resolver: ptrOnly{}, ReceiverDomain: "mx.example.net",
		Now: func() time.Time { return time.Unix(1400000000, 0) }}
	return &eval{c: c, ctx: context.Background(), r: c.Resolver, ip: netip.MustParseAddr(ip),
		sender: "strong-bad@email.example.com", local: "strong-bad", senderDomain: "email.example.com",
		helo: "mx.example.org"}
}

// TestMacroExamples runs the examples of RFC 7208 §7.4.
func TestMacroExamples(t *testing.T) {
	t.Parallel()
	tests := []struct{ ip, in, want string }{
		{"192.0.2.3", "%{s}", "strong-bad@email.example.com"},
		{"192.0.2.3", "%{o}", "email.example.com"},
		{"192.0.2.3", "%{d}", "email.example.com"},
		{"192.0.2.3", "%{d4}", "email.example.com"},
		{"192.0.2.3", "%{d3}", "email.example.com"},
		{"192.0.2.3", "%{d2}", "example.com"},
		{"192.0.2.3", "%{d1}", "com"},
		{"192.0.2.3", "%{dr}", "com.example.email"},
		{"192.0.2.3", "%{d2r}", "example.email"},
		{"192.0.2.3", "%{l}", "strong-bad"},
		{"192.0.2.3", "%{l-}", "strong.bad"},
		{"192.0.2.3", "%{lr}", "strong-bad"},
		{"192.0.2.3", "%{lr-}", "bad.strong"},
		{"192.0.2.3", "%{l1r-}", "strong"},
		{"192.0.2.3", "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
		{"192.0.2.3", "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
		{"192.0.2.3", "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{"192.0.2.3", "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{"192.0.2.3", "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
		{"2001:db8::cb01", "%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"},
		// More of §7: escapes, upper case, p, h, delimiters, huge digits.
		{"192.0.2.3", "%%%_%-", "% %20"},
		{"192.0.2.3", "%{S}", "strong-bad%40email.example.com"},
		{"192.0.2.3", "%{p}", "mx.example.org"},
		{"192.0.2.3", "%{h}", "mx.example.org"},
		{"192.0.2.3", "%{l+-}", "strong.bad"},
		{"192.0.2.3", "%{d99999999999999}", "email.example.com"},
		{"192.0.2.3", "%{DR}", "com.example.email"},
		{"2001:db8::cb01", "%{i}", "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.ip+"/"+tc.in, func(t *testing.T) {
			t.Parallel()
			e := testEval(tc.ip)
			got, ok := e.expand(nil, tc.in, "email.example.com", macroDomain)
			require.True(t, ok)
			assert.Equal(t, tc.want, string(got))
			require.NoError(t, checkMacroString(tc.in, macroDomain))
		})
	}
}

func TestMacroExplainOnly(t *testing.T) {
	t.Parallel()
	tests := []struct{ ip, in, want string }{
		{"192.0.2.3", "%{c} via %{r} at %{t}", "192.0.2.3 via mx.example.net at 1400000000"},
		{"2001:db8::cb01", "%{c}", "2001:db8::cb01"},
		{"192.0.2.3", "%{C}", "192.0.2.3"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			e := testEval(tc.ip)
			got, ok := e.expand(nil, tc.in, "email.example.com", macroExplain)
			require.True(t, ok)
			assert.Equal(t, tc.want, string(got))
			// c, r and t are not allowed in a domain-spec (RFC 7208 §7.1).
			assert.Error(t, checkMacroString(tc.in, macroDomain))
		})
	}
}

func TestMacroSyntaxErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"%", "%{", "%{d", "%{x}", "%{d0}", "%{d2r-x}", "%(ir)", "%a", "a b", "%{dr}}%"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			assert.Error(t, checkMacroString(in, macroAll))
			_, ok := testEval("192.0.2.3").expand(nil, in, "example.com", macroAll)
			assert.False(t, ok)
		})
	}
}

func TestTruncateDomain(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefghi.", 40) + "example.com"
	got := string(truncateDomain([]byte(long)))
	assert.LessOrEqual(t, len(got), 253)
	assert.True(t, strings.HasSuffix(got, "example.com"))
	assert.True(t, strings.HasPrefix(got, "abcdefghi."), "whole labels removed from the left")
	assert.Equal(t, "a.example", string(truncateDomain([]byte("a.example."))))
}

// FuzzMacroExpand checks that expansion of any macro-string terminates,
// agrees with the validator, keeps domains within 253 octets after
// truncation, and keeps explanations bounded.
func FuzzMacroExpand(f *testing.F) {
	for _, s := range []string{"%{ir}.%{v}._spf.%{d2}", "%{l1r-}.lp", "%%%_%-", "%{S}", "%{p}", "%{c}%{r}%{t}",
		"%{d99}", "%{i}.%{l}._spf.%{d}", "foo%", strings.Repeat("%{s}", 300)} {
		f.Add(s, "strong-bad@email.example.com", true)
	}
	f.Fuzz(func(t *testing.T, s, sender string, explain bool) {
		set := macroDomain
		if explain {
			set = macroExplain
		}
		e := testEval("2001:db8::cb01")
		e.sender = sender
		e.local, e.senderDomain, _ = strings.Cut(sender, "@")
		out, ok := e.expand(nil, s, "email.example.com", set)
		valid := checkMacroString(s, set) == nil
		switch {
		case e.overBudget:
		case valid:
			assert.True(t, ok, "expander refuses valid %q", s)
		case set != macroDomain:
			// Domain-specs are validated by the parser, not again when
			// expanded; explanation text is validated by the expander.
			assert.False(t, ok, "expander accepts invalid %q", s)
		}
		if !ok {
			return
		}
		if explain {
			assert.LessOrEqual(t, len(out), maxExplanation)
		} else {
			assert.LessOrEqual(t, len(out), 2*domainWindow)
			assert.LessOrEqual(t, len(truncateDomain(out)), 253)
		}
	})
}

func TestRecordCacheBounded(t *testing.T) {
	t.Parallel()
	var c recordCache
	for i := range 3 * cacheMaxEntries {
		text := "v=spf1 ip4:192.0.2." + strconv.Itoa(i%256) + " a:h" + strconv.Itoa(i) + ".example.com -all"
		r1, err := c.parse(text)
		require.NoError(t, err)
		r2, err := c.parse(text)
		require.NoError(t, err)
		require.Same(t, r1, r2, "a cached record is shared")
		require.LessOrEqual(t, c.entries.Load(), int64(cacheMaxEntries))
		require.LessOrEqual(t, c.bytes.Load(), int64(cacheMaxBytes))
	}
	// Errors are cached too, and long records are not cached.
	_, err := c.parse("v=spf1 bogus")
	require.ErrorIs(t, err, ErrUnknownMechanism)
	long := "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 400) + "-all"
	r1, _ := c.parse(long)
	r2, _ := c.parse(long)
	assert.NotSame(t, r1, r2)
}
