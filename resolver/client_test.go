package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

func TestClientTCPFallback(t *testing.T) {
	t.Parallel()
	srv := resolvertest.NewServer(t, testZone(t))
	srv.SetMaxUDPSize(512)
	c := srv.Client()
	txt, err := c.LookupTXT(context.Background(), "big.example.test")
	require.NoError(t, err)
	require.Len(t, txt, 1)
	assert.Len(t, txt[0], 3*len("k=rsa; p=")+600)
	q := srv.Queries()
	require.Len(t, q, 2, "one UDP query, truncated, then one TCP query")
	assert.Equal(t, "udp", q[0].Network)
	assert.Equal(t, "tcp", q[1].Network)
	assert.True(t, q[0].DO && q[1].DO, "EDNS0 DO bit set")

	// A small answer stays on UDP.
	srv.ResetLog()
	_, err = c.LookupTXT(context.Background(), "multi.example.test")
	require.NoError(t, err)
	q = srv.Queries()
	require.Len(t, q, 1)
	assert.Equal(t, "udp", q[0].Network)

	// Without a limit, the EDNS0 size of the query (1232) lets the big
	// answer through on UDP.
	srv.SetMaxUDPSize(0)
	srv.ResetLog()
	_, err = c.LookupTXT(context.Background(), "big.example.test")
	require.NoError(t, err)
	assert.Len(t, srv.Queries(), 1)
}

func TestClientADTrust(t *testing.T) {
	t.Parallel()
	srv := resolvertest.NewServer(t, testZone(t))
	cases := []struct {
		name   string
		client *resolver.Client
		qname  string
		want   bool
	}{
		{"preset client trusts its server", srv.Client(), "secure.example.test", true},
		{"default trusts loopback", &resolver.Client{Servers: []string{srv.Addr()}}, "secure.example.test", true},
		{"untrusted server", &resolver.Client{Servers: []string{srv.Addr()},
			TrustAD: func(netip.AddrPort) bool { return false }}, "secure.example.test", false},
		{"trust only another server", &resolver.Client{Servers: []string{srv.Addr()},
			TrustAD: func(s netip.AddrPort) bool { return s == netip.MustParseAddrPort("192.0.2.53:53") }}, "secure.example.test", false},
		{"trusted but insecure name", srv.Client(), "x.wild.example.test", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := tc.client.Query(context.Background(), tc.qname, dns.TypeA)
			require.NoError(t, err)
			require.Len(t, a.Records, 1)
			assert.Equal(t, tc.want, a.Authentic)
			assert.Equal(t, srv.Addr(), a.Server)
		})
	}
}

func TestClientCancel(t *testing.T) {
	t.Parallel()
	z := testZone(t)
	srv := resolvertest.NewServer(t, z)
	srv.SetLatency(10 * time.Second)
	c := srv.Client()
	c.Timeout = 10 * time.Second

	t.Run("cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.LookupTXT(ctx, "example.test")
			errc <- err
		}()
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		cancel()
		select {
		case err := <-errc:
			assert.Less(t, time.Since(start), 100*time.Millisecond)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.True(t, resolver.IsTemporary(err))
			assert.False(t, resolver.IsNotFound(err))
		case <-time.After(time.Second):
			t.Fatal("lookup did not return after cancel")
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		_, err := c.Query(ctx, "example.test", dns.TypeA)
		assert.Less(t, time.Since(start), 100*time.Millisecond)
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.LookupMX(ctx, "example.test")
		assert.Less(t, time.Since(start), 150*time.Millisecond+350*time.Millisecond)
		checkErr(t, err, timeout, "example.test")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestClientTimeoutAttempts(t *testing.T) {
	t.Parallel()
	srv := resolvertest.NewServer(t, testZone(t))
	srv.Drop("example.test", true)
	c := srv.Client()
	c.Timeout = 50 * time.Millisecond
	c.Attempts = 3
	start := time.Now()
	_, err := c.LookupTXT(context.Background(), "example.test")
	elapsed := time.Since(start)
	checkErr(t, err, timeout, "example.test")
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, srv.Addr(), de.Server)
	var ne net.Error
	require.ErrorAs(t, err, &ne, "UnwrapErr keeps the network error")
	assert.True(t, ne.Timeout())
	// The server may still be reading the last query when the client
	// gives up: wait for it, then check no fourth one came.
	assert.Eventually(t, func() bool { return srv.Count() >= 3 }, 2*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 3, srv.Count(), "Attempts bounds the tries")
	assert.GreaterOrEqual(t, elapsed, 150*time.Millisecond)
	assert.Less(t, elapsed, 3*time.Second)
	q := srv.Queries()
	require.NotEmpty(t, q)
	assert.True(t, q[0].Dropped)

	srv.Drop("example.test", false)
	_, err = c.LookupTXT(context.Background(), "example.test")
	assert.NoError(t, err)
}

func TestClientServerFallback(t *testing.T) {
	t.Parallel()
	// The first server fails every name; the second answers.
	bad := new(resolver.Zone)
	require.NoError(t, bad.SetFailure("example.test", 0, resolver.FailServFail))
	badSrv := resolvertest.NewServer(t, bad)
	good := resolvertest.NewServer(t, testZone(t))
	// A closed UDP port on loopback: the read fails at once (ICMP).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := pc.LocalAddr().String()
	require.NoError(t, pc.Close())

	c := &resolver.Client{Servers: []string{closed, badSrv.Addr(), good.Addr()}, Timeout: time.Second}
	a, err := c.Query(context.Background(), "example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, a.Rcode)
	assert.Equal(t, good.Addr(), a.Server)
	assert.Equal(t, 1, badSrv.Count())

	// Every server fails: the SERVFAIL answer comes back from Query, and
	// the net-style method says temporary.
	c = &resolver.Client{Servers: []string{badSrv.Addr()}, Attempts: 2}
	a, err = c.Query(context.Background(), "example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeServerFailure, a.Rcode)
	assert.False(t, a.Authentic)
	_, err = c.LookupTXT(context.Background(), "example.test")
	checkErr(t, err, temporary, "example.test")
	var rc *resolver.RcodeError
	require.ErrorAs(t, err, &rc)
	assert.Equal(t, dns.RcodeServerFailure, rc.Rcode)
}

func TestClientNoServers(t *testing.T) {
	t.Parallel()
	c := &resolver.Client{Servers: []string{"dns.example.test", "not an address"}}
	_, err := c.LookupTXT(context.Background(), "example.test")
	require.Error(t, err)
	assert.ErrorIs(t, err, resolver.ErrNoServers)
	assert.True(t, resolver.IsTemporary(err))
}

// TestClientIgnoresForgedResponses answers each query first with responses
// that must be ignored (wrong ID, wrong question, not a response, garbage),
// then with the right one.
func TestClientIgnoresForgedResponses(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			reply := func(mut func(m *dns.Msg)) {
				m := new(dns.Msg)
				m.SetReply(req)
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 66)}}
				mut(m)
				b, _ := m.Pack()
				_, _ = pc.WriteTo(b, from)
			}
			reply(func(m *dns.Msg) { m.Id++ })
			reply(func(m *dns.Msg) {
				m.Question[0].Name = "other.example.test."
				m.Answer[0].Header().Name = "other.example.test."
			})
			reply(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA })
			reply(func(m *dns.Msg) { m.Response = false })
			_, _ = pc.WriteTo([]byte{0xde, 0xad}, from)
			reply(func(m *dns.Msg) { m.Answer[0].(*dns.A).A = net.IPv4(192, 0, 2, 1) })
		}
	}()
	c := &resolver.Client{Servers: []string{pc.LocalAddr().String()}, Timeout: 2 * time.Second}
	got, err := c.LookupNetIP(context.Background(), "ip4", "example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, got)
}

// TestClientConcurrent runs 200 lookups at once through one Client (run it
// with -race) and checks that no goroutine is left behind.
func TestClientConcurrent(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	srv := resolvertest.NewServer(t, testZone(t))
	srv.SetLatency(time.Millisecond)
	c := srv.Client()
	c.Timeout = 5 * time.Second // generous: the machine may be loaded
	c.Cache = &resolver.MemoryCache{}
	before := runtime.NumGoroutine()

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			switch i % 5 {
			case 0:
				var txt []string
				txt, err = c.LookupTXT(ctx, "multi.example.test")
				if err == nil && (len(txt) != 1 || txt[0] != "onetwothree") {
					err = fmt.Errorf("TXT %q", txt)
				}
			case 1:
				var mx []*net.MX
				mx, err = c.LookupMX(ctx, "example.test")
				if err == nil && (len(mx) != 3 || mx[0].Pref != 10) {
					err = fmt.Errorf("MX %v", mx)
				}
			case 2:
				var ips []netip.Addr
				ips, err = c.LookupNetIP(ctx, "ip", fmt.Sprintf("h%d.wild.example.test", i))
				if err == nil && (len(ips) != 1 || ips[0] != netip.MustParseAddr("192.0.2.99")) {
					err = fmt.Errorf("IP %v", ips)
				}
			case 3:
				_, err = c.LookupTXT(ctx, fmt.Sprintf("nx%d.example.test", i))
				if resolver.IsNotFound(err) {
					err = nil
				} else {
					err = fmt.Errorf("want not found, got %v", err)
				}
			case 4:
				var names []string
				names, err = c.LookupAddr(ctx, "2001:db8::1")
				if err == nil && (len(names) != 1 || names[0] != "example.test.") {
					err = fmt.Errorf("PTR %v", names)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	// Goroutines of the lookups must all be gone (allow the runtime a
	// moment to reap them).
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left behind")
}

func TestClientCache(t *testing.T) {
	t.Parallel()
	srv := resolvertest.NewServer(t, testZone(t))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	cache := &resolver.MemoryCache{Now: clock}
	c := srv.Client()
	c.Cache = cache
	c.Now = clock
	ctx := context.Background()

	// mx2 has TTL 300.
	for range 3 {
		ips, err := c.LookupNetIP(ctx, "ip4", "mx2.example.test")
		require.NoError(t, err)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.11")}, ips)
	}
	assert.Equal(t, 1, srv.Count(), "answered from the cache")

	advance(200 * time.Second)
	a, err := c.Query(ctx, "mx2.example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Count())
	assert.Equal(t, uint32(100), a.Records[0].Header().Ttl, "TTL lowered by time in the cache")
	assert.Equal(t, srv.Addr(), a.Server)
	assert.True(t, a.Authentic, "AD kept for a trusted server")

	advance(101 * time.Second)
	_, err = c.Query(ctx, "mx2.example.test", dns.TypeA)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Count(), "expired after the TTL")

	// Negative answers are cached for the SOA minimum (300 s, RFC 2308 §5).
	_, err = c.LookupTXT(ctx, "nx.example.test")
	require.True(t, resolver.IsNotFound(err))
	_, err = c.LookupTXT(ctx, "NX.example.test")
	require.True(t, resolver.IsNotFound(err))
	assert.Equal(t, 3, srv.Count())

	// SERVFAIL is not cached.
	for range 2 {
		_, err = c.LookupTXT(ctx, "fail.example.test")
		require.True(t, resolver.IsTemporary(err))
	}
	assert.Equal(t, 3+2*2, srv.Count(), "each SERVFAIL lookup asks again (two attempts)")
}

func TestMemoryCacheBounds(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	mc := &resolver.MemoryCache{MaxEntries: 3, MaxTTL: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	for i := range 5 {
		mc.Put(ctx, fmt.Sprint(i), []byte{byte(i)}, time.Hour)
	}
	assert.Equal(t, 3, mc.Len())
	_, ok := mc.Get(ctx, "0")
	assert.False(t, ok, "least recently used evicted")
	v, ok := mc.Get(ctx, "4")
	assert.True(t, ok)
	assert.Equal(t, []byte{4}, v)
	now = now.Add(time.Minute)
	_, ok = mc.Get(ctx, "4")
	assert.False(t, ok, "MaxTTL caps the TTL")
	mc.Put(ctx, "z", []byte{1}, 0)
	_, ok = mc.Get(ctx, "z")
	assert.False(t, ok, "TTL 0 is not stored")

	var zero resolver.MemoryCache
	zero.Put(ctx, "k", []byte("v"), time.Second)
	v, ok = zero.Get(ctx, "k")
	assert.True(t, ok)
	assert.Equal(t, []byte("v"), v)
}

func TestReverseName(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"192.0.2.1", "1.2.0.192.in-addr.arpa."},
		{"10.0.0.255", "255.0.0.10.in-addr.arpa."},
		{"::ffff:192.0.2.1", "1.2.0.192.in-addr.arpa."},
		{"2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
		{"fe80::1%eth0", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa."},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := resolver.ReverseName(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			want, err := dns.ReverseAddr(strings.Split(tc.in, "%")[0])
			require.NoError(t, err)
			assert.Equal(t, want, got, "agrees with miekg/dns")
			assert.Equal(t, tc.want, resolver.ReverseAddr(netip.MustParseAddr(tc.in)))
		})
	}
	_, err := resolver.ReverseName("192.0.2")
	assert.True(t, errors.Is(err, resolver.ErrUnknownAddress))
}

// TestClientZeroValue uses the zero Client (servers from /etc/resolv.conf)
// without touching the network: the context is already cancelled.
func TestClientZeroValue(t *testing.T) {
	t.Parallel()
	var c resolver.Client
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := c.LookupTXT(ctx, "example.test")
	assert.Less(t, time.Since(start), 100*time.Millisecond)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	assert.NotEmpty(t, de.Server, "a server was chosen from resolv.conf or the default")
}

// TestClientSocketReuse checks that UDP sockets to a loopback server are
// reused, and that a failed exchange does not put its socket back.
func TestClientSocketReuse(t *testing.T) {
	t.Parallel()
	srv := resolvertest.NewServer(t, testZone(t))
	c := srv.Client()
	ctx := context.Background()
	for range 3 {
		_, err := c.LookupTXT(ctx, "example.test")
		require.NoError(t, err)
	}
	q := srv.Queries()
	require.Len(t, q, 3)
	assert.Equal(t, q[0].Remote, q[1].Remote, "socket kept")
	assert.Equal(t, q[0].Remote, q[2].Remote, "socket kept")

	// A timed-out exchange closes its socket: a late answer cannot be
	// read by a later query.
	srv.ResetLog()
	srv.Drop("multi.example.test", true)
	c2 := srv.Client()
	c2.Timeout, c2.Attempts = 50*time.Millisecond, 1
	_, err := c2.LookupTXT(ctx, "example.test")
	require.NoError(t, err)
	_, err = c2.LookupTXT(ctx, "multi.example.test")
	require.Error(t, err)
	_, err = c2.LookupTXT(ctx, "example.test")
	require.NoError(t, err)
	q = srv.Queries()
	require.Len(t, q, 3)
	assert.Equal(t, q[0].Remote, q[1].Remote, "the kept socket was used for the dropped query")
	assert.NotEqual(t, q[1].Remote, q[2].Remote, "and then not kept")

	c.CloseIdleConnections()
	_, err = c.LookupTXT(ctx, "example.test")
	require.NoError(t, err, "usable after CloseIdleConnections")

	// A kept socket whose server went away fails over to a fresh one,
	// then reports the error.
	gone := resolvertest.NewServer(t, testZone(t))
	c3 := gone.Client()
	c3.Attempts = 1
	_, err = c3.LookupTXT(ctx, "example.test")
	require.NoError(t, err)
	gone.Close()
	start := time.Now()
	_, err = c3.LookupTXT(ctx, "example.test")
	require.Error(t, err)
	assert.True(t, resolver.IsTemporary(err))
	assert.Less(t, time.Since(start), 900*time.Millisecond, "connection refused, not a timeout")
}

// TestClientMalformedTCP answers UDP with TC set and TCP with a response
// that does not match the query: the Client must give up on that server
// with a malformed-response error, not accept the answer.
func TestClientMalformedTCP(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("TCP port taken: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { pc.Close(); ln.Close(); wg.Wait() })
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			m := new(dns.Msg)
			m.SetReply(req)
			m.Truncated = true
			b, _ := m.Pack()
			_, _ = pc.WriteTo(b, from)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				dc := &dns.Conn{Conn: conn}
				req, err := dc.ReadMsg()
				if err != nil {
					return
				}
				m := new(dns.Msg)
				m.SetReply(req)
				m.Id++ // not the query's ID
				_ = dc.WriteMsg(m)
			}()
		}
	}()
	c := &resolver.Client{Servers: []string{pc.LocalAddr().String()}, Attempts: 1}
	_, err = c.LookupTXT(context.Background(), "example.test")
	require.Error(t, err)
	assert.ErrorIs(t, err, resolver.ErrMalformedResponse)
	assert.True(t, resolver.IsTemporary(err))
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "example.test", de.Name)
}

// TestClientCNAMEToNoData checks that a NODATA answer at the end of a CNAME
// chain, with its SOA, is not asked again, while one without SOA (a
// resolver that stopped at the CNAME) is.
func TestClientCNAMEToNoData(t *testing.T) {
	t.Parallel()
	for _, withSOA := range []bool{true, false} {
		t.Run(fmt.Sprint("SOA ", withSOA), func(t *testing.T) {
			t.Parallel()
			z := new(resolver.Zone)
			text := "alias.example.test. IN CNAME host.example.test.\nhost.example.test. IN A 192.0.2.1\n"
			if withSOA {
				text += "example.test. IN SOA ns.example.test. hostmaster.example.test. 1 2 3 4 60\n"
			}
			require.NoError(t, z.Add(text))
			srv := resolvertest.NewServer(t, z)
			a, err := srv.Client().Query(context.Background(), "alias.example.test", dns.TypeTXT)
			require.NoError(t, err)
			assert.True(t, a.NoData())
			require.Len(t, a.CNAMEs, 1)
			want := 2
			if withSOA {
				want = 1
			}
			assert.Equal(t, want, srv.Count())
		})
	}
}
