package sender_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// baseZone holds the names most tests use. Documentation names only.
const baseZone = `$TTL 300
; RFC 7489 Appendix B style domains.
_dmarc.example.com.          TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.com"
example.com.                 A   192.0.2.10
mail.example.com.            A   192.0.2.11
_dmarc.strict.example.       TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
_dmarc.example.org.          TXT "v=DMARC1; p=reject"
_dmarc.none.example.         TXT "v=DMARC1; p=none"
_dmarc.quarantine.example.   TXT "v=DMARC1; p=quarantine"
_dmarc.two.example.          TXT "v=DMARC1; p=reject"
_dmarc.two.example.          TXT "v=DMARC1; p=none"
_dmarc.two.example.          TXT "some other text"
_dmarc.broken.example.       TXT "v=DMARC1; p=reject; pct=200"
_dmarc.defaulted.example.    TXT "v=DMARC1; p=never; rua=mailto:r@defaulted.example"
_dmarc.pct0.example.         TXT "v=DMARC1; p=reject; pct=0"
_dmarc.pct50.example.        TXT "v=DMARC1; p=reject; pct=50"
_dmarc.pct100.example.       TXT "v=DMARC1; p=reject; pct=100"
_dmarc.sub.example.          TXT "v=DMARC1; p=reject; sp=none"
_dmarc.a.sub.example.        TXT "v=DMARC1; p=quarantine"
_dmarc.co.uk.                TXT "v=DMARC1; p=reject"
_dmarc.onlyspf.example.      TXT "v=spf1 -all"
`

// env is a resolver over the same zone: in memory, or over the wire through
// a resolvertest.Server and a resolver.Client.
type env struct {
	name string
	r    resolver.Resolver
	zone *resolver.Zone
	srv  *resolvertest.Server
}

func newZone(t testing.TB, text string) *resolver.Zone {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader(text), ".")
	require.NoError(t, err)
	return z
}

// envs returns the two ways of reaching zone.
func envs(t *testing.T, text string) []env {
	t.Helper()
	z := newZone(t, text)
	srv := resolvertest.NewServer(t, z)
	return []env{
		{name: "zone", r: z, zone: z},
		{name: "wire", r: srv.Client(), zone: z, srv: srv},
	}
}

// countingResolver counts the TXT queries it forwards.
type countingResolver struct {
	resolver.Resolver
	mu   sync.Mutex
	txts []string
}

func (c *countingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	c.mu.Lock()
	c.txts = append(c.txts, name)
	c.mu.Unlock()
	return c.Resolver.LookupTXT(ctx, name)
}

func (c *countingResolver) queries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.txts...)
}

// failingResolver fails every query: for tests that must not touch DNS.
type failingResolver struct{ t testing.TB }

func (f failingResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	f.t.Errorf("unexpected TXT lookup %s", name)
	return nil, &net.DNSError{Err: "unexpected", Name: name, IsTemporary: true}
}

func (f failingResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	f.t.Errorf("unexpected MX lookup %s", name)
	return nil, &net.DNSError{Err: "unexpected", Name: name, IsTemporary: true}
}

func (f failingResolver) LookupNetIP(_ context.Context, _, name string) ([]netip.Addr, error) {
	f.t.Errorf("unexpected address lookup %s", name)
	return nil, &net.DNSError{Err: "unexpected", Name: name, IsTemporary: true}
}

func (f failingResolver) LookupAddr(_ context.Context, name string) ([]string, error) {
	f.t.Errorf("unexpected PTR lookup %s", name)
	return nil, &net.DNSError{Err: "unexpected", Name: name, IsTemporary: true}
}

// fixedRand returns v for every draw.
func fixedRand(v int) func(int) int { return func(int) int { return v } }

func newServer(t testing.TB, z *resolver.Zone) *resolvertest.Server {
	t.Helper()
	return resolvertest.NewServer(t, z)
}
