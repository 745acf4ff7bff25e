package dane

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

// lookupZone: secure.test is signed, insecure.test is not; cname.test's MX
// host is an alias into secure.test.
const lookupZone = `
$ORIGIN test.
$TTL 300
mx.secure               A     192.0.2.25
mx.secure               AAAA  2001:db8::25
_25._tcp.mx.secure      TLSA  3 1 1 ` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `
alias.secure            CNAME mx.secure.test.
pkix.secure             A     192.0.2.26
_25._tcp.pkix.secure    TLSA  1 1 1 ` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `
_25._tcp.pkix.secure    TLSA  3 1 1 ABAB
notlsa.secure           A     192.0.2.27
bogus.secure            A     192.0.2.28
_25._tcp.bogus.secure   TLSA  3 1 1 ` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `
timeout.secure          A     192.0.2.29
tolegacy.secure         CNAME mx.insecure.test.
aliasnotlsa.secure      CNAME notlsa.secure.test.
_25._tcp.aliasnotlsa.secure TLSA 2 0 1 ` + "CDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCD" + `
mx.insecure             A     192.0.2.30
_25._tcp.mx.insecure    TLSA  3 1 1 ` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `
toinsecure.secure       A     192.0.2.31
_25._tcp.toinsecure.secure CNAME tlsa.insecure.test.
alias2.secure           CNAME mx2.secure.test.
mx2.secure              A     192.0.2.32
_25._tcp.mx2.secure     CNAME tlsa.insecure.test.
_25._tcp.alias2.secure  TLSA  3 1 1 ` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `
tlsa.insecure           TLSA  3 1 1 ` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `
`

func newLookupZone(t *testing.T) *resolver.Zone {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader(lookupZone), "test.")
	require.NoError(t, err)
	require.NoError(t, z.SetSecure("secure.test", true))
	require.NoError(t, z.SetSecure("insecure.test", false))
	require.NoError(t, z.SetFailure("_25._tcp.bogus.secure.test", dns.TypeTLSA, resolver.FailServFail))
	require.NoError(t, z.SetFailure("_25._tcp.timeout.secure.test", dns.TypeTLSA, resolver.FailTimeout))
	return z
}

func TestLookup(t *testing.T) {
	t.Parallel()
	z := newLookupZone(t)
	srv := resolvertest.NewServer(t, newLookupZone(t))
	queriers := map[string]resolver.Querier{"zone": z, "wire": srv.Client()}

	tests := []struct {
		name     string
		in       Input
		status   Status
		base     string
		records  int
		unusable int
		names    []string
		err      error
	}{
		{"secure", Input{Domain: "example.test", MXSecure: true, Host: "mx.secure.test"},
			Authenticated, "mx.secure.test", 1, 0, []string{"mx.secure.test", "example.test"}, nil},
		{"insecure MX", Input{Domain: "example.test", MXSecure: false, Host: "mx.secure.test"},
			Insecure, "mx.secure.test", 0, 0, nil, nil},
		{"insecure host", Input{Domain: "example.test", MXSecure: true, Host: "mx.insecure.test"},
			Insecure, "mx.insecure.test", 0, 0, nil, nil},
		{"secure CNAME expansion", Input{Domain: "example.test", ExpandedDomain: "example2.test", MXSecure: true, Host: "alias.secure.test."},
			Authenticated, "mx.secure.test", 1, 0, []string{"mx.secure.test", "alias.secure.test", "example.test", "example2.test"}, nil},
		{"CNAME into insecure zone", Input{Domain: "example.test", MXSecure: true, Host: "tolegacy.secure.test"},
			Insecure, "tolegacy.secure.test", 0, 0, nil, nil},
		{"expanded name without TLSA falls back to host", Input{Domain: "example.test", MXSecure: true, Host: "aliasnotlsa.secure.test"},
			Authenticated, "aliasnotlsa.secure.test", 1, 0, []string{"aliasnotlsa.secure.test", "example.test"}, nil},
		{"insecure TLSA at the expanded name, secure at the host", Input{Domain: "example.test", MXSecure: true, Host: "alias2.secure.test"},
			Authenticated, "alias2.secure.test", 1, 0, []string{"alias2.secure.test", "example.test"}, nil},
		{"only unusable", Input{Domain: "example.test", MXSecure: true, Host: "pkix.secure.test"},
			EncryptOnly, "pkix.secure.test", 0, 2, []string{"pkix.secure.test", "example.test"}, nil},
		{"no TLSA", Input{Domain: "example.test", MXSecure: true, Host: "notlsa.secure.test"},
			Insecure, "notlsa.secure.test", 0, 0, nil, nil},
		{"TLSA via CNAME into insecure zone", Input{Domain: "example.test", MXSecure: true, Host: "toinsecure.secure.test"},
			Insecure, "toinsecure.secure.test", 0, 0, nil, nil},
		{"SERVFAIL on TLSA", Input{Domain: "example.test", MXSecure: true, Host: "bogus.secure.test"},
			0, "", 0, 0, nil, ErrLookup},
		{"no response on TLSA", Input{Domain: "example.test", MXSecure: true, Host: "timeout.secure.test"},
			0, "", 0, 0, nil, ErrLookup},
		{"host does not exist", Input{Domain: "example.test", MXSecure: true, Host: "nx.secure.test"},
			Insecure, "nx.secure.test", 0, 0, nil, nil},
	}
	for qn, q := range queriers {
		for _, tt := range tests {
			t.Run(qn+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				if qn == "wire" && strings.Contains(tt.name, "no response") {
					t.Skip("a dropped query costs the client its full timeout; covered by the zone case")
				}
				h, err := Lookup(context.Background(), q, tt.in)
				if tt.err != nil {
					require.Error(t, err)
					assert.ErrorIs(t, err, tt.err)
					var le *LookupError
					require.ErrorAs(t, err, &le)
					assert.Equal(t, dns.TypeTLSA, le.Qtype)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.status, h.Status)
				assert.Equal(t, tt.base, h.BaseDomain)
				assert.Len(t, h.Records, tt.records)
				assert.Len(t, h.Unusable, tt.unusable)
				assert.Equal(t, tt.names, h.Names)
			})
		}
	}
}

func TestLookupAddrs(t *testing.T) {
	t.Parallel()
	h, err := Lookup(context.Background(), newLookupZone(t), Input{Domain: "example.test", MXSecure: true, Host: "MX.Secure.Test"})
	require.NoError(t, err)
	assert.Equal(t, "mx.secure.test", h.Host)
	assert.True(t, h.AddrsSecure)
	assert.ElementsMatch(t, []netip.Addr{netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")}, h.Addrs)
}

func TestLookupAddressFailure(t *testing.T) {
	t.Parallel()
	z := newLookupZone(t)
	// AAAA failing alone does not switch DANE off.
	require.NoError(t, z.SetFailure("mx.secure.test", dns.TypeAAAA, resolver.FailServFail))
	h, err := Lookup(context.Background(), z, Input{Domain: "example.test", MXSecure: true, Host: "mx.secure.test"})
	require.NoError(t, err)
	assert.Equal(t, Authenticated, h.Status)
	// Both failing: the host cannot be used.
	require.NoError(t, z.SetFailure("mx.secure.test", dns.TypeA, resolver.FailServFail))
	_, err = Lookup(context.Background(), z, Input{Domain: "example.test", MXSecure: true, Host: "mx.secure.test"})
	assert.ErrorIs(t, err, ErrLookup)
}

func TestLookupBadInput(t *testing.T) {
	t.Parallel()
	_, err := Lookup(context.Background(), nil, Input{Host: "mx.example.test"})
	assert.ErrorIs(t, err, ErrNoQuerier)
	_, err = Lookup(context.Background(), newLookupZone(t), Input{Host: "a..b"})
	assert.ErrorIs(t, err, ErrName)
}
