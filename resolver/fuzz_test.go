package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
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
	f.Add("a\\.b IN A 192.0.2.1\nc.a\\.b IN TXT \"x\"\n")
	f.Add("\\$d IN TXT \"say \\\"hi\\\" caf\\195\\169\"\nsp\\032ace IN CNAME \\$d\n")
	f.Add("café IN MX 10 a\\ b\n")
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
			// Owners are in presentation form: asked on the wire, each
			// owner exists (NOERROR, or a CNAME chain's outcome).
			m := new(dns.Msg)
			m.SetQuestion(owner, dns.TypeNULL)
			if resp := z.Respond(m); resp != nil && len(resp.Answer) == 0 {
				assert.NotEqual(t, dns.RcodeNameError, resp.Rcode, "owner %s does not exist:\n%s", owner, s)
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

// FuzzRawName checks that a raw name, and TXT data of any octets, round-trip
// through Zone.Add (the name written in presentation form) and Query, in
// memory and over the wire through resolvertest.Server and Client, with the
// same key and the same octets.
func FuzzRawName(f *testing.F) {
	for _, s := range [][2]string{
		{"foo:bar%x.example", "v=spf1 -all"},
		{"a b.example", `say "hi" café`},
		{`b\s.example.`, "; \\ \x00\xff"},
		{"$dollar.example", "(x)"},
		{"CAFÉ.Example", "plain"},
		{"%{i} %-x.e1.example", ""},
		{"a\tb;c(d)@e\"f.example", "a\"b"},
	} {
		f.Add(s[0], s[1])
	}
	z := new(resolver.Zone)
	srv := resolvertest.NewServer(f, z)
	c := srv.Client()
	c.Timeout = 5 * time.Second
	f.Fuzz(func(t *testing.T, raw, txt string) {
		key, err := resolver.CanonicalName(raw)
		if err != nil || key == "." || len(txt) > 255 {
			return
		}
		var b strings.Builder
		if key[0] == '$' {
			b.WriteByte('\\') // not a directive
		}
		b.WriteString(key + " 300 IN TXT \"")
		for i := 0; i < len(txt); i++ {
			switch ch := txt[i]; {
			case ch == '"' || ch == '\\':
				b.WriteByte('\\')
				b.WriteByte(ch)
			case ch < ' ' || ch > '~':
				fmt.Fprintf(&b, "\\%03d", ch)
			default:
				b.WriteByte(ch)
			}
		}
		b.WriteString("\"\n")
		require.NoError(t, z.Add(b.String()), "%q", b.String())
		defer z.Remove(raw, dns.TypeTXT)
		ctx := context.Background()
		for name, q := range map[string]resolverQuerier{"zone": z, "wire": c} {
			a, err := q.Query(ctx, raw, dns.TypeTXT)
			require.NoError(t, err, name)
			assert.Equal(t, key, a.Name, name)
			require.Len(t, a.Records, 1, "%s %q: %+v", name, raw, a)
			got, err := q.LookupTXT(ctx, raw)
			require.NoError(t, err, name)
			assert.Equal(t, []string{txt}, got, name)
		}
	})
}
