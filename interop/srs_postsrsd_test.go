package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postsrsdOptions are the command-line settings of a private postsrsd 1.x.
type postsrsdOptions struct {
	Secrets   []string // one per line of the secrets file; the first signs
	Domain    string   // -d
	Separator byte     // -a; 0 for the default '='
	HashLen   int      // -n; 0 for the default 4
	HashMin   int      // -N; 0 for the default 4
	Always    bool     // -A
	Exclude   []string // -X, comma-separated
}

// postsrsd is a running postsrsd with one open connection to each of its
// two tcp_table services.
type postsrsd struct {
	Forward, Reverse *srsTCPTable
}

// startPostsrsd runs postsrsd in the foreground on 127.0.0.1 with its own
// secrets file and two free ports, and stops it at cleanup. The Debian
// service is never involved.
func startPostsrsd(t *testing.T, bin string, o postsrsdOptions) *postsrsd {
	t.Helper()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "postsrsd.secret")
	require.NoError(t, os.WriteFile(secrets, []byte(strings.Join(o.Secrets, "\n")+"\n"), 0o600))

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		fport, rport := srsFreePort(t), srsFreePort(t)
		args := []string{"-s" + secrets, "-d" + o.Domain, "-l127.0.0.1", "-4",
			"-f" + strconv.Itoa(fport), "-r" + strconv.Itoa(rport), "-t60"}
		if o.Separator != 0 {
			args = append(args, "-a"+string(o.Separator))
		}
		if o.HashLen != 0 {
			args = append(args, "-n"+strconv.Itoa(o.HashLen))
		}
		if o.HashMin != 0 {
			args = append(args, "-N"+strconv.Itoa(o.HashMin))
		}
		if o.Always {
			args = append(args, "-A")
		}
		if len(o.Exclude) > 0 {
			args = append(args, "-X"+strings.Join(o.Exclude, ","))
		}
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		fwd, err1 := srsDialTable(fport, exited)
		if err1 != nil {
			lastErr = fmt.Errorf("postsrsd %v: %w; output: %s", args, err1, stderr.String())
			_ = cmd.Process.Kill()
			<-exited
			continue // most likely a port taken between srsFreePort and bind
		}
		rev, err2 := srsDialTable(rport, exited)
		if err2 != nil {
			fwd.Close()
			lastErr = fmt.Errorf("postsrsd %v: %w; output: %s", args, err2, stderr.String())
			_ = cmd.Process.Kill()
			<-exited
			continue
		}
		t.Cleanup(func() {
			fwd.Close()
			rev.Close()
			_ = cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				t.Errorf("postsrsd (pid %d) did not exit", cmd.Process.Pid)
			}
		})
		return &postsrsd{Forward: fwd, Reverse: rev}
	}
	t.Fatalf("cannot start postsrsd: %v", lastErr)
	return nil
}

// srsFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func srsFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// srsTCPTable is a client of Postfix's tcp_table protocol (tcp_table(5)):
// "get <key>\n" answered by "200 <value>\n" or "500 <text>\n", with keys
// and values %XX-encoded.
type srsTCPTable struct {
	conn net.Conn
	r    *bufio.Reader
}

// srsDialTable connects to 127.0.0.1:port, retrying for up to 5 seconds while
// the server starts, or until exited reports that it died.
func srsDialTable(port int, exited <-chan error) (*srsTCPTable, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return &srsTCPTable{conn: c, r: bufio.NewReader(c)}, nil
		}
		select {
		case werr := <-exited:
			return nil, fmt.Errorf("exited: %v", werr)
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *srsTCPTable) Close() { _ = c.conn.Close() }

// Get looks key up. It returns the reply code (200 or 500) and the decoded
// value or text.
func (c *srsTCPTable) Get(key string) (int, string, error) {
	if err := c.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return 0, "", err
	}
	if _, err := c.conn.Write([]byte("get " + srsTableEncode(key) + "\n")); err != nil {
		return 0, "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("reading reply to %q: %w", key, err)
	}
	line = strings.TrimRight(line, "\r\n")
	code, rest, ok := strings.Cut(line, " ")
	n, err := strconv.Atoi(code)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("bad reply %q", line)
	}
	v, err := srsTableDecode(rest)
	if err != nil {
		return 0, "", fmt.Errorf("bad reply %q: %w", line, err)
	}
	return n, v, nil
}

// srsTableEncode %XX-encodes whitespace, control and non-ASCII octets and '%'.
func srsTableEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// srsTableDecode undoes %XX encoding.
func srsTableDecode(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape at %d", i)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}
