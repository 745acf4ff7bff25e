package requiretls

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mxZone = `
$ORIGIN example.test.
$TTL 300
secure     MX 20 mx2.secure
           MX 10 MX1.Secure
insecure   MX 10 mx.insecure
implicit   A  192.0.2.25
nullmx     MX 0 .
broken     MX 10 mx.broken
`

func mxTestZone(t *testing.T) *resolver.Zone {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader(mxZone), "example.test.")
	require.NoError(t, err)
	require.NoError(t, z.SetSecure("secure.example.test", true))
	require.NoError(t, z.SetSecure("implicit.example.test", true))
	require.NoError(t, z.SetFailure("broken.example.test", dns.TypeMX, resolver.FailServFail))
	return z
}

func TestLookupMX(t *testing.T) {
	t.Parallel()
	z := mxTestZone(t)
	srv := resolvertest.NewServer(t, z)
	queriers := map[string]resolver.Querier{"zone": z, "wire": srv.Client()}
	tests := []struct {
		domain  string
		hosts   []string
		auth    MXAuth
		wantErr error
	}{
		{domain: "secure.example.test", hosts: []string{"mx1.secure.example.test", "mx2.secure.example.test"}, auth: MXDNSSEC},
		{domain: "Insecure.Example.Test.", hosts: []string{"mx.insecure.example.test"}, auth: MXUnauthenticated},
		{domain: "implicit.example.test", hosts: []string{"implicit.example.test"}, auth: MXImplicit},
		{domain: "nullmx.example.test", wantErr: ErrNullMX},
		{domain: "missing.example.test", wantErr: ErrNoDomain},
		{domain: "broken.example.test", wantErr: ErrMXLookup},
		{domain: "bad..example.test", wantErr: ErrMXLookup},
	}
	for qname, q := range queriers {
		for _, tt := range tests {
			t.Run(qname+"/"+tt.domain, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				set, err := LookupMX(ctx, q, tt.domain)
				if tt.wantErr != nil {
					assert.ErrorIs(t, err, tt.wantErr)
					assert.Nil(t, set)
					return
				}
				require.NoError(t, err)
				var hosts []string
				for _, h := range set.Hosts {
					hosts = append(hosts, h.Host)
				}
				assert.Equal(t, tt.hosts, hosts)
				assert.Equal(t, tt.auth, set.Auth)
			})
		}
	}
}
