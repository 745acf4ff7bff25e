package interop

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pfxBuild builds the smtpsec command once per test binary.
var pfxBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// pfxSmtpsec returns the path of a freshly built smtpsec binary.
func pfxSmtpsec(t testing.TB) string {
	t.Helper()
	pfxBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "smtpsec-interop")
		if err != nil {
			pfxBuild.err = err
			return
		}
		pfxBuild.path = filepath.Join(dir, "smtpsec")
		cmd := exec.Command("go", "build", "-o", pfxBuild.path, "github.com/smtpsec/smtpsec/cmd/smtpsec")
		pfxBuild.out, pfxBuild.err = cmd.CombinedOutput()
	})
	if pfxBuild.err != nil {
		t.Fatalf("go build smtpsec: %v\n%s", pfxBuild.err, pfxBuild.out)
	}
	return pfxBuild.path
}

// pfxService is a running "smtpsec serve ..." process.
type pfxService struct {
	cmd   *exec.Cmd
	addrs map[string]string // service name from the "listening" log line -> address
	mu    sync.Mutex
	log   strings.Builder
}

func (s *pfxService) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

var pfxListening = regexp.MustCompile(`msg=listening service="?([^"]+?)"? addr=(\S+)`)

// pfxStartService runs smtpsec with args and waits for n "listening" lines.
// At cleanup it sends SIGTERM and checks for a clean exit.
func pfxStartService(t *testing.T, n int, args ...string) *pfxService {
	t.Helper()
	s := &pfxService{cmd: exec.Command(pfxSmtpsec(t), args...), addrs: map[string]string{}}
	stderr, err := s.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	found := make(chan [2]string, n+4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := pfxListening.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() { <-done; exited <- s.cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("smtpsec %v: exit after SIGTERM: %v", args[:2], err)
			}
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			t.Errorf("smtpsec %v did not exit after SIGTERM", args[:2])
		}
		if t.Failed() {
			t.Logf("smtpsec %v log:\n%s", args[:2], s.Log())
		}
	})
	for range n {
		select {
		case f := <-found:
			s.addrs[f[0]] = f[1]
		case <-done:
			t.Fatalf("smtpsec exited early:\n%s", s.Log())
		case <-time.After(30 * time.Second):
			t.Fatalf("smtpsec did not start:\n%s", s.Log())
		}
	}
	return s
}

// pfxRSS returns the resident set size and its peak (VmHWM) of pid, in KiB.
func pfxRSS(pid int) (rss, peak int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak
}

// pfxSMTP is a minimal SMTP client that shows every reply as the server
// sent it, so that tests can check codes and texts exactly.
type pfxSMTP struct {
	conn net.Conn
	tp   *textproto.Conn
}

type pfxReply struct {
	Code int
	Text string // lines joined with "\n", without the code
}

func (r pfxReply) String() string { return strconv.Itoa(r.Code) + " " + r.Text }

func pfxDial(t *testing.T, addr string) *pfxSMTP {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(60*time.Second)))
	s := &pfxSMTP{conn: c, tp: textproto.NewConn(c)}
	t.Cleanup(func() { _ = s.tp.Close() })
	r := s.read(t)
	require.Equal(t, 220, r.Code, "greeting %v", r)
	return s
}

func (s *pfxSMTP) read(t *testing.T) pfxReply {
	t.Helper()
	code, msg, err := s.tp.ReadResponse(0)
	if err != nil && code == 0 {
		t.Fatalf("reading reply: %v", err)
	}
	return pfxReply{Code: code, Text: msg}
}

// Cmd sends one command line and returns the reply.
func (s *pfxSMTP) Cmd(t *testing.T, format string, args ...any) pfxReply {
	t.Helper()
	require.NoError(t, s.tp.PrintfLine(format, args...))
	return s.read(t)
}

// Must sends a command and requires a reply with the given code.
func (s *pfxSMTP) Must(t *testing.T, code int, format string, args ...any) pfxReply {
	t.Helper()
	r := s.Cmd(t, format, args...)
	require.Equal(t, code, r.Code, "%s -> %v", fmt.Sprintf(format, args...), r)
	return r
}

// Client makes the session look as if it came from ip with helo, through
// Postfix's XCLIENT (smtpd_authorized_xclient_hosts), then says EHLO.
func (s *pfxSMTP) Client(t *testing.T, ip, helo string) {
	t.Helper()
	s.Must(t, 250, "EHLO localhost")
	s.Must(t, 220, "XCLIENT ADDR=%s NAME=[UNAVAILABLE] HELO=%s", ip, helo)
	s.Must(t, 250, "EHLO %s", helo)
}

// Data sends a message.
func (s *pfxSMTP) Data(t *testing.T, msg string) pfxReply {
	t.Helper()
	s.Must(t, 354, "DATA")
	w := s.tp.DotWriter()
	_, err := w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return s.read(t)
}

// pfxReceiver collects what Postfix delivers to the test receiver.
type pfxReceiver struct {
	mu   sync.Mutex
	msgs []pfxDelivery
	cond chan struct{}
}

type pfxDelivery struct {
	From string
	To   []string
	Data string
}

func (r *pfxReceiver) add(d pfxDelivery) {
	r.mu.Lock()
	r.msgs = append(r.msgs, d)
	r.mu.Unlock()
	select {
	case r.cond <- struct{}{}:
	default:
	}
}

// wait returns the first delivery for which match is true.
func (r *pfxReceiver) wait(t *testing.T, what string, match func(pfxDelivery) bool) pfxDelivery {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		for _, d := range r.msgs {
			if match(d) {
				r.mu.Unlock()
				return d
			}
		}
		r.mu.Unlock()
		select {
		case <-r.cond:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no delivery %s within 60s", what)
		}
	}
}

// pfxLoad runs conns goroutines, each calling do n times, all starting at
// once; it returns the number of requests and the time taken. do's error
// fails the test.
func pfxLoad(t *testing.T, conns, n int, setup func(i int) (func(j int) error, func())) (int, time.Duration) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, conns)
		ready sync.WaitGroup
	)
	ready.Add(conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do, closer := setup(i)
			ready.Done()
			if closer != nil {
				defer closer()
			}
			<-start
			if do == nil {
				errs <- fmt.Errorf("connection %d: setup failed", i)
				return
			}
			for j := range n {
				if err := do(j); err != nil {
					errs <- fmt.Errorf("connection %d, request %d: %w", i, j, err)
					return
				}
			}
		}()
	}
	ready.Wait()
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return conns * n, elapsed
}

// pfxDialRetry dials addr until it answers or ctx ends.
func pfxDialRetry(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
