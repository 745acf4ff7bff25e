package starttls_test

// Benchmarks against hand-written baselines. The peer of each benchmark runs
// in a child process (this test binary, re-executed with STARTTLS_BENCH_ROLE
// set), so that allocations and CPU time are those of the side measured.
//
//	go test -run '^$' -bench . -benchtime 200x ./starttls
//
// BenchmarkClientPaired and BenchmarkServerPaired alternate the two
// contenders within one run (A B B A ...), because back-to-back runs on a
// shared machine drift by more than the difference being measured; they
// report each side's figure and the ratio.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/internal/smtpbench"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

func TestMain(m *testing.M) {
	if role := os.Getenv("STARTTLS_BENCH_ROLE"); role != "" {
		if err := benchPeer(role); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchTLS is the TLS setting both contenders use: same version, same single
// key-exchange group (the post-quantum hybrid alone costs about 40% per
// session, so letting the two sides differ would swamp the comparison).
func benchTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
}

// benchPeer runs a server in this (child) process: it prints its address
// and serves until its standard input closes.
func benchPeer(role string) error {
	pair, err := tls.LoadX509KeyPair(os.Getenv("STARTTLS_BENCH_CERT"), os.Getenv("STARTTLS_BENCH_KEY"))
	if err != nil {
		return err
	}
	cfg := benchTLS()
	cfg.Certificates = []tls.Certificate{pair}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	// STARTTLS_BENCH_CPUPROFILE=FILE profiles the peer.
	if path := os.Getenv("STARTTLS_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path + "." + role)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// STARTTLS_BENCH_MEMPROFILE=FILE writes the peer's allocation profile.
	if path := os.Getenv("STARTTLS_BENCH_MEMPROFILE"); path != "" {
		runtime.MemProfileRate = 512
		defer func() {
			if f, err := os.Create(path + "." + role); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel(); _ = ln.Close() }()
	switch role {
	case "smtpsec":
		return (&smtpserver.Config{Hostname: "mx.example.test", TLS: &starttls.Server{TLSConfig: cfg}}).Serve(ctx, ln)
	case "smtpsec-implicit":
		return (&smtpserver.Config{Hostname: "mx.example.test", TLS: &starttls.Server{TLSConfig: cfg}, ImplicitTLS: true}).Serve(ctx, ln)
	case "minimal-implicit":
		for {
			c, err := ln.Accept()
			if err != nil {
				return nil //nolint:nilerr // the listener closes at the end
			}
			go func() {
				tc := tls.Server(c, cfg)
				if tc.Handshake() != nil {
					_ = c.Close()
					return
				}
				smtpbench.MinimalSession(tc, cfg)
			}()
		}
	case "minimal":
		for {
			c, err := ln.Accept()
			if err != nil {
				return nil //nolint:nilerr // the listener closes at the end
			}
			go smtpbench.MinimalSession(c, cfg)
		}
	default:
		return fmt.Errorf("unknown role %q", role)
	}
}

// benchEnv holds the certificates, written once per process.
type benchEnv struct {
	ca        *testcert.CA
	cert, key string
}

var (
	benchOnce sync.Once
	benchE    benchEnv
)

func getBenchEnv(b *testing.B) benchEnv {
	benchOnce.Do(func() {
		ca := testcert.NewCA(b)
		dir, err := os.MkdirTemp("", "starttls-bench")
		if err != nil {
			b.Fatal(err)
		}
		f := testcert.WriteFiles(b, dir, "", ca, ca.Leaf("mx.example.test"))
		benchE = benchEnv{ca: ca, cert: f.Cert, key: f.Key}
	})
	return benchE
}

// startPeer starts a server child process and returns its address and pid.
func startPeer(b *testing.B, role string) (string, int) {
	env := getBenchEnv(b)
	return smtpbench.StartPeer(b, "^$", "STARTTLS_BENCH_ROLE="+role, "STARTTLS_BENCH_CERT="+env.cert, "STARTTLS_BENCH_KEY="+env.key)
}

// baselineSession is one session of the hand-written client: dial, start
// TLS with upgrade (baselineUpgrade or baselineImplicit), QUIT.
func baselineSession(addr string, upgrade func(net.Conn, *tls.Config) (*tls.Conn, *bufio.Reader, error), cfg *tls.Config) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	tc, br, err := upgrade(conn, cfg)
	if err != nil {
		conn.Close()
		return err
	}
	_, _ = io.WriteString(tc, "QUIT\r\n")
	_, _ = br.ReadString('\n')
	return tc.Close()
}

// baselineUpgrade is the hand-written client: greeting, EHLO, STARTTLS with
// bufio, crypto/tls handshake (standard verification), EHLO.
func baselineUpgrade(conn net.Conn, cfg *tls.Config) (*tls.Conn, *bufio.Reader, error) {
	br := bufio.NewReader(conn)
	readReply := func(r *bufio.Reader) (string, error) {
		var all strings.Builder
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			all.WriteString(l)
			if len(l) < 4 || l[3] != '-' {
				return all.String(), nil
			}
		}
	}
	if _, err := readReply(br); err != nil {
		return nil, nil, err
	}
	if _, err := io.WriteString(conn, "EHLO client.example.test\r\n"); err != nil {
		return nil, nil, err
	}
	ehlo, err := readReply(br)
	if err != nil {
		return nil, nil, err
	}
	if !strings.Contains(ehlo, "STARTTLS") {
		return nil, nil, errors.New("no STARTTLS")
	}
	if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
		return nil, nil, err
	}
	if r, err := readReply(br); err != nil || !strings.HasPrefix(r, "220") {
		return nil, nil, fmt.Errorf("STARTTLS: %q %v", r, err)
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, nil, err
	}
	br = bufio.NewReader(tc)
	if _, err := io.WriteString(tc, "EHLO client.example.test\r\n"); err != nil {
		return nil, nil, err
	}
	if _, err := readReply(br); err != nil {
		return nil, nil, err
	}
	return tc, br, nil
}

// contender is one side of a client benchmark: one session (dial, upgrade,
// QUIT) against addr.
type contender func(addr string) error

func clientContenders(b *testing.B) (ours, base contender) {
	env := getBenchEnv(b)
	c := &starttls.Client{Hostname: "client.example.test", TLSConfig: benchTLS()}
	policy := &starttls.Policy{RootCAs: env.ca.Pool()}
	ctx := context.Background()
	ours = func(addr string) error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		s, err := c.Upgrade(ctx, conn, "mx.example.test", policy)
		if err != nil {
			return err
		}
		return s.Quit(ctx)
	}
	cfg := benchTLS()
	cfg.RootCAs, cfg.ServerName = env.ca.Pool(), "mx.example.test"
	base = func(addr string) error { return baselineSession(addr, baselineUpgrade, cfg) }
	return ours, base
}

// BenchmarkClientUpgrade measures each client alone (allocations are exact:
// the server is another process).
func BenchmarkClientUpgrade(b *testing.B) {
	addr, _ := startPeer(b, "minimal")
	ours, base := clientContenders(b)
	for _, c := range []struct {
		name string
		run  contender
	}{{"smtpsec", ours}, {"baseline", base}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.run(addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// selfCPU returns the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU returns the CPU time the calling OS thread has used; with the
// goroutine locked to its thread, that is the session's own work, without
// the garbage collector's and the scheduler's background work.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pairStats accumulates one contender's cost.
type pairStats struct {
	wall, cpu, thread time.Duration
	allocs            uint64
}

// BenchmarkClientPaired runs the two clients alternately (A B B A ...) and
// reports each one's wall time, CPU time (process, and the benchmark's own
// locked thread) and allocations per session, and the ratios. Allocations are counted with runtime.ReadMemStats around each
// session (outside the timed part); the server is another process, so both
// CPU time and allocations are the client's alone.
func BenchmarkClientPaired(b *testing.B) {
	addr, _ := startPeer(b, "minimal")
	ours, base := clientContenders(b)
	var so, sb pairStats
	var n uint64
	var m0, m1 runtime.MemStats
	measure := func(c contender, st *pairStats) {
		runtime.ReadMemStats(&m0)
		cpu0, th0, start := selfCPU(), threadCPU(), time.Now()
		if err := c(addr); err != nil {
			b.Fatal(err)
		}
		st.wall += time.Since(start)
		st.thread += threadCPU() - th0
		st.cpu += selfCPU() - cpu0
		runtime.ReadMemStats(&m1)
		st.allocs += m1.Mallocs - m0.Mallocs
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	for b.Loop() {
		if n%2 == 0 {
			measure(ours, &so)
			measure(base, &sb)
		} else {
			measure(base, &sb)
			measure(ours, &so)
		}
		n++
	}
	f := float64(n)
	b.ReportMetric(float64(so.wall.Nanoseconds())/f, "smtpsec-ns/session")
	b.ReportMetric(float64(sb.wall.Nanoseconds())/f, "baseline-ns/session")
	b.ReportMetric(float64(so.wall)/float64(sb.wall), "time-ratio")
	b.ReportMetric(float64(so.cpu.Nanoseconds())/f, "smtpsec-cpu-ns/session")
	b.ReportMetric(float64(sb.cpu.Nanoseconds())/f, "baseline-cpu-ns/session")
	b.ReportMetric(float64(so.cpu)/float64(sb.cpu), "cpu-ratio")
	b.ReportMetric(float64(so.thread.Nanoseconds())/f, "smtpsec-thread-cpu-ns/session")
	b.ReportMetric(float64(sb.thread.Nanoseconds())/f, "baseline-thread-cpu-ns/session")
	b.ReportMetric(float64(so.thread)/float64(sb.thread), "thread-cpu-ratio")
	b.ReportMetric(float64(so.allocs)/f, "smtpsec-allocs/session")
	b.ReportMetric(float64(sb.allocs)/f, "baseline-allocs/session")
	b.ReportMetric(float64(so.allocs)/float64(sb.allocs), "alloc-ratio")
}

// serverBatch runs one batch of sessions against addr, 100 at a time: each
// session upgrades with the baseline client and sends one message.
func serverBatch(addr string, cfg *tls.Config, clients int) error {
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			tc, br, err := baselineUpgrade(conn, cfg)
			if err != nil {
				conn.Close()
				errs <- err
				return
			}
			defer tc.Close()
			if _, err := io.WriteString(tc, "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"); err != nil {
				errs <- err
				return
			}
			for i := 0; i < 3; i++ {
				if _, err := br.ReadString('\n'); err != nil {
					errs <- err
					return
				}
			}
			if _, err := io.WriteString(tc, "Subject: bench\r\n\r\nhello\r\n.\r\nQUIT\r\n"); err != nil {
				errs <- err
				return
			}
			for i := 0; i < 2; i++ {
				if _, err := br.ReadString('\n'); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkServerPaired measures server CPU per session with 100 concurrent
// clients, our receiver (internal/smtpserver on starttls.ServerConn) against
// a minimal hand-written server, alternating batches. Each iteration is one
// batch of 100 concurrent sessions per server.
func BenchmarkServerPaired(b *testing.B) {
	const clients = 100
	oursAddr, oursPID := startPeer(b, "smtpsec")
	minAddr, minPID := startPeer(b, "minimal")
	cfg := benchTLS()
	cfg.RootCAs, cfg.ServerName = getBenchEnv(b).ca.Pool(), "mx.example.test"
	var cOurs, cMin time.Duration
	var n int
	batch := func(addr string, pid int, acc *time.Duration) {
		before, err := smtpbench.ProcCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		if err := serverBatch(addr, cfg, clients); err != nil {
			b.Fatal(err)
		}
		after, _ := smtpbench.ProcCPU(pid)
		*acc += after - before
	}
	for b.Loop() {
		if n%2 == 0 {
			batch(oursAddr, oursPID, &cOurs)
			batch(minAddr, minPID, &cMin)
		} else {
			batch(minAddr, minPID, &cMin)
			batch(oursAddr, oursPID, &cOurs)
		}
		n++
	}
	sessions := float64(n * clients)
	b.ReportMetric(float64(cOurs.Nanoseconds())/sessions, "smtpsec-cpu-ns/session")
	b.ReportMetric(float64(cMin.Nanoseconds())/sessions, "minimal-cpu-ns/session")
	if cMin > 0 {
		b.ReportMetric(float64(cOurs)/float64(cMin), "cpu-ratio")
	}
}

// baselineImplicit is the hand-written implicit-TLS client: crypto/tls
// handshake (standard verification), greeting and EHLO read with bufio.
func baselineImplicit(conn net.Conn, cfg *tls.Config) (*tls.Conn, *bufio.Reader, error) {
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(tc)
	readReply := func() (string, error) {
		var all strings.Builder
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return "", err
			}
			all.WriteString(l)
			if len(l) < 4 || l[3] != '-' {
				return all.String(), nil
			}
		}
	}
	if r, err := readReply(); err != nil || !strings.HasPrefix(r, "220") {
		return nil, nil, fmt.Errorf("greeting: %q %v", r, err)
	}
	if _, err := io.WriteString(tc, "EHLO client.example.test\r\n"); err != nil {
		return nil, nil, err
	}
	if _, err := readReply(); err != nil {
		return nil, nil, err
	}
	return tc, br, nil
}

// BenchmarkClientImplicitTLS measures one implicit-TLS session (dial,
// handshake, greeting, EHLO, QUIT) of our client and of the baseline,
// against the minimal implicit-TLS server in another process.
func BenchmarkClientImplicitTLS(b *testing.B) {
	addr, _ := startPeer(b, "minimal-implicit")
	env := getBenchEnv(b)
	c := &starttls.Client{Hostname: "client.example.test", TLSConfig: benchTLS()}
	policy := &starttls.Policy{RootCAs: env.ca.Pool()}
	ctx := context.Background()
	cfg := benchTLS()
	cfg.RootCAs, cfg.ServerName = env.ca.Pool(), "mx.example.test"
	for _, cc := range []struct {
		name string
		run  contender
	}{
		{"smtpsec", func(addr string) error {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			s, err := c.ImplicitTLS(ctx, conn, "mx.example.test", policy)
			if err != nil {
				return err
			}
			return s.Quit(ctx)
		}},
		{"baseline", func(addr string) error { return baselineSession(addr, baselineImplicit, cfg) }},
	} {
		b.Run(cc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := cc.run(addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServerImplicitTLS runs the baseline client against our
// implicit-TLS server (smtpserver with ImplicitTLS, AcceptTLS) and against
// the minimal one, each in a child process: ns/op is the whole session's
// latency as the client sees it; the allocations are the client's, the same
// for both.
func BenchmarkServerImplicitTLS(b *testing.B) {
	env := getBenchEnv(b)
	cfg := benchTLS()
	cfg.RootCAs, cfg.ServerName = env.ca.Pool(), "mx.example.test"
	for _, role := range []string{"smtpsec-implicit", "minimal-implicit"} {
		b.Run(role, func(b *testing.B) {
			addr, _ := startPeer(b, role)
			b.ReportAllocs()
			for b.Loop() {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				tc, br, err := baselineImplicit(conn, cfg)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.WriteString(tc, "QUIT\r\n")
				_, _ = br.ReadString('\n')
				_ = tc.Close()
			}
		})
	}
}
