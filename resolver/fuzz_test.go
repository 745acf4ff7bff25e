package resolver_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
)

// FuzzParseZone checks that any zone text either fails with a *ZoneError or
// gives a zone whose text form parses back to the same zone, and whose
// owner names all answer without error other than the documented ones.
func FuzzParseZone(f *testing.F) {
	seed, err := os.ReadFile("testdata/example.test.zone")
	require.NoError(f, err)
	f.Add(string(seed))
	f.Add("$TTL 60\n@ IN TXT \"a\" \"b\"\n")
	f.Add("$ORIGIN x.test.\n* IN CNAME @\n@ IN A 192.0.2.1\n")
	f.Add("a IN CNAME b\nb IN CNAME a\n")
	f.Add("@ IN SOA ns host ( 1 2 3 4 5 )\n")
	f.Add("www IN BOGUS x\n")
	f.Add("\\046 IN A 192.0.2.1\n")
	f.Add("$INCLUDE x\n")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			t.Skip()
		}
		z, err := resolver.ParseZone(strings.NewReader(text), "example.test.")
		if err != nil {
			var ze *resolver.ZoneError
			require.True(t, errors.As(err, &ze), "error %T %v", err, err)
			assert.GreaterOrEqual(t, ze.Line, 0)
			assert.Nil(t, z)
			return
		}
		s := z.String()
		z2, err := resolver.ParseZone(strings.NewReader(s), ".")
		require.NoError(t, err, "text form does not parse:\n%s", s)
		assert.Equal(t, s, z2.String(), "text form is not stable")

		ctx := context.Background()
		for _, line := range strings.Split(s, "\n") {
			owner, _, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			for _, qtype := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeCNAME} {
				a, err := z.Query(ctx, owner, qtype)
				if err != nil {
					assert.True(t, resolver.IsNotFound(err) || errors.Is(err, resolver.ErrCNAMELoop) ||
						errors.Is(err, resolver.ErrCNAMEChain), "%s: %v", owner, err)
					continue
				}
				for _, rr := range a.Records {
					assert.Equal(t, qtype, rr.Header().Rrtype)
				}
				assert.LessOrEqual(t, len(a.CNAMEs), resolver.MaxCNAMEChain)
			}
		}
	})
}

// FuzzReverseName checks ReverseName against miekg/dns for every address
// netip accepts.
func FuzzReverseName(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "::", "fe80::1%eth0", "1.2.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		name, err := resolver.ReverseName(addr)
		if err != nil {
			assert.ErrorIs(t, err, resolver.ErrUnknownAddress)
			return
		}
		assert.True(t, strings.HasSuffix(name, ".in-addr.arpa.") || strings.HasSuffix(name, ".ip6.arpa."), name)
		_, ok := dns.IsDomainName(name)
		assert.True(t, ok)
	})
}
