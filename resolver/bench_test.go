package resolver_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// BenchmarkLookupTXT compares Client.LookupTXT with the standard library's
// pure-Go resolver, both asking the same loopback server for the same
// two-record TXT answer. No cache.
func BenchmarkLookupTXT(b *testing.B) {
	srv := resolvertest.NewServer(b, testZone(b))
	ctx := context.Background()
	const name = "example.test."
	want := []string{"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", "google-site-verification=abc123"}
	run := func(b *testing.B, r resolver.Resolver) {
		txt, err := r.LookupTXT(ctx, name)
		require.NoError(b, err)
		require.Equal(b, want, txt)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.LookupTXT(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("Client", func(b *testing.B) {
		run(b, srv.Client())
	})
	b.Run("net.Resolver", func(b *testing.B) {
		addr := srv.Addr()
		run(b, &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		})
	})
}

// BenchmarkZoneLookupTXT measures the in-memory path.
func BenchmarkZoneLookupTXT(b *testing.B) {
	z := testZone(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := z.LookupTXT(ctx, "example.test."); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientCachedLookupTXT measures a Client answering from its
// MemoryCache.
func BenchmarkClientCachedLookupTXT(b *testing.B) {
	srv := resolvertest.NewServer(b, testZone(b))
	c := srv.Client()
	c.Cache = &resolver.MemoryCache{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.LookupTXT(ctx, "example.test."); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalName measures the one canonicalisation every name goes
// through: a plain name takes the fast path, a name with octets that
// presentation format escapes takes the wire path.
func BenchmarkCanonicalName(b *testing.B) {
	for _, tc := range []struct{ name, raw string }{
		{"plain", "_spf.Example.TEST"},
		{"escaped", "%{i} a:b;c.e1.example.test"},
		{"U-label", "bücher.example.test"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := resolver.CanonicalName(tc.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
