// Package smtpbench holds the baselines that smtpsec's STARTTLS benchmarks,
// in starttls and in the bench module, measure against: a hand-written
// minimal SMTP server session and a per-process CPU reading. It is test
// support, not API.
package smtpbench

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MinimalSession is a hand-written minimal SMTP server session: no limits,
// no timeouts, constant replies, each written at once. It is the baseline
// the STARTTLS benchmarks compare servers against. A *tls.Conn is served as
// implicit TLS (RFC 8314); any other conn offers STARTTLS. It does close TLS
// with close_notify, as RFC 8446 §6.1 requires of every TLS endpoint.
func MinimalSession(c net.Conn, cfg *tls.Config) {
	var conn net.Conn = c
	defer func() { conn.Close() }()
	br := bufio.NewReader(conn)
	write := func(s string) bool { _, err := io.WriteString(conn, s); return err == nil }
	if !write("220 mx.example.test ESMTP\r\n") {
		return
	}
	_, inTLS := c.(*tls.Conn) // implicit TLS
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.TrimRight(line, "\r\n"))
		if i := strings.IndexByte(verb, ' '); i >= 0 {
			verb = verb[:i]
		}
		switch verb {
		case "EHLO":
			if inTLS {
				write("250-mx.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
			} else {
				write("250-mx.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 STARTTLS\r\n")
			}
		case "STARTTLS":
			write("220 2.0.0 Ready\r\n")
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			conn, br, inTLS = tc, bufio.NewReader(tc), true
		case "DATA":
			write("354 go ahead\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			write("250 2.0.0 OK\r\n")
		case "QUIT":
			write("221 2.0.0 Bye\r\n")
			return
		default:
			write("250 2.0.0 OK\r\n")
		}
	}
}

// ProcCPU returns the CPU time a process has used: the sum over its threads
// of the first field of /proc/PID/task/TID/schedstat (nanoseconds on CPU),
// much finer than the 10 ms ticks of /proc/PID/stat.
func ProcCPU(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// StartPeer runs the test binary again as a server child process with the
// given -test.run pattern and extra environment (which tells the child
// what to serve), reads the address the child prints on its first line,
// and returns it with the child's pid. The child stops when its stdin
// closes, at the benchmark's cleanup.
func StartPeer(b testing.TB, run string, env ...string) (addr string, pid int) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run="+run)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	return strings.TrimSpace(line), cmd.Process.Pid
}
