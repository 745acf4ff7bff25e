package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smtpsec/smtpsec/internal/postfix"
)

const serveUsage = `smtpsec serve: run a Postfix policy or SRS map service.

Usage:
  smtpsec serve policy [--config FILE] [flags]   SMTPD policy service (check_policy_service)
  smtpsec serve srs    [--config FILE] [flags]   SRS maps (socketmap and tcp_table)

Both run in the foreground until SIGINT or SIGTERM, then stop accepting,
finish the requests in progress (at most --shutdown-timeout) and exit 0.
Logs go to standard error (log/slog, --log-format text or json).

Configuration file (--config FILE): one setting a line, "name = value",
where name is a flag name without dashes; blank lines and lines starting
with "#" are ignored; list settings (trusted, exclude) may repeat or hold
comma-separated values. A flag given on the command line overrides the
file. For example:

  # /etc/smtpsec/srs.conf
  domain      = forwarder.example
  secrets     = /etc/postsrsd.secret
  socketmap   = unix:/var/spool/postfix/private/srs
  exclude     = .internal.example, partner.example

Run "smtpsec serve policy -h" or "smtpsec serve srs -h" for the flags.
`

// serveRun runs "smtpsec serve SUBCOMMAND".
func serveRun(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, serveUsage)
		return exitUsage
	}
	switch args[0] {
	case "policy":
		return servePolicy(ctx, args[1:], e)
	case "srs":
		return serveSRS(ctx, args[1:], e)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, serveUsage)
		return exitOK
	}
	return usageError(e, "unknown subcommand %q of serve", args[0])
}

// serveCommon holds the flags every service has.
type serveCommon struct {
	config          string
	logFormat       string
	logLevel        string
	maxConns        int
	maxRequests     int
	idleTimeout     time.Duration
	shutdownTimeout time.Duration
	socketMode      string
}

// flagSet returns the flag set of the service command name with the flags
// every service has, bound to c; help comes before the flags in -h.
func (c *serveCommon) flagSet(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), help); fs.PrintDefaults() }
	c.register(fs)
	return fs
}

func (c *serveCommon) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "read settings from this `file` (\"name = value\" lines, see \"smtpsec serve -h\"); flags override it")
	fs.StringVar(&c.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.IntVar(&c.maxConns, "max-conns", postfix.DefaultMaxConns, "`connections` served at once; more wait in the listen backlog")
	fs.IntVar(&c.maxRequests, "max-requests", postfix.DefaultMaxRequestsPerConn, "`requests` on one connection before it is closed (Postfix reconnects)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", postfix.DefaultIdleTimeout, "close a connection idle for this `duration`")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", postfix.DefaultShutdownTimeout, "at SIGTERM, wait this `duration` for requests in progress")
	fs.StringVar(&c.socketMode, "socket-mode", "0660", "permissions (`octal`) of a unix:/path socket; Postfix's user must be able to write it")
}

func (c *serveCommon) limits(handlerTimeout time.Duration) postfix.Limits {
	return postfix.Limits{
		MaxConns: c.maxConns, MaxRequestsPerConn: c.maxRequests, IdleTimeout: c.idleTimeout,
		HandlerTimeout: handlerTimeout, ShutdownTimeout: c.shutdownTimeout,
	}
}

// logger returns the logger the flags ask for, writing to w.
func (c *serveCommon) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", c.logFormat)
}

// parseServeFlags parses the command line, then the configuration file it
// names, where flags given on the command line win. It returns ok false,
// having reported the problem, when either is bad.
func parseServeFlags(fs *flag.FlagSet, c *serveCommon, args []string, e env) (code int, ok bool) {
	pos, code, ok := parseFlags(fs, args, e)
	if !ok {
		return code, false
	}
	if len(pos) > 0 {
		return usageError(e, "%s takes no arguments, got %q", fs.Name(), pos[0]), false
	}
	if c.config != "" {
		if err := loadConfig(fs, c.config); err != nil {
			return fail(e, exitUsage, err), false
		}
	}
	return exitOK, true
}

// maxConfigSize bounds a configuration file.
const maxConfigSize = 1 << 20

// loadConfig applies the settings of the file at path to fs, skipping the
// flags already set on the command line. The format: "name = value" lines
// (the "=" may be white space instead), "#" comments, blank lines; name is
// a flag name. A list flag's value may repeat.
func loadConfig(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	onCommandLine := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { onCommandLine[fl.Name] = true })
	sc := bufio.NewScanner(io.LimitReader(f, maxConfigSize))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			name, value, _ = strings.Cut(line, " ")
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		name = strings.TrimLeft(name, "-")
		fl := fs.Lookup(name)
		if fl == nil || name == "config" {
			return fmt.Errorf("%s:%d: unknown setting %q", path, n, name)
		}
		if onCommandLine[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, n, name, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// listFlag is a flag that may repeat and holds comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// listen opens a listener for addr: "host:port" or "inet:host:port" for
// TCP, "unix:/path" for a UNIX-domain socket with permissions mode (a stale
// socket file at path is replaced; other files are not touched).
func listen(ctx context.Context, addr string, mode fs.FileMode) (net.Listener, error) {
	var lc net.ListenConfig
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			_ = os.Remove(path)
		}
		ln, err := lc.Listen(ctx, "unix", path)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(path, mode); err != nil {
			ln.Close()
			return nil, err
		}
		return ln, nil
	}
	addr = strings.TrimPrefix(addr, "inet:")
	return lc.Listen(ctx, "tcp", addr)
}

// runServers serves each server on its listener until ctx ends or SIGINT
// or SIGTERM arrives, then waits for all of them to shut down.
func runServers(ctx context.Context, logger *slog.Logger, servers []namedServer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errs := make(chan error, len(servers))
	for _, s := range servers {
		logger.Info("listening", "service", s.name, "addr", listenAddr(s.ln))
		go func() { errs <- s.srv.Serve(ctx, s.ln) }()
	}
	code := exitOK
	for range servers {
		if err := <-errs; err != nil {
			logger.Error("server failed", "err", err)
			code = exitTemp
			stop() // stop the others too
		}
	}
	logger.Info("stopped")
	return code
}

type server interface {
	Serve(ctx context.Context, ln net.Listener) error
}

type namedServer struct {
	name string
	ln   net.Listener
	srv  server
}

func listenAddr(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return ln.Addr().String()
}

// openListeners listens on every address, or closes those opened and
// returns the error.
func (c *serveCommon) openListeners(ctx context.Context, addrs []string) ([]net.Listener, error) {
	mode, err := strconv.ParseUint(c.socketMode, 8, 32)
	if err != nil || mode > 0o777 {
		return nil, fmt.Errorf("--socket-mode: %q is not an octal permission such as 0660", c.socketMode)
	}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := listen(ctx, a, fs.FileMode(mode))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// checkSecretsMode warns when the secrets file can be read by others than
// its owner. It never reads or logs the secrets.
func checkSecretsMode(logger *slog.Logger, path string) {
	fi, err := os.Stat(path)
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("secrets file is accessible to group or others; chmod 600 it", "file", path, "mode", "0"+strconv.FormatUint(uint64(fi.Mode().Perm()), 8))
	}
}
