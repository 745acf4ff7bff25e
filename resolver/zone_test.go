package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
)

func TestParseZoneRealistic(t *testing.T) {
	t.Parallel()
	z := testZone(t)
	ctx := context.Background()
	count := 0
	for _, line := range strings.Split(z.String(), "\n") {
		if line != "" {
			count++
		}
	}
	assert.Equal(t, 36, count, "records in testdata/example.test.zone")

	// SOA across parentheses, with comments.
	a, err := z.Query(ctx, "example.test", dns.TypeSOA)
	require.NoError(t, err)
	require.Len(t, a.Records, 1)
	soa := a.Records[0].(*dns.SOA)
	assert.Equal(t, uint32(2024010101), soa.Serial)
	assert.Equal(t, uint32(300), soa.Minttl)
	assert.Equal(t, "hostmaster.example.test.", soa.Mbox)

	// $TTL applies, an explicit TTL wins.
	a, err = z.Query(ctx, "mx1.example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, uint32(3600), a.Records[0].Header().Ttl)
	a, err = z.Query(ctx, "mx2.example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, uint32(300), a.Records[0].Header().Ttl)

	// Relative names completed with $ORIGIN, absolute ones kept; a second
	// $ORIGIN changes the origin.
	ns, err := z.Query(ctx, "example.test", dns.TypeNS)
	require.NoError(t, err)
	var hosts []string
	for _, rr := range ns.Records {
		hosts = append(hosts, rr.(*dns.NS).Ns)
	}
	assert.ElementsMatch(t, []string{"ns1.example.test.", "ns2.example.net."}, hosts)
	names, err := z.LookupAddr(ctx, "192.0.2.1")
	require.NoError(t, err)
	assert.Equal(t, []string{"example.test."}, names)

	// Multi-string TXT keeps its strings in Query and joins them in
	// LookupTXT.
	a, err = z.Query(ctx, "multi.example.test", dns.TypeTXT)
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "two", "three"}, a.Records[0].(*dns.TXT).Txt)

	// The text form parses back to the same zone.
	z2, err := resolver.ParseZone(strings.NewReader(z.String()), ".")
	require.NoError(t, err)
	assert.Equal(t, z.String(), z2.String())
}

func TestParseZoneErrorLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		line int
	}{
		{"bad type", "$TTL 60\n@ IN A 192.0.2.1\nwww IN BOGUS x\n", 3},
		{"bad address", "$ORIGIN example.test.\n\n\n@ IN A 192.0.2.300\n", 4},
		{"bad TTL directive", "$TTL sixty\n@ IN A 192.0.2.1\n", 1},
		{"unterminated string", "@ IN TXT \"v=spf1\n@ IN A 192.0.2.1\n", 1},
		{"include refused", "@ IN A 192.0.2.1\n$INCLUDE /etc/passwd\n", 2},
		{"bad MX preference", "@ IN A 192.0.2.1\n@ IN MX ten mx\n", 2},
		{"unbalanced parenthesis", "@ IN SOA ns host ( 1 2 3 4 5\n@ IN A 192.0.2.1\n", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			z, err := resolver.ParseZone(strings.NewReader(tc.text), "example.test.")
			require.Error(t, err)
			assert.Nil(t, z)
			var ze *resolver.ZoneError
			require.ErrorAs(t, err, &ze)
			assert.Equal(t, tc.line, ze.Line)
			assert.Contains(t, err.Error(), fmt.Sprintf("line %d", tc.line))
			var pe *dns.ParseError
			assert.ErrorAs(t, err, &pe, "the parser's error is kept")
		})
	}
}

func TestZoneAdd(t *testing.T) {
	t.Parallel()
	var z resolver.Zone // the zero value is an empty zone rooted at "."
	ctx := context.Background()
	_, err := z.LookupTXT(ctx, "example.test")
	checkErr(t, err, notFound, "example.test")

	require.NoError(t, z.Add(`example.test. 300 IN TXT "v=spf1 " "-all"
example.test. IN MX 10 mx.example.test.
$ORIGIN example.test.
mx IN A 192.0.2.25`))
	txt, err := z.LookupTXT(ctx, "example.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"v=spf1 -all"}, txt)
	ips, err := z.LookupNetIP(ctx, "ip4", "mx.example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.25")}, ips)

	// Duplicates are not stored twice (RFC 2181 §5).
	require.NoError(t, z.Add(`example.test. 60 IN TXT "v=spf1 " "-all"`))
	txt, err = z.LookupTXT(ctx, "example.test")
	require.NoError(t, err)
	assert.Len(t, txt, 1)

	// AddRR copies the record.
	rr, err := dns.NewRR("extra.example.test. IN A 192.0.2.26")
	require.NoError(t, err)
	require.NoError(t, z.AddRR(rr))
	rr.(*dns.A).A = net.IPv4(192, 0, 2, 99)
	ips, err = z.LookupNetIP(ctx, "ip4", "extra.example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.26")}, ips)

	// Answers are copies too.
	a, err := z.Query(ctx, "extra.example.test", dns.TypeA)
	require.NoError(t, err)
	a.Records[0].(*dns.A).A = net.IPv4(192, 0, 2, 98)
	ips, err = z.LookupNetIP(ctx, "ip4", "extra.example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.26")}, ips)

	// Remove: the name stays, as NODATA.
	assert.Equal(t, 1, z.Remove("EXTRA.example.test.", dns.TypeA))
	assert.Equal(t, 0, z.Remove("extra.example.test", dns.TypeA))
	a, err = z.Query(ctx, "extra.example.test", dns.TypeA)
	require.NoError(t, err)
	assert.True(t, a.NoData())
	assert.Equal(t, 2, z.Remove("example.test", 0))
}

func TestZoneAddRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		err  error
	}{
		{"CNAME next to A", "www.example.test. IN A 192.0.2.1\nwww.example.test. IN CNAME example.test.", resolver.ErrCNAMEAndOtherData},
		{"A next to CNAME", "www.example.test. IN CNAME example.test.\nwww.example.test. IN TXT \"x\"", resolver.ErrCNAMEAndOtherData},
		{"two CNAMEs", "www.example.test. IN CNAME a.example.test.\nwww.example.test. IN CNAME b.example.test.", resolver.ErrCNAMEAndOtherData},
		{"class CH", "version.bind. CH TXT \"x\"", resolver.ErrRecordClass},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			z := new(resolver.Zone)
			err := z.Add(tc.text)
			require.ErrorIs(t, err, tc.err)
			var ze *resolver.ZoneError
			require.ErrorAs(t, err, &ze)
			assert.NotEmpty(t, ze.Name)
			assert.Empty(t, z.String(), "nothing added on error")
		})
	}
	// CNAME and its RRSIG may coexist (RFC 4035 §2.5).
	z := new(resolver.Zone)
	require.NoError(t, z.Add("www.example.test. IN CNAME example.test.\n"+
		"www.example.test. IN RRSIG CNAME 13 3 3600 20300101000000 20200101000000 12345 example.test. AAAA"))
}

func TestZoneFailures(t *testing.T) {
	t.Parallel()
	z := testZone(t)
	ctx := context.Background()

	// A FailTimeout name returns at once, and a done context wins.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := z.Query(cctx, "slow.example.test", dns.TypeA)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = z.Query(ctx, "slow.example.test", dns.TypeA)
	checkErr(t, err, timeout, "slow.example.test")

	// A failure applies when reached through a CNAME.
	require.NoError(t, z.Add("via-cname.example.test. IN CNAME fail.example.test."))
	a, err := z.Query(ctx, "via-cname.example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeServerFailure, a.Rcode)

	// A type-specific failure wins over one for every type; FailNone clears.
	require.NoError(t, z.SetFailure("ns1.example.test", 0, resolver.FailServFail))
	require.NoError(t, z.SetFailure("ns1.example.test", dns.TypeA, resolver.FailTimeout))
	_, err = z.Query(ctx, "ns1.example.test", dns.TypeA)
	checkErr(t, err, timeout, "ns1.example.test")
	a, err = z.Query(ctx, "ns1.example.test", dns.TypeTXT)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeServerFailure, a.Rcode)
	require.NoError(t, z.SetFailure("ns1.example.test", dns.TypeA, resolver.FailNone))
	require.NoError(t, z.SetFailure("ns1.example.test", 0, resolver.FailNone))
	ips, err := z.LookupNetIP(ctx, "ip4", "ns1.example.test")
	require.NoError(t, err)
	assert.Len(t, ips, 1)

	assert.Error(t, z.SetFailure("bad..name", 0, resolver.FailServFail))
	assert.Error(t, z.SetSecure("bad..name", true))
	assert.Equal(t, "SERVFAIL", resolver.FailServFail.String())
	assert.Equal(t, "Failure(9)", resolver.Failure(9).String())
}

func TestZoneRespond(t *testing.T) {
	t.Parallel()
	z := testZone(t)
	query := func(name string, qtype uint16, do bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if do {
			m.SetEdns0(1232, true)
		}
		return m
	}
	cases := []struct {
		name  string
		req   *dns.Msg
		rcode int
		ad    bool
		ans   int
		ns    int // SOA in authority for negative answers
	}{
		{"secure with DO", query("example.test.", dns.TypeA, true), dns.RcodeSuccess, true, 1, 0},
		{"secure without DO", query("example.test.", dns.TypeA, false), dns.RcodeSuccess, false, 1, 0},
		{"NXDOMAIN with SOA", query("nx.example.test.", dns.TypeA, true), dns.RcodeNameError, true, 0, 1},
		{"NODATA with SOA", query("mx1.example.test.", dns.TypeMX, true), dns.RcodeSuccess, true, 0, 1},
		{"NXDOMAIN outside zone", query("nx.example.", dns.TypeA, true), dns.RcodeNameError, false, 0, 0},
		{"CNAME loop sent as found", query("loop1.example.test.", dns.TypeA, true), dns.RcodeSuccess, false, 2, 0},
		{"SERVFAIL", query("fail.example.test.", dns.TypeA, true), dns.RcodeServerFailure, false, 0, 0},
		{"two questions", func() *dns.Msg {
			m := query("example.test.", dns.TypeA, false)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), dns.RcodeFormatError, false, 0, 0},
		{"not a query", func() *dns.Msg { m := query("example.test.", dns.TypeA, false); m.Opcode = dns.OpcodeUpdate; return m }(), dns.RcodeNotImplemented, false, 0, 0},
		{"EDNS version 1", func() *dns.Msg {
			m := query("example.test.", dns.TypeA, true)
			m.IsEdns0().SetVersion(1)
			return m
		}(), dns.RcodeBadVers, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := z.Respond(tc.req)
			require.NotNil(t, m)
			assert.Equal(t, tc.rcode, m.Rcode, dns.RcodeToString[m.Rcode])
			assert.Equal(t, tc.ad, m.AuthenticatedData, "AD")
			assert.True(t, m.Response && m.RecursionAvailable)
			assert.Len(t, m.Answer, tc.ans)
			assert.Len(t, m.Ns, tc.ns)
			assert.Equal(t, tc.req.IsEdns0() != nil, m.IsEdns0() != nil, "EDNS0 echoed")
			_, err := m.Pack()
			assert.NoError(t, err)
		})
	}
	assert.Nil(t, z.Respond(query("slow.example.test.", dns.TypeA, true)), "FailTimeout is dropped")
}

// TestZoneConcurrent changes a zone while it is queried (run with -race).
func TestZoneConcurrent(t *testing.T) {
	t.Parallel()
	z := testZone(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 50 {
				name := fmt.Sprintf("h%d-%d.example.test.", i, j)
				assert.NoError(t, z.Add(name+" IN A 192.0.2.1"))
				assert.NoError(t, z.SetSecure(name, j%2 == 0))
				assert.NoError(t, z.SetFailure(name, dns.TypeTXT, resolver.FailServFail))
				z.Remove(name, dns.TypeAAAA)
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 50 {
				_, _ = z.LookupNetIP(ctx, "ip", fmt.Sprintf("h%d-%d.example.test", i, j))
				_, err := z.LookupTXT(ctx, "example.test")
				assert.NoError(t, err)
				if j%10 == 0 {
					_ = z.String()
				}
			}
		}()
	}
	wg.Wait()
	ips, err := z.LookupNetIP(ctx, "ip4", "h7-49.example.test")
	require.NoError(t, err)
	assert.Len(t, ips, 1)
}

func TestParseZoneOrigin(t *testing.T) {
	t.Parallel()
	z, err := resolver.ParseZone(strings.NewReader("@ IN A 192.0.2.1\nwww IN A 192.0.2.2\n"), "Example.TEST")
	require.NoError(t, err)
	ips, err := z.LookupNetIP(context.Background(), "ip4", "www.example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.2")}, ips)
	// Add uses the origin of ParseZone.
	require.NoError(t, z.Add("mail IN A 192.0.2.3"))
	_, err = z.LookupNetIP(context.Background(), "ip4", "mail.example.test")
	require.NoError(t, err)

	_, err = resolver.ParseZone(strings.NewReader(""), "bad..origin")
	var ze *resolver.ZoneError
	assert.True(t, errors.As(err, &ze))
}

func TestZoneFileOpen(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/example.test.zone")
	require.NoError(t, err)
	defer f.Close()
	_, err = resolver.ParseZone(f, "")
	require.NoError(t, err, "the file sets its own $ORIGIN")
}

func TestParseZoneTooManyRecords(t *testing.T) {
	t.Parallel()
	// Two lines of $GENERATE with 65536 records each: over MaxZoneRecords.
	var b strings.Builder
	for i := range 2 {
		fmt.Fprintf(&b, "$GENERATE 0-65535 h%d-$ A 192.0.2.1\n", i)
	}
	_, err := resolver.ParseZone(strings.NewReader(b.String()), "example.test.")
	assert.ErrorIs(t, err, resolver.ErrTooManyRecords)
}

// TestZoneServeDNS uses the Zone directly as a miekg/dns handler.
func TestZoneServeDNS(t *testing.T) {
	t.Parallel()
	z := testZone(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	up := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: z, NotifyStartedFunc: func() { close(up) }}
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	<-up
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })

	m := new(dns.Msg)
	m.SetQuestion("_dmarc.example.test.", dns.TypeTXT)
	r, err := dns.Exchange(m, pc.LocalAddr().String())
	require.NoError(t, err)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, []string{"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"}, r.Answer[0].(*dns.TXT).Txt)

	// A dropped name gets no answer at all.
	m.SetQuestion("slow.example.test.", dns.TypeA)
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	_, _, err = c.Exchange(m, pc.LocalAddr().String())
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
}

func TestNameError(t *testing.T) {
	t.Parallel()
	_, err := new(resolver.Zone).Query(context.Background(), "a\xffb.example.test", dns.TypeA)
	var ne *resolver.NameError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, `resolver: octet "\xff" not allowed in name "a\xffb.example.test"`, ne.Error())
	assert.True(t, resolver.IsNotFound(err), "like net, an invalid name is not found")
}

// TestZoneManyRecordsOneName checks that many records at one name (a short
// $GENERATE line makes thousands) load in linear time: duplicate and CNAME
// checks must not compare each record with every other.
func TestZoneManyRecordsOneName(t *testing.T) {
	t.Parallel()
	const text = "$GENERATE 1-40000 @ TXT \"r$\"\n$GENERATE 1-40000 @ TXT \"r$\"\n"
	done := make(chan error, 1)
	var z *resolver.Zone
	go func() {
		var err error
		z, err = resolver.ParseZone(strings.NewReader(text), "example.test.")
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("40000 records at one name took over 20s: quadratic checks")
	}
	txt, err := z.LookupTXT(context.Background(), "example.test")
	require.NoError(t, err)
	assert.Len(t, txt, 40000, "the second $GENERATE only repeats the first")

	// Duplicates compare names in data without regard to case, and
	// character-strings with it.
	require.NoError(t, z.Add("x IN TXT \"A\"\nx IN TXT \"a\"\nx IN TXT \"a\"\n"))
	txt, err = z.LookupTXT(context.Background(), "x.example.test")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"A", "a"}, txt)
	require.NoError(t, z.Add("y IN CNAME Target.example.\ny IN CNAME target.EXAMPLE.\n"))
	a, err := z.Query(context.Background(), "y.example.test", dns.TypeCNAME)
	require.NoError(t, err)
	assert.Len(t, a.Records, 1)
	var ze *resolver.ZoneError
	require.ErrorAs(t, z.Add("y IN CNAME other.example.\n"), &ze)
	assert.ErrorIs(t, ze, resolver.ErrCNAMEAndOtherData)
	require.ErrorAs(t, z.Add("y IN A 192.0.2.1\n"), &ze)
	require.NoError(t, z.Add("y IN RRSIG CNAME 8 3 300 20300101000000 20200101000000 1 example.test. AAAA\n"))
}
