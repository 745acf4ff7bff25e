package resolver_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// oddZone holds names and data with octets that presentation format
// escapes, each under its own address so that a mix-up shows.
const oddZone = `$ORIGIN example.test.
$TTL 300
foo:bar%x          IN A   192.0.2.1
a\ b               IN A   192.0.2.2
sp\032ace          IN A   192.0.2.3
q\"x               IN A   192.0.2.4
b\\s               IN A   192.0.2.5
semi\;colon        IN A   192.0.2.6
at\@x              IN A   192.0.2.7
paren\(x\)         IN A   192.0.2.8
\$dollar           IN A   192.0.2.9
ctl\009tab         IN A   192.0.2.10
café               IN A   192.0.2.11
UPPER\ Case        IN A   192.0.2.12
%{i}\032%-x        IN A   192.0.2.13
dot\.inside        IN A   192.0.2.20
two.labels         IN A   192.0.2.21
c.one\.label       IN A   192.0.2.22
txt                IN TXT "say \"hi\" caf\195\169" "; back\\slash\009tab"
txt                IN TXT "raw café"
txt                IN TXT "\000nul \255"
mx                 IN MX  10 mx\ 1.example.test.
mx                 IN MX  20 mx1.example.test.
mxdot              IN MX  30 dot\.mx.example.test.
mxdot              IN MX  50 mx1.example.test.
mx                 IN MX  40 192.0.2.25.
$ORIGIN 2.0.192.in-addr.arpa.
30                 IN PTR ptr\ 1.example.test.
30                 IN PTR good.example.test.
30                 IN PTR odd:name.example.test.
`

// oddBackends serves oddZone from memory and over the wire.
func oddBackends(t *testing.T) (map[string]resolverQuerier, *resolvertest.Server) {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader(oddZone), "example.test.")
	require.NoError(t, err)
	srv := resolvertest.NewServer(t, z)
	c := srv.Client()
	c.Timeout = 5 * time.Second
	return map[string]resolverQuerier{"zone": z, "wire": c}, srv
}

// TestRawNames checks that raw names (as net.Resolver takes them: '.'
// between labels, every other octet itself, RFC 2181 §11) find the records
// written with presentation-format escapes, the same in memory and on the
// wire.
func TestRawNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw, key, addr string
	}{
		{"colon and percent", "foo:bar%x.example.test", "foo:bar%x.example.test.", "192.0.2.1"},
		{"space as \\ ", "a b.example.test", `a\ b.example.test.`, "192.0.2.2"},
		{"space as \\032", "sp ace.example.test.", `sp\ ace.example.test.`, "192.0.2.3"},
		{"double quote", `q"x.example.test`, `q\"x.example.test.`, "192.0.2.4"},
		{"backslash", `b\s.example.test`, `b\\s.example.test.`, "192.0.2.5"},
		{"semicolon", "semi;colon.example.test", `semi\;colon.example.test.`, "192.0.2.6"},
		{"at", "at@x.example.test", `at\@x.example.test.`, "192.0.2.7"},
		{"parentheses", "paren(x).example.test", `paren\(x\).example.test.`, "192.0.2.8"},
		{"dollar", "$dollar.example.test", `$dollar.example.test.`, "192.0.2.9"},
		{"control octet", "ctl\ttab.example.test", `ctl\009tab.example.test.`, "192.0.2.10"},
		{"UTF-8 U-label", "CAFÉ.example.test", "xn--caf-dma.example.test.", "192.0.2.11"},
		{"A-label", "xn--caf-dma.example.test", "xn--caf-dma.example.test.", "192.0.2.11"},
		{"case", "upper case.EXAMPLE.test", `upper\ case.example.test.`, "192.0.2.12"},
		{"macro-like", "%{i} %-x.example.test", `%{i}\ %-x.example.test.`, "192.0.2.13"},
	}
	backends, _ := oddBackends(t)
	for bname, r := range backends {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					key, err := resolver.CanonicalName(tc.raw)
					require.NoError(t, err)
					assert.Equal(t, tc.key, key)
					ctx := caseContext(t, noErr)
					a, err := r.Query(ctx, tc.raw, dns.TypeA)
					require.NoError(t, err)
					assert.Equal(t, tc.key, a.Name)
					require.Len(t, a.Records, 1, "%+v", a)
					assert.Equal(t, tc.addr, a.Records[0].(*dns.A).A.String())
					addrs, err := r.LookupNetIP(ctx, "ip4", tc.raw)
					require.NoError(t, err)
					assert.Equal(t, []netip.Addr{netip.MustParseAddr(tc.addr)}, addrs)
				})
			}
		})
	}
}

// TestEscapedDot checks that a label holding a '.' octet ("dot\.inside")
// is one label: the raw name "dot.inside" is two labels and another name,
// and names below such a label do not make its text's parts exist.
func TestEscapedDot(t *testing.T) {
	t.Parallel()
	backends, srv := oddBackends(t)
	for bname, r := range backends {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			ctx := caseContext(t, noErr)
			_, err := r.LookupNetIP(ctx, "ip4", "dot.inside.example.test")
			checkErr(t, err, notFound, "dot.inside.example.test")
			a, err := r.Query(ctx, "inside.example.test", dns.TypeA)
			require.NoError(t, err)
			assert.True(t, a.NXDomain(), "inside.example.test must not exist: %+v", a)

			// "two.labels" is two labels; no escaped spelling reaches it.
			addrs, err := r.LookupNetIP(ctx, "ip4", "two.labels.example.test")
			require.NoError(t, err)
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.21")}, addrs)
			a, err = r.Query(ctx, `two\.labels.example.test`, dns.TypeA)
			require.NoError(t, err)
			assert.True(t, a.NXDomain(), "a backslash in a raw name is an octet: %+v", a)

			// "c.one\.label" makes "one\.label" an empty non-terminal,
			// not "label" (RFC 8020).
			a, err = r.Query(ctx, "label.example.test", dns.TypeA)
			require.NoError(t, err)
			assert.True(t, a.NXDomain(), "%+v", a)
			a, err = r.Query(ctx, "c.one.label.example.test", dns.TypeA)
			require.NoError(t, err)
			assert.True(t, a.NXDomain(), "%+v", a)
		})
	}
	// On the wire, the one-label name is asked in presentation form, with
	// either escape.
	z := srv.Zone()
	for _, q := range []string{`dot\.inside.example.test.`, `DOT\046INSIDE.example.test.`} {
		m := new(dns.Msg)
		m.SetQuestion(q, dns.TypeA)
		resp := z.Respond(m)
		require.NotNil(t, resp)
		assert.Equal(t, dns.RcodeSuccess, resp.Rcode, q)
		require.Len(t, resp.Answer, 1, q)
		assert.Equal(t, "192.0.2.20", resp.Answer[0].(*dns.A).A.String())
		ex, err := dns.Exchange(m, srv.Addr())
		require.NoError(t, err)
		require.Len(t, ex.Answer, 1, q)
		assert.Equal(t, "192.0.2.20", ex.Answer[0].(*dns.A).A.String())
	}
	m := new(dns.Msg)
	m.SetQuestion(`one\.label.example.test.`, dns.TypeA)
	resp := z.Respond(m)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "empty non-terminal")
	assert.Empty(t, resp.Answer)
}

// netResolver asks srv with the standard library's pure-Go resolver.
func netResolver(srv *resolvertest.Server) *net.Resolver {
	addr := srv.Addr()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// TestRawResults checks that TXT data comes back as its octets and that MX
// and PTR names are filtered as net.Resolver filters them, by comparing
// with net.Resolver asking the same server.
func TestRawResults(t *testing.T) {
	t.Parallel()
	backends, srv := oddBackends(t)
	backends2 := map[string]resolver.Resolver{"net": netResolver(srv)}
	for n, r := range backends {
		backends2[n] = r
	}
	wantTXT := []string{"say \"hi\" café; back\\slash\ttab", "raw café", "\x00nul \xff"}
	wantMX := []*net.MX{{Host: "mx1.example.test.", Pref: 20}, {Host: "192.0.2.25.", Pref: 40}}
	wantPTR := []string{"good.example.test."}
	for bname, r := range backends2 {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			ctx := caseContext(t, noErr)
			txt, err := r.LookupTXT(ctx, "txt.example.test")
			require.NoError(t, err)
			assert.ElementsMatch(t, wantTXT, txt)

			mx, err := r.LookupMX(ctx, "mx.example.test")
			assert.Equal(t, wantMX, mx)
			var de *net.DNSError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "DNS response contained records which contain invalid names", de.Err)
			assert.Equal(t, "mx.example.test", de.Name)
			assert.False(t, de.IsNotFound)

			ptr, err := r.LookupAddr(ctx, "192.0.2.30")
			assert.Equal(t, wantPTR, ptr)
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "DNS response contained records which contain invalid names", de.Err)
			assert.Equal(t, "192.0.2.30", de.Name)

			if bname == "net" {
				return // net refuses the whole message: a label holds a '.'
			}
			mx, err = r.LookupMX(ctx, "mxdot.example.test")
			assert.Equal(t, []*net.MX{{Host: "mx1.example.test.", Pref: 50}}, mx)
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "DNS response contained records which contain invalid names", de.Err)
		})
	}
}

// TestCanonicalNameErrors checks the limits, counted in wire octets so
// that an escape does not count as four.
func TestCanonicalNameErrors(t *testing.T) {
	t.Parallel()
	label63 := strings.Repeat("a", 63)
	cases := []struct {
		name  string
		raw   string
		want  error
		octet byte
	}{
		{"empty", "", dnsname.ErrEmpty, 0},
		{"empty label", "a..example", dnsname.ErrEmptyLabel, 0},
		{"empty label with space", "a .. b.example", dnsname.ErrEmptyLabel, 0},
		{"leading dot", ".a.example", dnsname.ErrEmptyLabel, 0},
		{"label 64", strings.Repeat("a", 64) + ".example", dnsname.ErrLabelTooLong, 0},
		{"label 64 with spaces", strings.Repeat(" ", 64) + ".example", dnsname.ErrLabelTooLong, 0},
		{"name 254", strings.Repeat(label63+".", 3) + strings.Repeat("b", 62), dnsname.ErrNameTooLong, 0},
		{"name 254 with spaces", strings.Repeat(label63+".", 3) + strings.Repeat(" ", 62), dnsname.ErrNameTooLong, 0},
		{"bad IDNA", "a\u00a0b.example", dnsname.ErrIDNA, 0},
		{"invalid UTF-8", "caf\xe9.example", nil, 0xe9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := resolver.CanonicalName(tc.raw)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
				return
			}
			var ne *resolver.NameError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, tc.octet, ne.Octet)
		})
	}
	// At the limits, escapes do not count: 253 octets of spaces and dots.
	long := strings.Repeat(strings.Repeat(" ", 63)+".", 3) + strings.Repeat(" ", 61)
	key, err := resolver.CanonicalName(long)
	require.NoError(t, err)
	assert.Equal(t, 3*(2*63+1)+2*61+1, len(key))
	z := new(resolver.Zone)
	require.NoError(t, z.Add(key+" 300 IN A 192.0.2.1\n"))
	a, err := z.Query(context.Background(), long, dns.TypeA)
	require.NoError(t, err)
	assert.Len(t, a.Records, 1)
	var de *dnsname.Error
	_, err = resolver.CanonicalName(long + "x")
	assert.True(t, errors.As(err, &de) && errors.Is(err, dnsname.ErrNameTooLong), "%v", err)
}

// TestZoneStringEscapes checks that a zone holding names that start with
// '$' or hold escapes prints in a form that parses back to the same zone.
func TestZoneStringEscapes(t *testing.T) {
	t.Parallel()
	z, err := resolver.ParseZone(strings.NewReader(oddZone), "example.test.")
	require.NoError(t, err)
	s := z.String()
	assert.Contains(t, s, `\$dollar.example.test.`)
	z2, err := resolver.ParseZone(strings.NewReader(s), ".")
	require.NoError(t, err, s)
	assert.Equal(t, s, z2.String())
}
