package postfix

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type server interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// start serves s on a loopback port; cancel stops it, and the returned
// channel yields Serve's result.
func start(t *testing.T, s server) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	fin := make(chan struct{})
	go func() { ch <- s.Serve(ctx, ln); close(fin) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-fin:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ln.Addr().String(), cancel, ch
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func readPolicyReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	empty, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if empty != "\n" {
		return "", fmt.Errorf("reply not ended by an empty line: %q", empty)
	}
	return strings.TrimSuffix(line, "\n"), nil
}

func TestPolicyServer(t *testing.T) {
	t.Parallel()
	s := &PolicyServer{Handler: func(ctx context.Context, r *PolicyRequest) (Action, error) {
		switch r.Get("sender") {
		case "error@example.com":
			return "", errors.New("cannot decide")
		case "invalid@example.com":
			return "DUNNO\naction=OK", nil
		case "reject@example.com":
			return "550 5.7.23 no", nil
		}
		return Prepend("X-Seen: " + r.Get("client_address")), nil
	}}
	addr, _, _ := start(t, s)

	t.Run("several requests on one connection", func(t *testing.T) {
		t.Parallel()
		c, br := dial(t, addr)
		for i := range 5 {
			_, err := fmt.Fprintf(c, "request=smtpd_access_policy\nclient_address=192.0.2.%d\nsender=a@example.com\n\n", i)
			require.NoError(t, err)
			got, err := readPolicyReply(br)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("action=PREPEND X-Seen: 192.0.2.%d", i), got)
		}
		_, err := io.WriteString(c, "request=smtpd_access_policy\nsender=reject@example.com\n\n")
		require.NoError(t, err)
		got, err := readPolicyReply(br)
		require.NoError(t, err)
		assert.Equal(t, "action=550 5.7.23 no", got)
	})
	for _, tt := range []struct{ name, req string }{
		{"malformed line", "request=smtpd_access_policy\nthis is not an attribute\n\n"},
		{"handler error", "request=smtpd_access_policy\nsender=error@example.com\n\n"},
		{"invalid action", "request=smtpd_access_policy\nsender=invalid@example.com\n\n"},
		{"too large", "request=" + strings.Repeat("x", DefaultPolicyRequestSize) + "\n\n"},
	} {
		t.Run(tt.name+" closes without reply", func(t *testing.T) {
			t.Parallel()
			c, br := dial(t, addr)
			_, _ = io.WriteString(c, tt.req)
			line, err := br.ReadString('\n')
			assert.Empty(t, line)
			assertClosed(t, err)
		})
	}
}

func TestPolicyServerZeroValue(t *testing.T) {
	t.Parallel()
	addr, _, _ := start(t, &PolicyServer{})
	c, br := dial(t, addr)
	_, err := io.WriteString(c, "request=smtpd_access_policy\n\n")
	require.NoError(t, err)
	got, err := readPolicyReply(br)
	require.NoError(t, err)
	assert.Equal(t, "action=DUNNO", got)
}

func TestPolicyServerLimits(t *testing.T) {
	t.Parallel()
	s := &PolicyServer{Limits: Limits{MaxRequestsPerConn: 2, IdleTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond}}
	addr, _, _ := start(t, s)
	t.Run("requests per connection", func(t *testing.T) {
		t.Parallel()
		c, br := dial(t, addr)
		for range 2 {
			_, err := io.WriteString(c, "request=smtpd_access_policy\n\n")
			require.NoError(t, err)
			_, err = readPolicyReply(br)
			require.NoError(t, err)
		}
		_, _ = io.WriteString(c, "request=smtpd_access_policy\n\n")
		// The connection is closed without a reply: EOF, or a reset when
		// the server closed with the third request unread in its buffer.
		line, err := br.ReadString('\n')
		assert.Empty(t, line)
		assertClosed(t, err)
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		_, br := dial(t, addr)
		_, err := br.ReadString('\n')
		assert.ErrorIs(t, err, io.EOF)
	})
	t.Run("slow request", func(t *testing.T) {
		t.Parallel()
		c, br := dial(t, addr)
		_, err := io.WriteString(c, "request=smtpd_access_policy\n")
		require.NoError(t, err)
		_, err = br.ReadString('\n')
		assert.ErrorIs(t, err, io.EOF)
	})
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	s := &PolicyServer{Limits: Limits{MaxConns: 2}}
	addr, _, _ := start(t, s)
	c1, _ := dial(t, addr)
	c2, _ := dial(t, addr)
	_, _ = c1, c2
	// A third connection is accepted by the kernel but not served until
	// one of the first two ends.
	c3, br3 := dial(t, addr)
	_, err := io.WriteString(c3, "request=smtpd_access_policy\n\n")
	require.NoError(t, err)
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = br3.ReadString('\n')
	require.True(t, isTimeout(err), "served beyond MaxConns: %v", err)
	require.NoError(t, c1.Close())
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := readPolicyReply(br3)
	require.NoError(t, err)
	assert.Equal(t, "action=DUNNO", got)
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	s := &PolicyServer{Handler: func(ctx context.Context, r *PolicyRequest) (Action, error) {
		if r.Get("slow") != "" {
			close(entered)
			<-release
		}
		return Dunno, nil
	}}
	addr, cancel, done := start(t, s)
	idle, idleBr := dial(t, addr)
	_, _ = idle, idleBr
	busy, busyBr := dial(t, addr)
	_, err := io.WriteString(busy, "request=smtpd_access_policy\nslow=1\n\n")
	require.NoError(t, err)
	<-entered
	cancel()
	// The idle connection is closed at once; the busy one gets its reply.
	_, err = idleBr.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
	select {
	case <-done:
		t.Fatal("Serve returned with a request in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	got, err := readPolicyReply(busyBr)
	require.NoError(t, err)
	assert.Equal(t, "action=DUNNO", got)
	_, err = busyBr.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "still accepting after shutdown")
}

func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	var sawCancel atomic.Bool
	s := &PolicyServer{
		Limits: Limits{ShutdownTimeout: 100 * time.Millisecond, HandlerTimeout: time.Hour},
		Handler: func(ctx context.Context, r *PolicyRequest) (Action, error) {
			close(entered)
			<-ctx.Done()
			sawCancel.Store(true)
			return "", ctx.Err()
		},
	}
	addr, cancel, done := start(t, s)
	c, br := dial(t, addr)
	_, err := io.WriteString(c, "request=smtpd_access_policy\n\n")
	require.NoError(t, err)
	<-entered
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ShutdownTimeout")
	}
	assert.True(t, sawCancel.Load())
	_, err = br.ReadString('\n')
	assert.Error(t, err)
}

func TestHandlerTimeout(t *testing.T) {
	t.Parallel()
	s := &SocketmapServer{
		Limits: Limits{HandlerTimeout: 50 * time.Millisecond},
		Handler: func(ctx context.Context, name, key string) MapReply {
			<-ctx.Done()
			return MapReply{Status: MapTimeout, Text: "lookup timed out"}
		},
	}
	addr, _, _ := start(t, s)
	c, br := dial(t, addr)
	_, err := c.Write(AppendNetstring(nil, "forward a@example.com"))
	require.NoError(t, err)
	p, err := ReadNetstring(br, 0)
	require.NoError(t, err)
	assert.Equal(t, "TIMEOUT lookup timed out", string(p))
}

func upperMap(ctx context.Context, name, key string) MapReply {
	switch {
	case name == "temp":
		return MapReply{Status: MapTemp, Text: "try later"}
	case name != "upper":
		return MapReply{Status: MapPerm, Text: "unknown map " + name}
	case key == "":
		return MapReply{Status: MapNotFound}
	}
	return MapReply{Status: MapOK, Text: strings.ToUpper(key)}
}

func TestSocketmapServer(t *testing.T) {
	t.Parallel()
	addr, _, _ := start(t, &SocketmapServer{Handler: upperMap})
	c, br := dial(t, addr)
	for _, tt := range []struct{ req, want string }{
		{"upper a@example.com", "OK A@EXAMPLE.COM"},
		{"upper ", "NOTFOUND "},
		{"temp x", "TEMP try later"},
		{"other x", "PERM unknown map other"},
		{"nospace", "PERM malformed request"},
		{"upper é ü", "OK É Ü"},
	} {
		_, err := c.Write(AppendNetstring(nil, tt.req))
		require.NoError(t, err)
		p, err := ReadNetstring(br, MaxSocketmapReply)
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(p), tt.req)
	}
	// A broken netstring closes the connection.
	_, err := io.WriteString(c, "5:hello;")
	require.NoError(t, err)
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
}

func TestTCPTableServer(t *testing.T) {
	t.Parallel()
	addr, _, _ := start(t, &TCPTableServer{Map: "upper", Handler: upperMap, Limits: Limits{MaxRequestSize: 200}})
	c, br := dial(t, addr)
	for _, tt := range []struct{ req, want string }{
		{"get a@example.com", "200 A@EXAMPLE.COM"},
		{"get a%20b", "200 A%20B"},
		{"get %C3%A9", "200 %C3%89"},
		{"put a b", "500 malformed%20request"},
		{"get a%zz", "500 malformed%20request"},
	} {
		_, err := io.WriteString(c, tt.req+"\n")
		require.NoError(t, err)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, tt.want+"\n", line, tt.req)
	}
	_, err := io.WriteString(c, "get "+strings.Repeat("a", 300)+"\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "500 request%20too%20long\n", line)
	_, err = br.ReadByte()
	assertClosed(t, err)
}

// TestConcurrentConnections runs 200 connections with requests in flight
// at once against a handler that holds every request until all 200 have
// arrived: the server must serve them concurrently.
func TestConcurrentConnections(t *testing.T) {
	t.Parallel()
	const n = 200
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	s := &PolicyServer{Handler: func(ctx context.Context, r *PolicyRequest) (Action, error) {
		if r.Get("first") != "" {
			arrived.Done()
			select {
			case <-all:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return Action("PREPEND X-N: " + r.Get("n")), nil
	}}
	addr, _, _ := start(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			for j := range 3 {
				first := ""
				if j == 0 {
					first = "first=1\n"
				}
				if _, err := fmt.Fprintf(c, "request=smtpd_access_policy\n%sn=%d-%d\n\n", first, i, j); err != nil {
					errs <- err
					return
				}
				got, err := readPolicyReply(br)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("action=PREPEND X-N: %d-%d", i, j); got != want {
					errs <- fmt.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	s := &PolicyServer{Handler: func(ctx context.Context, r *PolicyRequest) (Action, error) {
		if r.Get("panic") != "" {
			panic("handler bug")
		}
		return Dunno, nil
	}}
	addr, _, _ := start(t, s)
	c, br := dial(t, addr)
	_, err := io.WriteString(c, "request=smtpd_access_policy\npanic=1\n\n")
	require.NoError(t, err)
	_, err = br.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF, "the connection is closed")
	// The server goes on serving.
	c2, br2 := dial(t, addr)
	_, err = io.WriteString(c2, "request=smtpd_access_policy\n\n")
	require.NoError(t, err)
	got, err := readPolicyReply(br2)
	require.NoError(t, err)
	assert.Equal(t, "action=DUNNO", got)
}

// assertClosed checks that a read ended because the server closed the
// connection: EOF, or a reset when the server closed with bytes of ours still
// unread in its buffer (the kernel then sends RST, RFC 1122 §4.2.2.13).
func assertClosed(t *testing.T, err error) {
	t.Helper()
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "want EOF or a reset, got %v", err)
}
