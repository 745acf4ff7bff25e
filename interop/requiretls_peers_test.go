package interop

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/requiretls"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/require"
)

// rtLog records command lines, with the TLS state they arrived in.
type rtLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *rtLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *rtLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// startRequireTLSReceiver runs our receiver (internal/smtpserver with the
// requiretls checks in its hooks) on 127.0.0.1 with a certificate for
// mx.example.test, and returns its address and the log of commands.
func startRequireTLSReceiver(t testing.TB, leaf *testcert.Leaf) (string, *rtLog) {
	t.Helper()
	log := &rtLog{}
	cfg := &smtpserver.Config{
		Hostname: "mx.example.test",
		TLS:      &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}, ReadTimeout: 30 * time.Second},
		Keywords: func(tlsActive bool) []string {
			if (requiretls.ServerSession{TLS: tlsActive}).Advertise() {
				return []string{requiretls.Keyword}
			}
			return nil
		},
		OnCommand: func(cmd smtpwire.Command, tlsActive bool) {
			state := "plain"
			if tlsActive {
				state = "tls"
			}
			log.add(state + ": " + strings.TrimSpace(cmd.Verb+" "+cmd.Arg))
		},
		Mail: func(_ context.Context, s *smtpserver.Session, cmd *esmtp.Command) *smtpsec.ReplyError {
			_, err := requiretls.ServerSession{TLS: s.TLS != nil}.CheckParams(cmd.Params)
			var re *smtpsec.ReplyError
			if errors.As(err, &re) {
				return re
			}
			return nil
		},
	}
	return smtpserver.Start(t, cfg), log
}

// rtStripTLSProxy is a man in the middle on 127.0.0.1 that relays to
// upstream, replaces STARTTLS in EHLO replies by REQUIRETLS, and logs what
// the client sends.
func rtStripTLSProxy(t *testing.T, upstream string) (string, *rtLog) {
	t.Helper()
	log := &rtLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	starttlsLine := regexp.MustCompile(`(?i)^(250[- ])STARTTLS\r?\n$`)
	relay := func(dst io.WriteCloser, src io.Reader, rewrite bool) {
		defer wg.Done()
		defer dst.Close()
		r := bufio.NewReader(src)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if rewrite {
				if m := starttlsLine.FindStringSubmatch(line); m != nil {
					line = m[1] + requiretls.Keyword + "\r\n"
				}
			} else {
				log.add(strings.TrimRight(line, "\r\n"))
			}
			if _, err := io.WriteString(dst, line); err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.DialTimeout("tcp", upstream, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			deadline := time.Now().Add(time.Minute)
			c.SetDeadline(deadline)
			u.SetDeadline(deadline)
			wg.Add(2)
			go relay(c, u, true)
			go relay(u, c, false)
		}
	}()
	return ln.Addr().String(), log
}

// rtRawSMTP is a line-at-a-time plaintext SMTP client for scripted dialogues.
type rtRawSMTP struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func rtDialRaw(t *testing.T, addr string) *rtRawSMTP {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	t.Cleanup(func() { c.Close() })
	s := &rtRawSMTP{t: t, conn: c, r: bufio.NewReader(c)}
	s.reply()
	return s
}

// reply reads one (possibly multi-line) reply and returns its lines.
func (s *rtRawSMTP) reply() []string {
	s.t.Helper()
	var lines []string
	for {
		l, err := s.r.ReadString('\n')
		require.NoError(s.t, err)
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

func (s *rtRawSMTP) cmd(line string) []string {
	s.t.Helper()
	_, err := io.WriteString(s.conn, line+"\r\n")
	require.NoError(s.t, err)
	return s.reply()
}

// rtMoxServer is a `mox localserve` instance on 127.0.0.1 with free ports.
type rtMoxServer struct {
	SMTP  string         // address of the SMTP listener (mox's port 1025)
	Roots *x509.CertPool // holds mox's self-signed certificate for "localhost"
}

// rtStartMox builds mox v0.0.15 (the interop module's tool dependency) with
// `go tool -n mox`, writes a localserve configuration, moves every listener
// to a free port, starts it and waits for its SMTP listener.
func rtStartMox(t testing.TB) *rtMoxServer {
	t.Helper()
	goBin := requirePeer(t, "go")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "tool", "-n", "mox").Output()
	require.NoError(t, err, "building mox: %s", out)
	mox := strings.TrimSpace(string(out))

	home := t.TempDir()
	dir := filepath.Join(home, "localserve") // must not exist before the first run
	env := append(os.Environ(), "HOME="+home)
	initCmd := exec.CommandContext(ctx, mox, "localserve", "-dir", dir, "-ip", "127.0.0.1", "-initonly")
	initCmd.Env = env
	b, err := initCmd.CombinedOutput()
	require.NoError(t, err, "mox localserve -initonly: %s", b)

	// Every fixed port of the configuration gets a free one.
	confPath := filepath.Join(dir, "mox.conf")
	conf, err := os.ReadFile(confPath)
	require.NoError(t, err)
	ports := map[string]string{}
	portLine := regexp.MustCompile(`(?m)^(\s*Port:\s*)(\d+)\s*$`)
	conf = portLine.ReplaceAllFunc(conf, func(m []byte) []byte {
		sub := portLine.FindSubmatch(m)
		old := string(sub[2])
		if _, ok := ports[old]; !ok {
			ports[old] = rtFreePort(t)
		}
		return []byte(string(sub[1]) + ports[old])
	})
	require.Contains(t, ports, "1025", "mox.conf has no SMTP port 1025")
	require.NoError(t, os.WriteFile(confPath, conf, 0o600))

	runCtx, stop := context.WithCancel(context.Background())
	cmd := exec.CommandContext(runCtx, mox, "localserve", "-dir", dir)
	cmd.Env = env
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &rtSyncWriter{w: &logs}, &rtSyncWriter{w: &logs}
	cmd.WaitDelay = 5 * time.Second
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stop()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mox output:\n%s", logs.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", ports["1025"])
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mox SMTP listener %s not up: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "localhost.crt"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	return &rtMoxServer{SMTP: addr, Roots: roots}
}

func rtFreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

type rtSyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *rtSyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// upgrade dials addr and runs our client's STARTTLS upgrade under p,
// verifying the server as serverName.
func rtUpgrade(t *testing.T, addr, serverName string, p *starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	c := &starttls.Client{Hostname: "client.example.test", GreetingTimeout: 30 * time.Second, CommandTimeout: 30 * time.Second}
	s, err := c.Upgrade(ctx, conn, serverName, p)
	if s != nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}
