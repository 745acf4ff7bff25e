package postfix

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// Limits bounds what one server accepts. The zero value gives the defaults
// documented on each field; every wait is finite.
type Limits struct {
	// MaxConns bounds the connections served at once. Further connections
	// wait in the listen backlog until one ends. 0 means 1000.
	MaxConns int
	// MaxRequestsPerConn is the number of requests served on one
	// connection before it is closed, at a request boundary (Postfix
	// reconnects). 0 means 10000.
	MaxRequestsPerConn int
	// MaxRequestSize bounds one request in octets: all lines of a policy
	// request, the payload of a socketmap netstring, a tcp_table line. 0
	// means 64 KiB for the policy protocol, 16 KiB for the maps.
	MaxRequestSize int
	// IdleTimeout bounds the wait for the first octet of a request. 0
	// means 330 seconds, longer than Postfix keeps an idle policy
	// connection (smtpd_policy_service_max_idle, 300 seconds), so that
	// Postfix, not the server, closes idle connections.
	IdleTimeout time.Duration
	// ReadTimeout bounds reading the rest of a request once its first
	// octet has arrived. 0 means 10 seconds.
	ReadTimeout time.Duration
	// HandlerTimeout bounds the handler's work on one request: its context
	// ends then. 0 means 20 seconds, well inside Postfix's own limit
	// (smtpd_policy_service_timeout and the map timeouts, 100 seconds).
	HandlerTimeout time.Duration
	// WriteTimeout bounds writing one reply. 0 means 10 seconds.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds the wait for requests in progress when the
	// server's context ends; then their handlers' contexts end and their
	// connections are closed. 0 means 10 seconds.
	ShutdownTimeout time.Duration
}

// Default limits.
const (
	DefaultMaxConns           = 1000
	DefaultMaxRequestsPerConn = 10000
	DefaultPolicyRequestSize  = 64 << 10
	DefaultMapRequestSize     = 16 << 10
	DefaultIdleTimeout        = 330 * time.Second
	DefaultReadTimeout        = 10 * time.Second
	DefaultHandlerTimeout     = 20 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultShutdownTimeout    = 10 * time.Second
)

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (l Limits) withDefaults(requestSize int) Limits {
	return Limits{
		MaxConns:           orDefault(l.MaxConns, DefaultMaxConns),
		MaxRequestsPerConn: orDefault(l.MaxRequestsPerConn, DefaultMaxRequestsPerConn),
		MaxRequestSize:     orDefault(l.MaxRequestSize, requestSize),
		IdleTimeout:        orDefault(l.IdleTimeout, DefaultIdleTimeout),
		ReadTimeout:        orDefault(l.ReadTimeout, DefaultReadTimeout),
		HandlerTimeout:     orDefault(l.HandlerTimeout, DefaultHandlerTimeout),
		WriteTimeout:       orDefault(l.WriteTimeout, DefaultWriteTimeout),
		ShutdownTimeout:    orDefault(l.ShutdownTimeout, DefaultShutdownTimeout),
	}
}

// errIdle ends a connection quietly: the peer closed it, it stayed idle
// too long, or the server is shutting down.
var errIdle = errors.New("postfix: connection idle or closed")

// conn is one client connection with its buffers and deadlines.
type conn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	lim    Limits
	stop   context.Context // the server's context: done means shut down
	logger *slog.Logger
	out    []byte // the last reply, its array reused for the next
}

// awaitRequest waits up to IdleTimeout for the first octet of a request,
// then gives the rest of the request ReadTimeout. It returns errIdle when
// the connection ended or stayed idle, or the server is stopping.
func (c *conn) awaitRequest() error {
	if err := c.nc.SetReadDeadline(time.Now().Add(c.lim.IdleTimeout)); err != nil {
		return errIdle
	}
	// The shutdown hook moves the deadline to the past after ctx ends; a
	// check after setting it closes the window between the two.
	if c.stop.Err() != nil {
		return errIdle
	}
	if _, err := c.br.Peek(1); err != nil {
		return errIdle
	}
	if err := c.nc.SetReadDeadline(time.Now().Add(c.lim.ReadTimeout)); err != nil {
		return errIdle
	}
	return nil
}

// reply writes b within WriteTimeout.
func (c *conn) reply(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout)); err != nil {
		return err
	}
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}

// readFailed is the error that ends a connection whose request could not be
// read: errIdle, quiet, when the peer closed the connection or stopped
// sending, err itself otherwise.
func readFailed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err) {
		return errIdle
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// request reads, decides and answers one request on c, whose first octet
// has arrived; an error closes the connection.
type request func(hctx context.Context, c *conn) error

// serve accepts connections on ln and runs req for each request on them,
// up to MaxRequestsPerConn a connection, until ctx ends. Then it stops
// accepting, lets idle connections go, gives requests in progress
// ShutdownTimeout, and returns nil once every connection is closed. It
// returns the listener's error if accepting fails otherwise. lim has its
// defaults filled in; ln is closed when serve returns.
func serve(ctx context.Context, ln net.Listener, lim Limits, logger *slog.Logger, proto string, req request) error {
	defer ln.Close()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("proto", proto, "listen", ln.Addr().String())
	// Handlers run under hctx, which outlives ctx by ShutdownTimeout.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		sem   = make(chan struct{}, lim.MaxConns)
	)
	stopAccept := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stopAccept()
	var err error
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		nc, aerr := ln.Accept()
		if aerr != nil {
			<-sem
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(aerr, &ne) && ne.Timeout() || errors.Is(aerr, os.ErrDeadlineExceeded) {
				continue
			}
			if isTemporary(aerr) {
				logger.Warn("accept failed; retrying", "err", aerr)
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
				}
				continue
			}
			err = aerr
			break
		}
		mu.Lock()
		conns[nc] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := &conn{
				nc: nc, lim: lim, stop: ctx, logger: logger.With("peer", nc.RemoteAddr().String()),
				br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096),
			}
			// At shutdown, wake a connection waiting for its next request.
			unhook := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Unix(1, 0)) })
			if serr := runSession(hctx, c, req); serr != nil && !errors.Is(serr, errIdle) {
				c.logger.Warn("closing connection", "err", serr)
			}
			unhook()
			_ = nc.Close()
			mu.Lock()
			delete(conns, nc)
			mu.Unlock()
		}()
	}
	// Shutting down (or the listener failed): give requests in progress
	// ShutdownTimeout, then end their handlers and close what is left.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if err == nil {
		select {
		case <-done:
			return nil
		case <-time.After(lim.ShutdownTimeout):
		}
	}
	hcancel()
	mu.Lock()
	for nc := range conns {
		_ = nc.Close()
	}
	mu.Unlock()
	<-done
	return err
}

// errPanic reports a handler that panicked.
var errPanic = errors.New("postfix: handler panicked")

// runSession serves the requests of one connection with req until one
// fails, the connection ends or stays idle, or MaxRequestsPerConn have been
// served. It turns a panic into an error so that a bug in a handler closes
// one connection instead of the whole server (as net/http does).
func runSession(hctx context.Context, c *conn, req request) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("panic while serving a request", "panic", r, "stack", string(debug.Stack()))
			err = errPanic
		}
	}()
	for n := 0; n < c.lim.MaxRequestsPerConn; n++ {
		if werr := c.awaitRequest(); werr != nil {
			return werr
		}
		if rerr := req(hctx, c); rerr != nil {
			return rerr
		}
	}
	return nil
}

func isTemporary(err error) bool {
	// Accept errors such as EMFILE are worth a retry; net reports them as
	// temporary.
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}
