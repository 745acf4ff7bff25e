package resolvertest_test

import (
	"context"
	"net"
	"strings"
	"testing"

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
