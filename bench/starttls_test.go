package bench

// Server CPU per STARTTLS session with 100 concurrent clients: our receiver
// (internal/smtpserver on starttls.ServerConn), a minimal hand-written server
// and github.com/emersion/go-smtp v0.25.1. Each server runs in a child
// process (this test binary, re-run as TestSTARTTLSBenchPeer), so its CPU
// time can be read from /proc; batches alternate between the servers.
//
//	go test -run '^$' -bench STARTTLSServer -benchtime 40x

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/smtpsec/smtpsec/internal/smtpbench"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// stlsTLS is the one TLS setting of every party: TLS 1.3 with X25519 only.
func stlsTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
}

// TestSTARTTLSBenchPeer is not a test: with STARTTLS_BENCH_ROLE set it is
// the server child process of BenchmarkSTARTTLSServer. It prints its address
// and serves until standard input closes.
func TestSTARTTLSBenchPeer(t *testing.T) {
	role := os.Getenv("STARTTLS_BENCH_ROLE")
	if role == "" {
		t.Skip("server child process of BenchmarkSTARTTLSServer")
	}
	pair, err := tls.LoadX509KeyPair(os.Getenv("STARTTLS_BENCH_CERT"), os.Getenv("STARTTLS_BENCH_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := stlsTLS()
	cfg.Certificates = []tls.Certificate{pair}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel(); _ = ln.Close() }()
	switch role {
	case "smtpsec":
		_ = (&smtpserver.Config{Hostname: "mx.example.test", TLS: &starttls.Server{TLSConfig: cfg}}).Serve(ctx, ln)
	case "minimal":
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go smtpbench.MinimalSession(c, cfg)
		}
	case "go-smtp":
		srv := gosmtp.NewServer(stlsBackend{})
		srv.Domain, srv.TLSConfig = "mx.example.test", cfg
		srv.ReadTimeout, srv.WriteTimeout = 5*time.Minute, time.Minute
		go func() { <-ctx.Done(); _ = srv.Close() }()
		_ = srv.Serve(ln)
	default:
		t.Fatalf("unknown role %q", role)
	}
}

type stlsBackend struct{}

func (stlsBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return stlsSession{}, nil }

type stlsSession struct{}

func (stlsSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (stlsSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (stlsSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (stlsSession) Reset()        {}
func (stlsSession) Logout() error { return nil }

type stlsPeer struct {
	addr string
	pid  int
}

func startSTLSPeer(b *testing.B, role, cert, key string) stlsPeer {
	addr, pid := smtpbench.StartPeer(b, "^TestSTARTTLSBenchPeer$", "STARTTLS_BENCH_ROLE="+role, "STARTTLS_BENCH_CERT="+cert, "STARTTLS_BENCH_KEY="+key)
	return stlsPeer{addr: addr, pid: pid}
}

// stlsClientSession is one client session, the same for every server:
// EHLO, STARTTLS, handshake (verifying), EHLO, MAIL, RCPT, DATA, QUIT.
func stlsClientSession(addr string, cfg *tls.Config) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	reply := func() (string, error) {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return "", err
			}
			if len(l) < 4 || l[3] != '-' {
				return l, nil
			}
		}
	}
	step := func(w io.Writer, cmd string, want byte) error {
		if cmd != "" {
			if _, err := io.WriteString(w, cmd); err != nil {
				return err
			}
		}
		r, err := reply()
		if err != nil {
			return err
		}
		if r[0] != want {
			return fmt.Errorf("%q: %q", cmd, r)
		}
		return nil
	}
	for _, s := range []struct {
		cmd  string
		want byte
	}{{"", '2'}, {"EHLO client.example.test\r\n", '2'}, {"STARTTLS\r\n", '2'}} {
		if err := step(conn, s.cmd, s.want); err != nil {
			return err
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	defer tc.Close()
	br = bufio.NewReader(tc)
	for _, s := range []struct {
		cmd  string
		want byte
	}{{"EHLO client.example.test\r\n", '2'}, {"MAIL FROM:<a@example.test>\r\n", '2'}, {"RCPT TO:<b@example.test>\r\n", '2'}, {"DATA\r\n", '3'}, {"Subject: bench\r\n\r\nhello\r\n.\r\n", '2'}, {"QUIT\r\n", '2'}} {
		if err := step(tc, s.cmd, s.want); err != nil {
			return err
		}
	}
	return nil
}

func stlsBatch(addr string, cfg *tls.Config, clients int) error {
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stlsClientSession(addr, cfg)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// BenchmarkSTARTTLSServer reports each server's CPU time per session and
// the ratios to the minimal server. One iteration is one batch of 100
// concurrent sessions against each server, in rotating order.
func BenchmarkSTARTTLSServer(b *testing.B) {
	const clients = 100
	ca := testcert.NewCA(b)
	files := testcert.WriteFiles(b, b.TempDir(), "", ca, ca.Leaf("mx.example.test"))
	roles := []string{"smtpsec", "minimal", "go-smtp"}
	peers := make([]stlsPeer, len(roles))
	for i, r := range roles {
		peers[i] = startSTLSPeer(b, r, files.Cert, files.Key)
	}
	cfg := stlsTLS()
	cfg.RootCAs, cfg.ServerName = ca.Pool(), "mx.example.test"
	cpu := make([]time.Duration, len(roles))
	n := 0
	for b.Loop() {
		for k := range roles {
			i := (k + n) % len(roles)
			before, err := smtpbench.ProcCPU(peers[i].pid)
			if err != nil {
				b.Fatal(err)
			}
			if err := stlsBatch(peers[i].addr, cfg, clients); err != nil {
				b.Fatalf("%s: %v", roles[i], err)
			}
			after, _ := smtpbench.ProcCPU(peers[i].pid)
			cpu[i] += after - before
		}
		n++
	}
	sessions := float64(n * clients)
	for i, r := range roles {
		b.ReportMetric(float64(cpu[i].Nanoseconds())/sessions, r+"-cpu-ns/session")
		if cpu[1] > 0 {
			b.ReportMetric(float64(cpu[i])/float64(cpu[1]), r+"/minimal")
		}
	}
}
