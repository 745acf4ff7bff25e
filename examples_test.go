package smtpsec_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/forward"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/requiretls"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
	"github.com/smtpsec/smtpsec/spf"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

// The DNS the examples see, answered from memory: two sending domains with
// SPF and DMARC, and a forwarder.
const exampleZone = `$TTL 300
example.com.             TXT "v=spf1 ip4:192.0.2.0/28 -all"
_dmarc.example.com.      TXT "v=DMARC1; p=reject"
example.net.             TXT "v=spf1 ip4:198.51.100.0/24 -all"
mx.example.net.          A   198.51.100.25
25.100.51.198.in-addr.arpa. PTR mx.example.net.
11.2.0.192.in-addr.arpa.    PTR mail.example.com.
mail.example.com.        A   192.0.2.11
`

func exampleResolver() *resolver.Zone {
	z, err := resolver.ParseZone(strings.NewReader(exampleZone), ".")
	if err != nil {
		panic(err)
	}
	return z
}

// A receiving server on a private submission port requires STARTTLS before
// MAIL, checks SPF at MAIL FROM, and once the message is in reaches a verdict
// on its author's domain with DMARC, writing Authentication-Results.
func Example_receive() {
	ctx := context.Background()
	dns := exampleResolver()

	// 1. STARTTLS: the server's gate refuses MAIL before TLS.
	srv := &starttls.Server{Required: true}
	if re := srv.Gate("MAIL", false); re != nil {
		fmt.Print("before TLS: ", strings.TrimSuffix(re.Reply.String(), "\r\n"), "\n")
	}
	fmt.Println("after TLS, gate passes:", srv.Gate("MAIL", true) == nil)

	// 2. SPF at MAIL FROM: a client in example.com's range passes, and the
	// outcome is kept for DMARC.
	checker := &spf.Checker{Resolver: dns, ReceiverDomain: "mx.example.org"}
	out, err := checker.Check(ctx, spf.Input{
		IP:       netip.MustParseAddr("192.0.2.11"),
		HELO:     "mail.example.com",
		MailFrom: "alice@example.com",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("spf:", out.Result, "by", out.Mechanism)

	// 3. The verdict, from the session facts and the message's From.
	v, err := (&sender.Checker{AuthservID: "mx.example.org", Resolver: dns, DisableHELOSPF: true}).Check(ctx,
		sender.Session{ClientIP: out.IP, HELO: out.HELO, MailFrom: "alice@example.com", SPF: &out},
		sender.Message{From: []string{"Alice <alice@example.com>"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("disposition:", v.Disposition, "dmarc:", v.DMARC.Status)
	fmt.Print(strings.ReplaceAll(v.AuthResults, "\r\n", "\n"))
	// Output:
	// before TLS: 530 5.7.0 Must issue a STARTTLS command first
	// after TLS, gate passes: true
	// spf: pass by ip4:192.0.2.0/28
	// disposition: accept dmarc: pass
	// Authentication-Results: mx.example.org;
	// 	iprev=pass (mail.example.com) policy.iprev=192.0.2.11;
	// 	spf=pass smtp.mailfrom=alice@example.com;
	// 	dmarc=pass (p=reject dis=accept) header.from=example.com
}

// A forwarder (mx.example.net) relays mail for a user who forwards to another
// provider. It rewrites the envelope sender with SRS, so that the next hop's
// SPF check asks about the forwarder's own domain and passes; a bounce to the
// rewritten address is reversed to the original sender.
func Example_forward() {
	ctx := context.Background()
	day := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	srs, err := forward.NewSRS(forward.Config{
		Domain:  "example.net",
		Secrets: [][]byte{[]byte("a secret of at least sixteen octets")},
		Now:     func() time.Time { return day },
	})
	if err != nil {
		panic(err)
	}
	rewritten, err := srs.Forward("alice@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println("MAIL FROM:", rewritten)

	// The next hop checks SPF for the rewritten sender from the forwarder's IP.
	checker := &spf.Checker{Resolver: exampleResolver()}
	for _, from := range []string{"alice@example.com", rewritten} {
		out, _ := checker.Check(ctx, spf.Input{IP: netip.MustParseAddr("198.51.100.25"), HELO: "mx.example.net", MailFrom: from})
		fmt.Printf("spf for %s: %s\n", from, out.Result)
	}

	// Days later the message bounces back to the SRS address.
	srs2, _ := forward.NewSRS(forward.Config{
		Domain:  "example.net",
		Secrets: [][]byte{[]byte("a secret of at least sixteen octets")},
		Now:     func() time.Time { return day.AddDate(0, 0, 3) },
	})
	original, err := srs2.Reverse(rewritten)
	fmt.Println("bounce goes to:", original, err)
	// Output:
	// MAIL FROM: SRS0=/dos=JR=example.com=alice@example.net
	// spf for alice@example.com: fail
	// spf for SRS0=/dos=JR=example.com=alice@example.net: pass
	// bounce goes to: alice@example.com <nil>
}

// A sending MTA delivers a REQUIRETLS message to example.net: it looks up the
// domain's MTA-STS policy, upgrades the connection to the MX host with the
// policy's verification, and lets the message out only through the
// REQUIRETLS gate, which writes the MAIL FROM parameter itself. The MX host,
// the policy's web server and the DNS are local stand-ins here.
func Example_send() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := testcert.NewCA(&testing.T{}) // in a test, use the test's own *testing.T

	// The receiving MX: STARTTLS with a certificate for mx.example.net, and
	// REQUIRETLS advertised inside TLS.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	mx := &smtpserver.Config{
		Hostname: "mx.example.net",
		TLS:      &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.net").TLS}}},
		Keywords: func(tlsActive bool) []string {
			if tlsActive {
				return []string{"REQUIRETLS"}
			}
			return nil
		},
	}
	go mx.Serve(ctx, ln)

	// The policy at https://mta-sts.example.net/.well-known/mta-sts.txt.
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n")
	}))
	web.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mta-sts.example.net").TLS}}
	web.StartTLS()
	defer web.Close()
	dns, _ := resolver.ParseZone(strings.NewReader(`
example.net.          MX  10 mx.example.net.
_mta-sts.example.net. TXT "v=STSv1; id=20261128;"
`), ".")

	// 1. MTA-STS: the policy for the recipient domain, mapped to the MX host.
	sts := &mtasts.Client{
		Resolver: dns,
		Cache:    &mtasts.MemoryCache{},
		HTTPClient: &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", web.Listener.Addr().String())
			},
		}},
	}
	res, err := sts.Get(ctx, "example.net")
	if err != nil {
		panic(err)
	}
	policy, err := res.TLSPolicy("mx.example.net", starttls.Policy{Level: starttls.May, RootCAs: ca.Pool()})
	if err != nil {
		panic(err)
	}
	fmt.Println("policy:", res.Policy.Mode, "level:", policy.Level)

	// 2. STARTTLS with that policy's verification.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	s, err := (&starttls.Client{Hostname: "out.example.org"}).Upgrade(ctx, conn, "mx.example.net", &policy)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	fmt.Println("authenticated by:", s.Authentication())

	// 3. The REQUIRETLS gate: this hop is verified under an MTA-STS policy
	// that matched the MX, and the server advertised REQUIRETLS inside TLS.
	d, reply, err := requiretls.Mail(ctx, s, requiretls.MailInput{
		Tag:         requiretls.TagRequireTLS,
		MX:          requiretls.MXMTASTS,
		ReversePath: "alice@example.org",
	})
	fmt.Println("gate sends:", d.Send(), "with REQUIRETLS:", d.RequireTLS(), "server replied:", reply.Code, err)
	_ = s.Quit(ctx)
	// Output:
	// policy: enforce level: mta-sts
	// authenticated by: pkix
	// gate sends: true with REQUIRETLS: true server replied: 250 <nil>
}
