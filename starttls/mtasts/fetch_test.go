package mtasts

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// policyServer is an HTTPS server that answers for any mta-sts.<domain>
// host, with a certificate from a test CA chosen by SNI.
type policyServer struct {
	srv *httptest.Server
	ca  *testcert.CA

	mu       sync.Mutex
	handlers map[string]http.HandlerFunc // by Host
	certs    map[string]*tls.Certificate // by SNI
	hits     map[string]*atomic.Int64
}

func newPolicyServer(t *testing.T, ca *testcert.CA) *policyServer {
	t.Helper()
	ps := &policyServer{ca: ca, handlers: map[string]http.HandlerFunc{}, certs: map[string]*tls.Certificate{}, hits: map[string]*atomic.Int64{}}
	fallback := ca.Leaf("unrelated.example.test").TLS
	ps.srv = httptest.NewUnstartedServer(http.HandlerFunc(ps.serve))
	ps.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	ps.srv.TLS = &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if c, ok := ps.certs[hello.ServerName]; ok {
			return c, nil
		}
		return &fallback, nil
	}}
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	return ps
}

// handle serves h for https://mta-sts.<domain>/ with a certificate valid
// for that name (or cert, when given).
func (ps *policyServer) handle(domain string, cert *tls.Certificate, h http.HandlerFunc) {
	host := PolicyHost(domain)
	if cert == nil {
		cert = &ps.ca.Leaf(host).TLS
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.handlers[host] = h
	ps.certs[host] = cert
	ps.hits[host] = new(atomic.Int64)
}

func (ps *policyServer) count(domain string) int64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.hits[PolicyHost(domain)].Load()
}

func (ps *policyServer) serve(w http.ResponseWriter, r *http.Request) {
	ps.mu.Lock()
	h, ok := ps.handlers[r.Host]
	n := ps.hits[r.Host]
	ps.mu.Unlock()
	if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	n.Add(1)
	h(w, r)
}

// client returns an http.Client that dials the test server for every host
// and trusts the test CA, as a client on the Internet trusts the Web PKI.
func (ps *policyServer) client() *http.Client {
	addr := ps.srv.Listener.Addr().String()
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: ps.ca.Pool()},
		DisableKeepAlives: true,
	}}
}

func servePolicy(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(text))
	}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	otherCA := testcert.NewCA(t)
	ps := newPolicyServer(t, ca)
	big := "version: STSv1\nmode: none\nmax_age: 1\n"
	padded := big + "x: " + strings.Repeat("y", MaxPolicySize-len(big)-4) + "\n"
	require.Len(t, padded, MaxPolicySize)

	ps.handle("good.test", nil, servePolicy(examplePolicy))
	ps.handle("exact64k.test", nil, servePolicy(padded))
	ps.handle("oversize.test", nil, servePolicy(padded+"z"))
	ps.handle("redirect.test", nil, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://mta-sts.good.test/.well-known/mta-sts.txt", http.StatusMovedPermanently)
	})
	ps.handle("notfound.test", nil, http.NotFound)
	ps.handle("error.test", nil, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "oops", http.StatusInternalServerError)
	})
	ps.handle("html.test", nil, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(examplePolicy))
	})
	ps.handle("invalid.test", nil, servePolicy("version: STSv1\nmode: enforce\nmax_age: 1\n"))
	ps.handle("wrongname.test", &ca.Leaf("mta-sts.other.test").TLS, servePolicy(examplePolicy))
	ps.handle("expired.test", &ca.Expired("mta-sts.expired.test").TLS, servePolicy(examplePolicy))
	ps.handle("untrusted.test", &otherCA.Leaf("mta-sts.untrusted.test").TLS, servePolicy(examplePolicy))
	ps.handle("stall.test", nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("version: STSv1\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})

	tests := []struct {
		domain string
		kind   error // nil: success
		status int
	}{
		{"good.test", nil, 200},
		{"GOOD.test.", nil, 200},
		{"exact64k.test", nil, 200},
		{"oversize.test", ErrPolicyFetch, 200},
		{"redirect.test", ErrPolicyFetch, 301},
		{"notfound.test", ErrPolicyFetch, 404},
		{"error.test", ErrPolicyFetch, 500},
		{"html.test", ErrPolicyFetch, 200},
		{"invalid.test", ErrPolicySyntax, 200},
		{"wrongname.test", ErrWebPKI, 0},
		{"expired.test", ErrWebPKI, 0},
		{"untrusted.test", ErrWebPKI, 0},
		{"stall.test", ErrPolicyFetch, 200},
	}
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.domain, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if tt.domain == "stall.test" {
					ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
					defer cancel()
				}
				p, err := Fetch(ctx, ps.client(), tt.domain)
				if tt.kind == nil {
					require.NoError(t, err)
					assert.NotNil(t, p)
					return
				}
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.kind)
				var fe *FetchError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tt.status, fe.StatusCode)
				assert.Nil(t, p)
			})
		}
	})
	// The redirect was not followed.
	assert.EqualValues(t, 2, ps.count("good.test"))
}

func TestFetchRefusesUnverifiedClient(t *testing.T) {
	t.Parallel()
	ps := newPolicyServer(t, testcert.NewCA(t))
	ps.handle("good.test", nil, servePolicy(examplePolicy))
	cl := ps.client()
	cl.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	_, err := Fetch(context.Background(), cl, "good.test")
	assert.ErrorIs(t, err, ErrWebPKI)

	// A client that would follow redirects is not allowed to.
	cl = ps.client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	ps.handle("redirect.test", nil, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://mta-sts.good.test/.well-known/mta-sts.txt", http.StatusFound)
	})
	_, err = Fetch(context.Background(), cl, "redirect.test")
	assert.ErrorIs(t, err, ErrPolicyFetch)
	assert.EqualValues(t, 1, ps.count("good.test"), "only the unverified fetch reached good.test")
}

func TestFetchDefaultClient(t *testing.T) {
	t.Parallel()
	// The default client checks certificates against the system roots,
	// which do not include the test CA.
	ps := newPolicyServer(t, testcert.NewCA(t))
	addr := ps.srv.Listener.Addr().String()
	cl := NewHTTPClient()
	var d net.Dialer
	cl.Transport.(*http.Transport).DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
	ps.handle("good.test", nil, servePolicy(examplePolicy))
	_, err := Fetch(context.Background(), cl, "good.test")
	assert.ErrorIs(t, err, ErrWebPKI)
	_, err = Fetch(context.Background(), nil, "bad..name")
	assert.ErrorIs(t, err, ErrDomain)
}

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func txt(domain, id string) string {
	return "_mta-sts." + domain + ". 300 TXT \"v=STSv1; id=" + id + "\"\n"
}
func removeTXT(z *resolver.Zone, dom string) { z.Remove("_mta-sts."+dom+".", dns.TypeTXT) }

type env struct {
	ps    *policyServer
	zone  *resolver.Zone
	clock *clock
	cache *MemoryCache
	c     *Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader("$TTL 300\n"), "test.")
	require.NoError(t, err)
	dnsSrv := resolvertest.NewServer(t, z)
	e := &env{ps: newPolicyServer(t, testcert.NewCA(t)), zone: z, clock: newClock(), cache: &MemoryCache{}}
	e.c = &Client{Resolver: dnsSrv.Client(), HTTPClient: e.ps.client(), Cache: e.cache, Now: e.clock.Now}
	return e
}

func (e *env) get(t *testing.T, domain string) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := e.c.Get(ctx, domain)
	require.NoError(t, err)
	return r
}

func TestClientGet(t *testing.T) {
	t.Parallel()

	t.Run("good policy, then cached", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("a.test", "1")))
		e.ps.handle("a.test", nil, servePolicy(examplePolicy))
		r := e.get(t, "A.test.")
		require.NoError(t, r.Err)
		require.NotNil(t, r.Policy)
		assert.True(t, r.Enforced())
		assert.False(t, r.Cached)
		assert.Equal(t, "a.test", r.Domain)
		assert.Equal(t, e.clock.Now().Add(604800*time.Second), r.Expires)
		r = e.get(t, "a.test")
		assert.True(t, r.Cached)
		assert.NoError(t, r.Err)
		assert.EqualValues(t, 1, e.ps.count("a.test"))
		assert.Equal(t, []string{"a.test"}, e.cache.Domains())
	})

	t.Run("no record", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		r := e.get(t, "none.test")
		assert.Nil(t, r.Policy)
		assert.ErrorIs(t, r.Err, ErrNoRecord)
		// A TXT record of another kind is no MTA-STS record either.
		require.NoError(t, e.zone.Add(`_mta-sts.none.test. 300 TXT "v=spf1 -all"`))
		assert.ErrorIs(t, e.get(t, "none.test").Err, ErrNoRecord)
	})

	t.Run("two records", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("two.test", "1")+txt("two.test", "2")))
		e.ps.handle("two.test", nil, servePolicy(examplePolicy))
		r := e.get(t, "two.test")
		assert.Nil(t, r.Policy)
		assert.ErrorIs(t, r.Err, ErrMultipleRecords)
		assert.EqualValues(t, 0, e.ps.count("two.test"))
	})

	t.Run("invalid record", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(`_mta-sts.bad.test. 300 TXT "v=STSv1; id=no-dashes"`))
		r := e.get(t, "bad.test")
		assert.Nil(t, r.Policy)
		assert.ErrorIs(t, r.Err, ErrRecordSyntax)
	})

	t.Run("id change refetches", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("id.test", "1")))
		var text atomic.Value
		text.Store(examplePolicy)
		e.ps.handle("id.test", nil, func(w http.ResponseWriter, r *http.Request) {
			servePolicy(text.Load().(string))(w, r)
		})
		assert.True(t, e.get(t, "id.test").Enforced())
		text.Store("version: STSv1\nmode: testing\nmx: mx.id.test\nmax_age: 86400\n")
		// Same id: the cached policy stays, even though the file changed.
		assert.True(t, e.get(t, "id.test").Enforced())
		removeTXT(e.zone, "id.test")
		require.NoError(t, e.zone.Add(txt("id.test", "2")))
		r := e.get(t, "id.test")
		assert.False(t, r.Cached)
		assert.Equal(t, Testing, r.Policy.Mode)
		assert.Equal(t, "2", r.RecordID)
		assert.EqualValues(t, 2, e.ps.count("id.test"))
	})

	t.Run("cache kept when the TXT record disappears", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("gone.test", "1")))
		e.ps.handle("gone.test", nil, servePolicy(examplePolicy))
		require.True(t, e.get(t, "gone.test").Enforced())
		removeTXT(e.zone, "gone.test")
		e.clock.Advance(24 * time.Hour)
		r := e.get(t, "gone.test")
		assert.True(t, r.Enforced())
		assert.True(t, r.Cached)
		assert.ErrorIs(t, r.Err, ErrNoRecord)
		// Until max_age runs out.
		e.clock.Advance(7 * 24 * time.Hour)
		r = e.get(t, "gone.test")
		assert.Nil(t, r.Policy)
	})

	t.Run("cache kept when DNS fails", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("dnsfail.test", "1")))
		e.ps.handle("dnsfail.test", nil, servePolicy(examplePolicy))
		require.True(t, e.get(t, "dnsfail.test").Enforced())
		require.NoError(t, e.zone.SetFailure("_mta-sts.dnsfail.test", dns.TypeTXT, resolver.FailServFail))
		r := e.get(t, "dnsfail.test")
		assert.True(t, r.Enforced())
		assert.ErrorIs(t, r.Err, ErrDNS)
	})

	t.Run("cache kept when the new policy cannot be fetched", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("keep.test", "1")))
		var fail atomic.Bool
		e.ps.handle("keep.test", nil, func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			servePolicy(examplePolicy)(w, r)
		})
		require.True(t, e.get(t, "keep.test").Enforced())
		fail.Store(true)
		removeTXT(e.zone, "keep.test")
		require.NoError(t, e.zone.Add(txt("keep.test", "2")))
		r := e.get(t, "keep.test")
		assert.True(t, r.Enforced())
		assert.Equal(t, "1", r.RecordID)
		assert.ErrorIs(t, r.Err, ErrPolicyFetch)
	})

	t.Run("back-off after failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("backoff.test", "1")))
		var fail atomic.Bool
		fail.Store(true)
		e.ps.handle("backoff.test", nil, func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				http.Error(w, "down", http.StatusInternalServerError)
				return
			}
			servePolicy(examplePolicy)(w, r)
		})
		r := e.get(t, "backoff.test")
		assert.Nil(t, r.Policy)
		assert.ErrorIs(t, r.Err, ErrPolicyFetch)
		fail.Store(false)
		e.clock.Advance(4*time.Minute + 59*time.Second)
		r = e.get(t, "backoff.test")
		assert.Nil(t, r.Policy)
		assert.ErrorIs(t, r.Err, ErrBackoff)
		assert.EqualValues(t, 1, e.ps.count("backoff.test"))
		e.clock.Advance(2 * time.Second)
		r = e.get(t, "backoff.test")
		assert.True(t, r.Enforced())
		assert.EqualValues(t, 2, e.ps.count("backoff.test"))
	})

	t.Run("back-off after a stalled fetch", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("stall.test", "1")))
		e.ps.handle("stall.test", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := e.c.Get(ctx, "stall.test")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		r := e.get(t, "stall.test")
		assert.ErrorIs(t, r.Err, ErrBackoff)
		assert.EqualValues(t, 1, e.ps.count("stall.test"))
	})

	t.Run("mode none", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("off.test", "1")))
		e.ps.handle("off.test", nil, servePolicy("version: STSv1\nmode: none\nmax_age: 86400\n"))
		r := e.get(t, "off.test")
		require.NotNil(t, r.Policy)
		assert.False(t, r.Active())
		assert.False(t, r.Enforced())
	})

	t.Run("refresh renews max_age", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("refresh.test", "1")))
		e.ps.handle("refresh.test", nil, servePolicy("version: STSv1\nmode: enforce\nmx: mx.refresh.test\nmax_age: 86400\n"))
		r := e.get(t, "refresh.test")
		first := r.Expires
		e.clock.Advance(12 * time.Hour)
		r, err := e.c.Refresh(context.Background(), "refresh.test")
		require.NoError(t, err)
		assert.False(t, r.Cached)
		assert.Equal(t, first.Add(12*time.Hour), r.Expires)
		assert.EqualValues(t, 2, e.ps.count("refresh.test"))
	})

	t.Run("no parent-domain lookup", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("parent.test", "1")))
		e.ps.handle("parent.test", nil, servePolicy(examplePolicy))
		r := e.get(t, "sub.parent.test")
		assert.Nil(t, r.Policy)
		assert.ErrorIs(t, r.Err, ErrNoRecord)
		assert.EqualValues(t, 0, e.ps.count("parent.test"))
	})

	t.Run("nil cache", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.c.Cache = nil
		require.NoError(t, e.zone.Add(txt("nocache.test", "1")))
		e.ps.handle("nocache.test", nil, servePolicy(examplePolicy))
		assert.True(t, e.get(t, "nocache.test").Enforced())
		assert.True(t, e.get(t, "nocache.test").Enforced())
		assert.EqualValues(t, 2, e.ps.count("nocache.test"))
	})

	t.Run("concurrent calls share one fetch", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		require.NoError(t, e.zone.Add(txt("burst.test", "1")))
		release := make(chan struct{})
		e.ps.handle("burst.test", nil, func(w http.ResponseWriter, r *http.Request) {
			<-release
			servePolicy(examplePolicy)(w, r)
		})
		const n = 20
		var wg sync.WaitGroup
		results := make([]*Result, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.c.Get(context.Background(), "burst.test")
				if err == nil {
					results[i] = r
				}
			}()
		}
		require.Eventually(t, func() bool { return e.ps.count("burst.test") == 1 }, 5*time.Second, time.Millisecond)
		time.Sleep(50 * time.Millisecond) // let the other callers queue up
		close(release)
		wg.Wait()
		for _, r := range results {
			require.NotNil(t, r)
			assert.True(t, r.Enforced())
		}
		assert.EqualValues(t, 1, e.ps.count("burst.test"))
	})

	t.Run("bad domain", func(t *testing.T) {
		t.Parallel()
		_, err := (&Client{}).Get(context.Background(), "a..b")
		assert.ErrorIs(t, err, ErrDomain)
	})
}

func TestMemoryCacheBound(t *testing.T) {
	t.Parallel()
	c := &MemoryCache{MaxEntries: 3}
	ctx := context.Background()
	now := time.Now()
	p := &Policy{Mode: None}
	for i, d := range []string{"a.test", "b.test", "c.test", "d.test"} {
		require.NoError(t, c.Put(ctx, d, &Entry{Policy: p, Fetched: now.Add(time.Duration(i) * time.Minute), Expires: now.Add(time.Hour)}))
	}
	assert.Equal(t, []string{"b.test", "c.test", "d.test"}, c.Domains())
	// Expired entries go first.
	require.NoError(t, c.Put(ctx, "c.test", &Entry{Policy: p, Fetched: now, Expires: now.Add(-time.Second)}))
	require.NoError(t, c.Put(ctx, "e.test", &Entry{Policy: p, Fetched: now, Expires: now.Add(time.Hour)}))
	assert.Equal(t, []string{"b.test", "d.test", "e.test"}, c.Domains())
	c.Delete("b.test")
	e, err := c.Get(ctx, "b.test")
	require.NoError(t, err)
	assert.Nil(t, e)
}
