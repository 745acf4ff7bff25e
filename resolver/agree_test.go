package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
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

// Compile-time checks: *net.Resolver is a Resolver; Client and Zone are both.
var (
	_ resolver.Resolver = (*net.Resolver)(nil)
	_ resolver.Resolver = (*resolver.Client)(nil)
	_ resolver.Querier  = (*resolver.Client)(nil)
	_ resolver.Resolver = (*resolver.Zone)(nil)
	_ resolver.Querier  = (*resolver.Zone)(nil)
	_ dns.Handler       = (*resolver.Zone)(nil)
)

type resolverQuerier interface {
	resolver.Resolver
	resolver.Querier
}

// testZone loads testdata/example.test.zone and marks its failures and
// secure names.
func testZone(t testing.TB) *resolver.Zone {
	t.Helper()
	f, err := os.Open("testdata/example.test.zone")
	require.NoError(t, err)
	defer f.Close()
	z, err := resolver.ParseZone(f, "example.test.")
	require.NoError(t, err)
	require.NoError(t, z.SetFailure("fail.example.test", 0, resolver.FailServFail))
	require.NoError(t, z.SetFailure("slow.example.test", 0, resolver.FailTimeout))
	require.NoError(t, z.SetFailure("mx2.example.test", dns.TypeAAAA, resolver.FailRefused))
	require.NoError(t, z.SetSecure("example.test", true))
	require.NoError(t, z.SetSecure("wild.example.test", false))
	return z
}

// caseContext returns the context for one case: FailTimeout names are
// dropped by the server, so those cases get a short deadline, which the
// Client reports as a timeout.
func caseContext(t *testing.T, want errKind) context.Context {
	d := 10 * time.Second
	if want == timeout {
		d = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// backends returns the two ways of answering from testZone: the Zone itself,
// and a Client talking to a resolvertest.Server serving it.
func backends(t *testing.T) map[string]resolverQuerier {
	z := testZone(t)
	srv := resolvertest.NewServer(t, z)
	c := srv.Client()
	c.Timeout = 5 * time.Second // generous: the machine may be loaded
	return map[string]resolverQuerier{"zone": z, "wire": c}
}

type errKind int

const (
	noErr errKind = iota
	notFound
	temporary // IsTemporary, not a timeout
	timeout
)

func (k errKind) String() string {
	return [...]string{"no error", "not found", "temporary", "timeout"}[k]
}

// checkErr asserts that err is a *net.DNSError of the given kind for name.
func checkErr(t *testing.T, err error, want errKind, name string) {
	t.Helper()
	if want == noErr {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	var de *net.DNSError
	require.True(t, errors.As(err, &de), "error %T %v is not a *net.DNSError", err, err)
	assert.Equal(t, name, de.Name, "DNSError.Name")
	switch want {
	case notFound:
		assert.True(t, de.IsNotFound, "IsNotFound: %v", err)
		assert.False(t, de.IsTimeout || de.IsTemporary, "timeout/temporary: %v", err)
		assert.True(t, resolver.IsNotFound(err))
		assert.False(t, resolver.IsTemporary(err))
		assert.Equal(t, "no such host", de.Err)
	case temporary:
		assert.False(t, de.IsNotFound, "IsNotFound: %v", err)
		assert.False(t, de.IsTimeout, "IsTimeout: %v", err)
		assert.True(t, de.IsTemporary, "IsTemporary: %v", err)
		assert.True(t, resolver.IsTemporary(err))
	case timeout:
		assert.True(t, de.IsTimeout, "IsTimeout: %v", err)
		assert.True(t, de.IsTemporary, "IsTemporary: %v", err)
		assert.False(t, de.IsNotFound)
		assert.True(t, resolver.IsTemporary(err))
	}
}

func TestLookupAgree(t *testing.T) {
	t.Parallel()
	type lookupCase struct {
		name    string
		lookup  func(ctx context.Context, r resolver.Resolver) (any, error)
		errName string // DNSError.Name expected
		want    any
		wantErr errKind
	}
	txt := func(n string) func(context.Context, resolver.Resolver) (any, error) {
		return func(ctx context.Context, r resolver.Resolver) (any, error) { return r.LookupTXT(ctx, n) }
	}
	mx := func(n string) func(context.Context, resolver.Resolver) (any, error) {
		return func(ctx context.Context, r resolver.Resolver) (any, error) { return r.LookupMX(ctx, n) }
	}
	ip := func(network, n string) func(context.Context, resolver.Resolver) (any, error) {
		return func(ctx context.Context, r resolver.Resolver) (any, error) { return r.LookupNetIP(ctx, network, n) }
	}
	ptr := func(a string) func(context.Context, resolver.Resolver) (any, error) {
		return func(ctx context.Context, r resolver.Resolver) (any, error) { return r.LookupAddr(ctx, a) }
	}
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	cases := []lookupCase{
		{name: "A", lookup: ip("ip4", "example.test"), want: addrs("192.0.2.1")},
		{name: "AAAA", lookup: ip("ip6", "example.test."), want: addrs("2001:db8::1")},
		{name: "ip both families", lookup: ip("ip", "mx1.example.test"), want: addrs("192.0.2.10", "2001:db8::10")},
		{name: "ip one family", lookup: ip("ip", "ns1.example.test"), want: addrs("192.0.2.53")},
		{name: "ip literal", lookup: ip("ip", "192.0.2.200"), want: addrs("192.0.2.200")},
		{name: "TXT multi-string and several records", lookup: txt("example.test"),
			want: []string{"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", "google-site-verification=abc123"}},
		{name: "TXT three strings", lookup: txt("multi.example.test"), want: []string{"onetwothree"}},
		{name: "TXT underscore name", lookup: txt("_dmarc.example.test"), want: []string{"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"}},
		{name: "TXT case-insensitive", lookup: txt("MULTI.Example.TEST."), want: []string{"onetwothree"}},
		{name: "MX sorted by preference, absolute", lookup: mx("example.test"), want: []*net.MX{
			{Host: "mx1.example.test.", Pref: 10}, {Host: "mx2.example.test.", Pref: 20}, {Host: "backup.example.net.", Pref: 30}}},
		{name: "PTR IPv4", lookup: ptr("192.0.2.10"), want: []string{"mx1.example.test.", "mail.example.test."}},
		{name: "PTR IPv6", lookup: ptr("2001:db8::1"), want: []string{"example.test."}},
		{name: "PTR IPv4-mapped", lookup: ptr("::ffff:192.0.2.1"), want: []string{"example.test."}},
		{name: "PTR missing", lookup: ptr("192.0.2.99"), errName: "192.0.2.99", wantErr: notFound},
		{name: "PTR not an address", lookup: ptr("not-an-ip"), errName: "not-an-ip", wantErr: temporary + 10},
		{name: "CNAME chain", lookup: ip("ip4", "alias.example.test"), want: addrs("192.0.2.1")},
		{name: "CNAME chain TXT", lookup: txt("www.example.test"),
			want: []string{"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", "google-site-verification=abc123"}},
		{name: "CNAME loop", lookup: txt("loop1.example.test"), errName: "loop1.example.test", wantErr: temporary},
		{name: "CNAME to NXDOMAIN", lookup: txt("dangling.example.test"), errName: "dangling.example.test", wantErr: notFound},
		{name: "NXDOMAIN", lookup: txt("nx.example.test"), errName: "nx.example.test", wantErr: notFound},
		{name: "NXDOMAIN outside zone", lookup: mx("example.invalid"), errName: "example.invalid", wantErr: notFound},
		{name: "NODATA", lookup: txt("mx1.example.test"), errName: "mx1.example.test", wantErr: notFound},
		{name: "MX through CNAME", lookup: mx("www.example.test"), want: []*net.MX{
			{Host: "mx1.example.test.", Pref: 10}, {Host: "mx2.example.test.", Pref: 20}, {Host: "backup.example.net.", Pref: 30}}},
		{name: "NODATA empty non-terminal", lookup: ip("ip4", "b.c.example.test"), errName: "b.c.example.test", wantErr: notFound},
		{name: "NODATA ip6 only v4", lookup: ip("ip6", "ns1.example.test"), errName: "ns1.example.test", wantErr: notFound},
		{name: "SERVFAIL", lookup: txt("fail.example.test"), errName: "fail.example.test", wantErr: temporary},
		{name: "SERVFAIL ip", lookup: ip("ip", "fail.example.test"), errName: "fail.example.test", wantErr: temporary},
		{name: "REFUSED one type", lookup: ip("ip6", "mx2.example.test"), errName: "mx2.example.test", wantErr: temporary + 10},
		{name: "REFUSED type not injected", lookup: ip("ip4", "mx2.example.test"), want: addrs("192.0.2.11")},
		{name: "timeout", lookup: txt("slow.example.test"), errName: "slow.example.test", wantErr: timeout},
		{name: "timeout ip", lookup: ip("ip", "slow.example.test"), errName: "slow.example.test", wantErr: timeout},
		{name: "wildcard A", lookup: ip("ip4", "host.wild.example.test"), want: addrs("192.0.2.99")},
		{name: "wildcard TXT deep", lookup: txt("a.b.wild.example.test"), want: []string{"wildcard"}},
		{name: "wildcard blocked by existing name", lookup: txt("exists.wild.example.test"), errName: "exists.wild.example.test", wantErr: notFound},
		{name: "wildcard owner itself", lookup: ip("ip4", "*.wild.example.test"), want: addrs("192.0.2.99")},
		{name: "IDN U-label", lookup: ip("ip4", "bücher.example.test"), want: addrs("192.0.2.20")},
		{name: "IDN A-label", lookup: ip("ip4", "xn--bcher-kva.example.test"), want: addrs("192.0.2.20")},
		{name: "invalid name", lookup: txt("a..example.test"), errName: "a..example.test", wantErr: notFound},
		{name: "name too long", lookup: txt(strings.Repeat("a.", 130) + "test"), errName: strings.Repeat("a.", 130) + "test", wantErr: notFound},
	}
	for bname, r := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					got, err := tc.lookup(caseContext(t, tc.wantErr), r)
					switch tc.wantErr {
					case noErr:
						require.NoError(t, err)
						assert.Equal(t, tc.want, got)
					case temporary + 10: // not found false, not temporary by flag: net's "misbehaving"/"unrecognized"
						require.Error(t, err)
						var de *net.DNSError
						require.ErrorAs(t, err, &de)
						assert.Equal(t, tc.errName, de.Name)
						assert.False(t, de.IsNotFound)
						assert.True(t, resolver.IsTemporary(err))
					default:
						checkErr(t, err, tc.wantErr, tc.errName)
					}
				})
			}
		})
	}
}

func TestQueryAgree(t *testing.T) {
	t.Parallel()
	type queryCase struct {
		name      string
		qname     string
		qtype     uint16
		wantErr   errKind
		rcode     int
		records   []string // rr.String() of Records
		cnames    int
		authentic bool
		cause     error // errors.Is on the error
	}
	cases := []queryCase{
		{name: "A secure", qname: "example.test", qtype: dns.TypeA, records: []string{"example.test.\t3600\tIN\tA\t192.0.2.1"}, authentic: true},
		{name: "TXT multi-string", qname: "multi.example.test", qtype: dns.TypeTXT,
			records: []string{"multi.example.test.\t3600\tIN\tTXT\t\"one\" \"two\" \"three\""}, authentic: true},
		{name: "TLSA", qname: "_25._tcp.mx1.example.test", qtype: dns.TypeTLSA,
			records: []string{"_25._tcp.mx1.example.test.\t3600\tIN\tTLSA\t3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, authentic: true},
		{name: "CNAME chain", qname: "alias.example.test", qtype: dns.TypeA,
			records: []string{"example.test.\t3600\tIN\tA\t192.0.2.1"}, cnames: 2, authentic: true},
		{name: "CNAME asked", qname: "alias.example.test", qtype: dns.TypeCNAME,
			records: []string{"alias.example.test.\t3600\tIN\tCNAME\twww.example.test."}, authentic: true},
		{name: "CNAME loop", qname: "loop1.example.test", qtype: dns.TypeA, wantErr: temporary, cause: resolver.ErrCNAMELoop},
		{name: "CNAME dangling", qname: "dangling.example.test", qtype: dns.TypeA, rcode: dns.RcodeNameError, cnames: 1, authentic: true},
		{name: "NXDOMAIN", qname: "nx.example.test", qtype: dns.TypeA, rcode: dns.RcodeNameError, authentic: true},
		{name: "NODATA", qname: "mx1.example.test", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, authentic: true},
		{name: "NODATA ENT", qname: "c.example.test", qtype: dns.TypeA, rcode: dns.RcodeSuccess, authentic: true},
		{name: "SERVFAIL", qname: "fail.example.test", qtype: dns.TypeA, rcode: dns.RcodeServerFailure},
		{name: "REFUSED", qname: "mx2.example.test", qtype: dns.TypeAAAA, rcode: dns.RcodeRefused},
		{name: "timeout", qname: "slow.example.test", qtype: dns.TypeA, wantErr: timeout},
		{name: "wildcard insecure", qname: "x.wild.example.test", qtype: dns.TypeA,
			records: []string{"x.wild.example.test.\t3600\tIN\tA\t192.0.2.99"}},
		{name: "insecure outside marks", qname: "1.2.0.192.in-addr.arpa", qtype: dns.TypePTR,
			records: []string{"1.2.0.192.in-addr.arpa.\t3600\tIN\tPTR\texample.test."}},
		{name: "IDN", qname: "BÜCHER.example.test", qtype: dns.TypeA,
			records: []string{"xn--bcher-kva.example.test.\t3600\tIN\tA\t192.0.2.20"}, authentic: true},
		{name: "invalid name", qname: "bad..example.test", qtype: dns.TypeA, wantErr: notFound, cause: dnsname.ErrEmptyLabel},
	}
	for bname, r := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					a, err := r.Query(caseContext(t, tc.wantErr), tc.qname, tc.qtype)
					if tc.wantErr != noErr {
						checkErr(t, err, tc.wantErr, tc.qname)
						assert.Nil(t, a)
						if tc.cause != nil {
							assert.ErrorIs(t, err, tc.cause)
						}
						return
					}
					require.NoError(t, err)
					want, _ := dnsname.Normalize(tc.qname)
					assert.Equal(t, want+".", a.Name)
					assert.Equal(t, tc.rcode, a.Rcode, "rcode")
					var got []string
					for _, rr := range a.Records {
						got = append(got, rr.String())
					}
					assert.Equal(t, tc.records, got)
					assert.Len(t, a.CNAMEs, tc.cnames)
					assert.Equal(t, tc.authentic, a.Authentic, "Authentic")
					assert.Equal(t, tc.rcode == dns.RcodeNameError, a.NXDomain())
					assert.Equal(t, tc.rcode == dns.RcodeSuccess && len(tc.records) == 0, a.NoData())
				})
			}
		})
	}
}

// TestErrorCauses checks the UnwrapErr causes, the same on both paths.
func TestErrorCauses(t *testing.T) {
	t.Parallel()
	for bname, r := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, err := r.LookupTXT(ctx, "mx1.example.test")
			assert.ErrorIs(t, err, resolver.ErrNoData)
			_, err = r.LookupTXT(ctx, "nx.example.test")
			var rc *resolver.RcodeError
			require.ErrorAs(t, err, &rc)
			assert.Equal(t, dns.RcodeNameError, rc.Rcode)
			assert.Equal(t, "resolver: server answered NXDOMAIN", rc.Error())
			_, err = r.LookupTXT(ctx, "fail.example.test")
			require.ErrorAs(t, err, &rc)
			assert.Equal(t, dns.RcodeServerFailure, rc.Rcode)
			_, err = r.LookupTXT(ctx, "loop1.example.test")
			assert.ErrorIs(t, err, resolver.ErrCNAMELoop)
			assert.Contains(t, err.Error(), "CNAME loop")
			_, err = r.LookupAddr(ctx, "192.0.2")
			assert.ErrorIs(t, err, resolver.ErrUnknownAddress)
			_, err = r.LookupNetIP(ctx, "tcp", "example.test")
			var une net.UnknownNetworkError
			assert.ErrorAs(t, err, &une)
			_, err = r.LookupTXT(ctx, "a\x80b.example.test")
			var ne *resolver.NameError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, byte(0x80), ne.Octet)
			assert.True(t, resolver.IsNotFound(err))
		})
	}
}

// TestCNAMEChainBound builds chains just under and just over MaxCNAMEChain.
func TestCNAMEChainBound(t *testing.T) {
	t.Parallel()
	z := new(resolver.Zone)
	var b strings.Builder
	for i := range resolver.MaxCNAMEChain + 1 {
		fmt.Fprintf(&b, "c%d.example.test. IN CNAME c%d.example.test.\n", i, i+1)
	}
	fmt.Fprintf(&b, "c%d.example.test. IN A 192.0.2.1\n", resolver.MaxCNAMEChain+1)
	require.NoError(t, z.Add(b.String()))
	srv := resolvertest.NewServer(t, z)
	for bname, r := range map[string]resolverQuerier{"zone": z, "wire": srv.Client()} {
		t.Run(bname, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// From c1 the chain has MaxCNAMEChain CNAMEs: followed.
			a, err := r.Query(ctx, "c1.example.test", dns.TypeA)
			require.NoError(t, err)
			assert.Len(t, a.CNAMEs, resolver.MaxCNAMEChain)
			assert.Len(t, a.Records, 1)
			// From c0 it has one more: refused as temporary.
			_, err = r.Query(ctx, "c0.example.test", dns.TypeA)
			checkErr(t, err, temporary, "c0.example.test")
			assert.ErrorIs(t, err, resolver.ErrCNAMEChain)
		})
	}
}
