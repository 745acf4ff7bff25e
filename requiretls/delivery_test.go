package requiretls

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deliver is the caller's loop of RFC 8689 §4.2.1: look up the MX hosts,
// try each through the gate, and when none qualifies return the reply to
// bounce with. It returns the host that took the message, or the reply.
func deliver(t *testing.T, q resolver.Querier, domain string, addrs map[string]string, p func(host string) *starttls.Policy) (string, smtpsec.Reply) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	set, err := LookupMX(ctx, q, domain)
	require.NoError(t, err)
	var decisions []Decision
	for _, h := range set.Hosts {
		s, err := dialUpgrade(t, addrs[h.Host], p(h.Host))
		require.NoError(t, err)
		d, r, err := Mail(ctx, s, MailInput{Tag: TagRequireTLS, MX: set.Auth, ReversePath: "alice@example.test"})
		decisions = append(decisions, d)
		if errors.Is(err, ErrRefused) {
			require.NoError(t, s.Quit(ctx)) // RFC 8689 §4.2.1: QUIT, next MX
			continue
		}
		require.NoError(t, err)
		require.Equal(t, 250, r.Code)
		require.NoError(t, s.Quit(ctx))
		return h.Host, smtpsec.Reply{}
	}
	return "", Exhausted(decisions...)
}

func TestDeliveryAcrossMXHosts(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	z, err := resolver.ParseZone(strings.NewReader(`
$ORIGIN example.net.
secure    MX 10 mx1.secure
          MX 20 mx2.secure
insecure  MX 10 mx1.secure
`), "example.net.")
	require.NoError(t, err)
	require.NoError(t, z.SetSecure("secure.example.net", true))
	q := resolvertest.NewServer(t, z).Client()
	leaf := ca.Leaf("mx1.secure.example.net", "mx2.secure.example.net")
	verify := func(host string) *starttls.Policy {
		return &starttls.Policy{Level: starttls.MTASTS, Names: []string{host}, RootCAs: ca.Pool()}
	}

	t.Run("first MX lacks REQUIRETLS, second takes it", func(t *testing.T) {
		t.Parallel()
		a1, log1 := startReceiver(t, leaf, receiverOpts{noKeyword: true})
		a2, log2 := startReceiver(t, leaf, receiverOpts{})
		host, r := deliver(t, q, "secure.example.net", map[string]string{
			"mx1.secure.example.net": a1, "mx2.secure.example.net": a2}, verify)
		assert.Equal(t, "mx2.secure.example.net", host)
		assert.Zero(t, r)
		assert.Empty(t, log1.mail())
		assert.Equal(t, []string{"tls: MAIL FROM:<alice@example.test> REQUIRETLS"}, log2.mail())
	})

	t.Run("no MX qualifies: bounce with 5.7.30", func(t *testing.T) {
		t.Parallel()
		a1, _ := startReceiver(t, leaf, receiverOpts{noKeyword: true})
		a2, _ := startReceiver(t, leaf, receiverOpts{noKeyword: true})
		host, r := deliver(t, q, "secure.example.net", map[string]string{
			"mx1.secure.example.net": a1, "mx2.secure.example.net": a2}, verify)
		assert.Empty(t, host)
		require.Equal(t, "550 5.7.30 REQUIRETLS support required\r\n", r.String())
		ndr, err := BuildNDR(NDRInput{ReportingMTA: "mta.example.test", Sender: "alice@example.test",
			Original:   []byte("Subject: x\r\n\r\nbody\r\n"),
			Recipients: []FailedRecipient{{Recipient: "bob@secure.example.net", Reply: r}}})
		require.NoError(t, err)
		assert.True(t, bytes.Contains(ndr.Message, []byte("Status: 5.7.30\r\n")))
	})

	t.Run("insecure MX without MTA-STS match: 5.7.10", func(t *testing.T) {
		t.Parallel()
		a1, log1 := startReceiver(t, leaf, receiverOpts{})
		host, r := deliver(t, q, "insecure.example.net", map[string]string{"mx1.secure.example.net": a1}, verify)
		assert.Empty(t, host)
		assert.Equal(t, "7.10", r.Enhanced.String())
		assert.Empty(t, log1.mail())
	})
}
