package starttls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// exampleServer starts a receiver on 127.0.0.1 with a certificate for
// mx.example.test from a throwaway CA, for the examples.
func exampleServer(srv *starttls.Server) (addr string, ca *testcert.CA, stop func()) {
	t := &testing.T{}
	ca = testcert.NewCA(t)
	if srv.TLSConfig == nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&smtpserver.Config{Hostname: "mx.example.test", TLS: srv}).Serve(ctx, ln)
	}()
	return ln.Addr().String(), ca, func() { cancel(); <-done }
}

func ExampleClient_Upgrade() {
	addr, ca, stop := exampleServer(&starttls.Server{})
	defer stop()
	ctx := context.Background()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := &starttls.Client{Hostname: "client.example.org"}
	// The zero Level is Verify: STARTTLS required, certificate checked
	// against RootCAs (nil: the system roots) and the name mx.example.test.
	s, err := c.Upgrade(ctx, conn, "mx.example.test", &starttls.Policy{RootCAs: ca.Pool()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	cs, _ := s.ConnectionState()
	fmt.Println("TLS:", tls.VersionName(cs.Version), "authenticated by", s.Authentication())
	fmt.Println("STARTTLS still advertised:", s.Extensions().Has("STARTTLS"))
	r, _ := s.Command(ctx, "MAIL FROM:<a@example.org>")
	fmt.Println(r.Code)
	_ = s.Quit(ctx)
	// Output:
	// TLS: TLS 1.3 authenticated by pkix
	// STARTTLS still advertised: false
	// 250
}

func ExampleClient_Upgrade_failure() {
	addr, _, stop := exampleServer(&starttls.Server{})
	defer stop()
	conn, _ := net.Dial("tcp", addr)
	// The certificate is not signed by a CA in the system roots.
	_, err := (&starttls.Client{}).Upgrade(context.Background(), conn, "mx.example.test", nil)
	var e *starttls.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, starttls.ErrCertificate), e.Result, e.Temporary())
	}
	// Output: true certificate-not-trusted true
}

func ExamplePolicy_TLSConfig() {
	// The same checks for any client that takes a tls.Config, such as
	// net/smtp's Client.StartTLS or go-smtp's NewClientStartTLS.
	p := &starttls.Policy{Level: starttls.MTASTS, Names: []string{"*.mx.example.net"}}
	cfg := p.TLSConfig(nil, "a.mx.example.net")
	fmt.Println(cfg.ServerName, tls.VersionName(cfg.MinVersion), cfg.VerifyConnection != nil)
	// Output: a.mx.example.net TLS 1.2 true
}

func ExampleLevel() {
	var p starttls.Policy
	fmt.Println(p.Level, p.Level.Mandatory())
	may, _ := starttls.ParseLevel("may")
	fmt.Println(may, may.Mandatory())
	// Output:
	// verify true
	// may false
}

func ExampleServerConn_StartTLS() {
	// A command loop keeps everything the client said in State; StartTLS
	// zeroes it when the upgrade succeeds (RFC 3207 §4.2).
	type session struct{ helo, mailFrom string }
	ca := testcert.NewCA(&testing.T{})
	srv := &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.test").TLS}}}
	client, server := net.Pipe() // a real listener in production
	defer client.Close()
	sc := starttls.NewServerConn[session](srv, server)
	sc.State.helo = "client.example.org"
	fmt.Println(sc.Keywords("PIPELINING"))
	// A STARTTLS with an argument is refused; State is kept.
	err := sc.StartTLS(context.Background(), "now")
	fmt.Println(err, sc.State.helo)
	// Output:
	// [PIPELINING STARTTLS]
	// 501 5.5.4 Syntax: STARTTLS (no parameters allowed) client.example.org
}

// exampleImplicitServer starts an implicit-TLS receiver (RFC 8314) on
// 127.0.0.1 with a certificate for submit.example.test.
func exampleImplicitServer() (addr string, ca *testcert.CA, stop func()) {
	ca = testcert.NewCA(&testing.T{})
	srv := &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf("submit.example.test").TLS}}}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&smtpserver.Config{Hostname: "submit.example.test", TLS: srv, ImplicitTLS: true}).Serve(ctx, ln)
	}()
	return ln.Addr().String(), ca, func() { cancel(); <-done }
}

// Submission from a mail client to its own provider (RFC 8314): TLS from the
// first byte on port 465, verified as a browser would, so that no man in
// the middle can strip it.
func ExampleClient_DialImplicitTLS() {
	addr, ca, stop := exampleImplicitServer() // "submit.example.test:465" in production
	defer stop()
	ctx := context.Background()

	c := &starttls.Client{Hostname: "laptop.example.org"}
	s, err := c.DialImplicitTLS(ctx, addr, "submit.example.test", &starttls.Policy{RootCAs: ca.Pool()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	fmt.Println("encrypted:", s.Encrypted(), "authenticated by", s.Authentication())
	fmt.Println("STARTTLS advertised:", s.Extensions().Has("STARTTLS"))
	r, _ := s.Command(ctx, "MAIL FROM:<me@example.org>")
	fmt.Println(r.Code)
	_ = s.Quit(ctx)

	// Levels that would allow plaintext do not apply.
	_, err = c.DialImplicitTLS(ctx, addr, "submit.example.test", &starttls.Policy{Level: starttls.May})
	fmt.Println(errors.Is(err, starttls.ErrPolicy))
	// Output:
	// encrypted: true authenticated by pkix
	// STARTTLS advertised: false
	// 250
	// true
}

// Relay between MTAs: STARTTLS on port 25, with the acceptable MX names
// from the destination's MTA-STS policy (starttls/mtasts builds this
// Policy), so that stripping STARTTLS or presenting another certificate
// fails instead of falling back to plaintext.
func ExampleClient_Upgrade_mtasts() {
	addr, ca, stop := exampleServer(&starttls.Server{})
	defer stop()
	ctx := context.Background()

	conn, err := net.Dial("tcp", addr) // the MX host, port 25, in production
	if err != nil {
		fmt.Println(err)
		return
	}
	p := &starttls.Policy{Level: starttls.MTASTS, Names: []string{"*.example.test"}, RootCAs: ca.Pool()}
	s, err := (&starttls.Client{Hostname: "out.example.org"}).Upgrade(ctx, conn, "mx.example.test", p)
	if err != nil {
		var e *starttls.Error
		if errors.As(err, &e) {
			fmt.Println("report:", e.Result) // to a TLS report (starttls/tlsrpt)
		}
		return
	}
	defer s.Close()
	fmt.Println(s.Level(), s.Authentication())
	_ = s.Quit(ctx)
	// Output: mta-sts pkix
}
