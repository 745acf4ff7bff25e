package resolvertest_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

func TestServerBasic(t *testing.T) {
	t.Parallel()
	z, err := resolver.ParseZone(strings.NewReader(`$TTL 300
@   IN SOA ns hostmaster 1 7200 3600 86400 60
@   IN TXT "v=spf1 " "-all"
@   IN MX 20 mx2
@   IN MX 10 mx1
www IN CNAME @
`), "example.test.")
	require.NoError(t, err)
	srv := resolvertest.NewServer(t, z)
	c := srv.Client()
	ctx := context.Background()

	txt, err := c.LookupTXT(ctx, "WWW.example.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"v=spf1 -all"}, txt)

	mx, err := c.LookupMX(ctx, "example.test")
	require.NoError(t, err)
	assert.Equal(t, []*net.MX{{Host: "mx1.example.test.", Pref: 10}, {Host: "mx2.example.test.", Pref: 20}}, mx)

	_, err = c.LookupTXT(ctx, "nx.example.test")
	assert.True(t, resolver.IsNotFound(err), "%v", err)
	assert.Equal(t, 3, srv.Count())
}

func TestServerWire(t *testing.T) {
	t.Parallel()
	z := new(resolver.Zone)
	require.NoError(t, z.Add("example.test. IN A 192.0.2.1\nexample.test. IN TXT \"hello\""))
	require.NoError(t, z.SetSecure("example.test", true))
	srv := resolvertest.NewServer(t, z)
	assert.Same(t, z, srv.Zone())
	assert.Equal(t, srv.Addr(), srv.AddrPort().String())
	assert.True(t, srv.AddrPort().Addr().IsLoopback())

	cases := []struct {
		name    string
		network string
		qname   string
		do      bool
		rcode   int
		answers int
		ad      bool
	}{
		{"udp secure with DO", "udp", "example.test.", true, dns.RcodeSuccess, 1, true},
		{"tcp secure with DO", "tcp", "example.test.", true, dns.RcodeSuccess, 1, true},
		{"udp without DO has no AD", "udp", "example.test.", false, dns.RcodeSuccess, 1, false},
		{"NXDOMAIN", "udp", "nx.example.test.", true, dns.RcodeNameError, 0, true},
		{"mixed case", "tcp", "ExAmPlE.TeSt.", true, dns.RcodeSuccess, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := new(dns.Msg)
			m.SetQuestion(tc.qname, dns.TypeA)
			if tc.do {
				m.SetEdns0(1232, true)
			}
			c := &dns.Client{Net: tc.network, Timeout: 5 * time.Second}
			r, _, err := c.Exchange(m, srv.Addr())
			require.NoError(t, err)
			assert.Equal(t, tc.rcode, r.Rcode)
			assert.Len(t, r.Answer, tc.answers)
			assert.Equal(t, tc.ad, r.AuthenticatedData)
			assert.True(t, r.RecursionAvailable)
		})
	}
}

func TestServerLatencyAndLog(t *testing.T) {
	t.Parallel()
	z := new(resolver.Zone)
	require.NoError(t, z.Add("example.test. IN A 192.0.2.1"))
	srv := resolvertest.NewServer(t, z)
	srv.SetLatency(150 * time.Millisecond)
	c := srv.Client()
	start := time.Now()
	_, err := c.LookupNetIP(context.Background(), "ip4", "Example.Test")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	srv.SetLatency(0)
	_, err = c.LookupNetIP(context.Background(), "ip6", "example.test")
	assert.True(t, resolver.IsNotFound(err))
	q := srv.Queries()
	require.Len(t, q, 2)
	assert.True(t, q[0].Remote.Addr().IsLoopback())
	q[0].Remote = netip.AddrPort{}
	assert.Equal(t, resolvertest.Query{Name: "example.test.", Type: dns.TypeA, Network: "udp", DO: true}, q[0])
	assert.Equal(t, dns.TypeAAAA, q[1].Type)
	assert.Equal(t, 2, srv.Count())
	srv.ResetLog()
	assert.Empty(t, srv.Queries())
	assert.Zero(t, srv.Count())
}

func TestServerDropAndClose(t *testing.T) {
	t.Parallel()
	z := new(resolver.Zone)
	require.NoError(t, z.Add("example.test. IN A 192.0.2.1"))
	srv, err := resolvertest.Start(z)
	require.NoError(t, err)
	srv.Drop("EXAMPLE.test", true)
	c := srv.Client()
	c.Timeout = 100 * time.Millisecond
	c.Attempts = 1
	_, err = c.LookupNetIP(context.Background(), "ip4", "example.test")
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	assert.True(t, de.IsTimeout)
	assert.True(t, srv.Queries()[0].Dropped)

	// A latency longer than the test does not hold up Close.
	srv.Drop("example.test", false)
	srv.SetLatency(time.Hour)
	go func() { _, _ = c.LookupNetIP(context.Background(), "ip4", "example.test") }()
	require.Eventually(t, func() bool { return srv.Count() == 2 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	srv.Close()
	srv.Close() // idempotent
	assert.Less(t, time.Since(start), 2*time.Second)

	// Closed: nothing answers any more.
	_, err = c.LookupNetIP(context.Background(), "ip4", "example.test")
	assert.Error(t, err)

	// A nil zone serves an empty zone.
	empty, err := resolvertest.Start(nil)
	require.NoError(t, err)
	defer empty.Close()
	_, err = empty.Client().LookupTXT(context.Background(), "example.test")
	assert.True(t, resolver.IsNotFound(err))
}
