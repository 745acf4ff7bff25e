package tlsrpt_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
	"github.com/smtpsec/smtpsec/starttls/tlsrpt"
)

// smtpServer runs an SMTP receiver on 127.0.0.1 that offers STARTTLS with cert
// (none when cert is nil) and returns its address.
func smtpServer(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	cfg := &smtpserver.Config{Hostname: "mx"}
	if cert != nil {
		cfg.TLS = &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}}}
	}
	return smtpserver.Start(t, cfg)
}

// TestEndToEnd delivers to three domains (MTA-STS in testing mode with an
// untrusted certificate, DANE with a non-matching record, and no policy
// with a server that lacks STARTTLS), with DNS over resolvertest, policies
// over HTTPS and real STARTTLS sessions, records every session and checks
// the reports.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	webCA := testcert.NewCA(t)
	rogueCA := testcert.NewCA(t)

	stsMX := smtpServer(t, &rogueCA.Leaf("mx.sts.test").TLS)
	daneLeaf := webCA.Leaf("mx.dane.test")
	daneMX := smtpServer(t, &daneLeaf.TLS)
	plainMX := smtpServer(t, nil)

	other := webCA.Leaf("elsewhere.test").SPKISHA256()
	zone, err := resolver.ParseZone(strings.NewReader(fmt.Sprintf(`$TTL 300
_mta-sts.sts.test.       TXT  "v=STSv1; id=1"
_smtp._tls.sts.test.     TXT  "v=TLSRPTv1; rua=mailto:tlsrpt@sts.test"
mx.dane.test.            A    127.0.0.1
_25._tcp.mx.dane.test.   TLSA 3 1 1 %x
`, other[:])), ".")
	require.NoError(t, err)
	require.NoError(t, zone.SetSecure("dane.test", true))
	dnsSrv := resolvertest.NewServer(t, zone)

	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\nmode: testing\nmx: mx.sts.test\nmax_age: 86400\n")
	}))
	web.TLS = &tls.Config{Certificates: []tls.Certificate{webCA.Leaf("mta-sts.sts.test").TLS}}
	web.StartTLS()
	t.Cleanup(web.Close)
	sts := &mtasts.Client{
		Resolver: dnsSrv.Client(),
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", web.Listener.Addr().String())
			},
			TLSClientConfig: &tls.Config{RootCAs: webCA.Pool()},
		}},
		Cache: &mtasts.MemoryCache{},
	}

	upgrade := func(addr, mx string, p starttls.Policy) (*starttls.Session, error) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		s, err := (&starttls.Client{Hostname: "client.example.test"}).Upgrade(ctx, conn, mx, &p)
		if s != nil {
			t.Cleanup(func() { _ = s.Conn().Close() })
		}
		return s, err
	}
	var agg tlsrpt.Aggregator
	now := time.Now()
	session := func(mx string) tlsrpt.Session {
		return tlsrpt.Session{SendingMTAIP: "192.0.2.1", ReceivingMXHostname: mx, ReceivingIP: "127.0.0.1"}
	}
	may := starttls.Policy{Level: starttls.May}

	// sts.test: testing mode delivers despite the untrusted certificate and
	// reports what enforce would have said.
	res, err := sts.Get(ctx, "sts.test")
	require.NoError(t, err)
	require.True(t, res.Active())
	p, err := res.TLSPolicy("mx.sts.test", may)
	require.NoError(t, err)
	s, err := upgrade(stsMX, "mx.sts.test", p)
	require.NoError(t, err)
	cs, ok := s.ConnectionState()
	require.True(t, ok)
	require.True(t, agg.RecordSession(tlsrpt.STSPolicy(res), now, res.Evaluate("mx.sts.test", &cs, webCA.Pool()), session("mx.sts.test")))
	rec, err := tlsrpt.LookupRecord(ctx, dnsSrv.Client(), "sts.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"tlsrpt@sts.test"}, rec.Mailto())

	// dane.test: secure TLSA that does not match; the upgrade fails.
	h, err := dane.Lookup(ctx, dnsSrv.Client(), dane.Input{Domain: "dane.test", MXSecure: true, Host: "mx.dane.test"})
	require.NoError(t, err)
	p, err = h.Policy(starttls.DANE, may)
	require.NoError(t, err)
	_, err = upgrade(daneMX, "mx.dane.test", p)
	require.Error(t, err)
	require.True(t, agg.RecordSession(tlsrpt.TLSAPolicy("dane.test", h), now, err, session("mx.dane.test")))

	// plain.test: no policy, no STARTTLS: delivered in plaintext, reported.
	s, err = upgrade(plainMX, "mx.plain.test", may)
	require.NoError(t, err)
	require.False(t, s.Encrypted())
	require.True(t, agg.RecordSession(tlsrpt.NoPolicy("plain.test"), now, s.PlaintextReason(), session("mx.plain.test")))

	reports := agg.Flush(now.Add(24*time.Hour), tlsrpt.Meta{OrganizationName: "Test", ContactInfo: "postmaster@client.example.test", Submitter: "client.example.test"})
	require.Len(t, reports, 3)
	want := map[string]struct {
		policy tlsrpt.PolicyType
		result tlsrpt.ResultType
	}{
		"dane.test":  {tlsrpt.PolicyTLSA, tlsrpt.TLSAInvalid},
		"plain.test": {tlsrpt.PolicyNone, tlsrpt.STARTTLSNotSupported},
		"sts.test":   {tlsrpt.PolicySTS, tlsrpt.CertificateNotTrusted},
	}
	for _, r := range reports {
		require.Len(t, r.Policies, 1)
		pr := r.Policies[0]
		w, ok := want[pr.Policy.Domain]
		require.True(t, ok, pr.Policy.Domain)
		assert.Equal(t, w.policy, pr.Policy.Type, pr.Policy.Domain)
		assert.Equal(t, tlsrpt.Summary{TotalFailureSessionCount: 1}, pr.Summary, pr.Policy.Domain)
		require.Len(t, pr.FailureDetails, 1)
		assert.Equal(t, w.result, pr.FailureDetails[0].ResultType, pr.Policy.Domain)
		assert.Equal(t, "192.0.2.1", pr.FailureDetails[0].SendingMTAIP)
	}
}
