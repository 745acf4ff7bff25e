package mtasts_test

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

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

func ExampleParsePolicy() {
	p, err := mtasts.ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Mode, p.MaxAge, p.MX)
	for _, h := range []string{"mail.example.com", "mx1.example.net", "a.b.example.net", "example.net"} {
		fmt.Println(h, p.Match(h))
	}
	// Output:
	// enforce 168h0m0s [mail.example.com *.example.net]
	// mail.example.com true
	// mx1.example.net true
	// a.b.example.net false
	// example.net false
}

func ExampleParseRecord() {
	r, err := mtasts.ParseRecord("v=STSv1; id=20160831085700Z;")
	fmt.Println(r.ID, err)
	_, err = mtasts.ParseRecord("v=STSv1; id=not-alphanumeric")
	fmt.Println(err)
	// Output:
	// 20160831085700Z <nil>
	// mtasts: invalid MTA-STS record: id is not 1 to 32 letters and digits: "v=STSv1; id=not-alphanumeric"
}

// This example serves a policy from a local HTTPS server and the TXT record
// from a local DNS server, then maps the policy to starttls policies for two
// MX hosts.
func ExampleClient_Get() {
	ca := testcert.NewCA(&testing.T{}) // in a test, use the test's own *testing.T
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 86400\n")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mta-sts.example.com").TLS}}
	srv.StartTLS()
	defer srv.Close()

	zone, _ := resolver.ParseZone(strings.NewReader(`_mta-sts.example.com. 300 TXT "v=STSv1; id=1"`), ".")
	dns, err := resolvertest.Start(zone) // a DNS server on loopback
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dns.Close()
	c := &mtasts.Client{
		Resolver: dns.Client(),
		// An HTTP client that reaches mta-sts.example.com at the local
		// server and trusts the test CA.
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
			},
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		}},
		Cache: &mtasts.MemoryCache{},
		Now:   func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) },
	}
	res, err := c.Get(context.Background(), "example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Policy.Mode, res.Policy.MX, res.Expires.Format(time.RFC3339))

	for _, mx := range []string{"mx.example.org", "mx1.example.net"} {
		p, err := res.TLSPolicy(mx, starttls.Policy{Level: starttls.May})
		if err != nil {
			fmt.Println("skip:", err)
			continue
		}
		fmt.Println(mx, p.Level, p.Names)
	}
	res, _ = c.Get(context.Background(), "example.com")
	fmt.Println("cached:", res.Cached)
	// Output:
	// enforce [*.example.net] 2026-03-02T00:00:00Z
	// skip: mtasts: MX host not allowed by the policy: "mx.example.org" for "example.com"
	// mx1.example.net mta-sts [mx1.example.net]
	// cached: true
}
