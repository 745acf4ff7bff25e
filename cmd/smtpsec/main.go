// Command smtpsec is a tool for mail administrators built on the smtpsec
// library: it checks and lints SPF records, probes a server's STARTTLS, shows
// MTA-STS policies, DANE TLSA records and DMARC records, and rewrites
// addresses with SRS. Every DNS-reading command can run offline against a
// zone file (--zone), so a record can be tested before it is published.
//
// Usage:
//
//	smtpsec COMMAND [SUBCOMMAND] [flags] [arguments]
//
// Run "smtpsec help" for the list of commands and the exit codes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// Exit codes, documented in the usage text.
const (
	exitOK       = 0 // the command ran and the verdict is good
	exitNegative = 1 // the command ran and the verdict is negative
	exitUsage    = 2 // bad flags or input; nothing was checked
	exitTemp     = 3 // the verdict is unknown: DNS or network failure, timeout
)

const usage = `smtpsec: SMTP security checks for mail administrators.

Usage:
  smtpsec spf check   --ip IP [--from ADDRESS] [--helo NAME] [--trace]
  smtpsec spf lint    DOMAIN
  smtpsec dmarc       DOMAIN
  smtpsec mtasts      DOMAIN [--policy FILE]
  smtpsec dane        HOST [--port 25] [--domain DOMAIN] [--assume-secure]
  smtpsec starttls probe HOST[:PORT] [--level LEVEL] [--name NAMES] [--ca FILE]
                      [--pin SHA256] [--domain DOMAIN] [--implicit]
  smtpsec srs forward --domain DOMAIN --secrets FILE [ADDRESS...]
  smtpsec srs reverse --domain DOMAIN --secrets FILE [ADDRESS...]
  smtpsec serve policy [--config FILE] [--listen ADDR] [--dns ADDR] [flags]
  smtpsec serve srs    [--config FILE] --domain DOMAIN --secrets FILE
                       [--socketmap ADDR] [--tcp-forward ADDR] [--tcp-reverse ADDR]

Flags common to the DNS-reading commands:
  --zone FILE      answer DNS queries from this zone file, offline
  --dns ADDR       ask this DNS server (ip or ip:port) instead of /etc/resolv.conf
  --timeout DUR    give up after this long (default 10s)
  --json           print machine-readable JSON instead of text

Run "smtpsec COMMAND -h" for a command's flags.

Exit codes:
  0  the command ran and the verdict is good (spf: pass; lint: no errors;
     probe: the chosen level was met; srs: every address rewritten)
  1  the command ran and the verdict is negative (spf: any other result but
     temperror; lint: errors found; probe: level not met; srs: an address failed)
  2  usage or input error (bad flag, unparseable IP, missing file, zone-file
     syntax error); nothing is printed on standard output
  3  the verdict is unknown: DNS timeout or server failure, network error
`

// env is what a command runs with: its streams, so tests can run commands
// in-process as well as through the binary.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], env{os.Stdin, os.Stdout, os.Stderr}))
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	sub := func(name string, subs map[string]func(context.Context, []string, env) int) int {
		if len(rest) == 0 {
			return usageError(e, "%s needs a subcommand", name)
		}
		f, ok := subs[rest[0]]
		if !ok {
			return usageError(e, "unknown subcommand %q of %s", rest[0], name)
		}
		return f(ctx, rest[1:], e)
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	case "spf":
		return sub("spf", map[string]func(context.Context, []string, env) int{
			"check": spfCheck,
			"lint":  spfLint,
		})
	case "srs":
		return sub("srs", map[string]func(context.Context, []string, env) int{
			"forward": func(ctx context.Context, a []string, e env) int { return srsRun(ctx, a, e, true) },
			"reverse": func(ctx context.Context, a []string, e env) int { return srsRun(ctx, a, e, false) },
		})
	case "dmarc":
		return dmarcRun(ctx, rest, e)
	case "mtasts":
		return mtastsRun(ctx, rest, e)
	case "dane":
		return daneRun(ctx, rest, e)
	case "starttls":
		return sub("starttls", map[string]func(context.Context, []string, env) int{
			"probe": starttlsProbe,
		})
	case "serve":
		return serveRun(ctx, rest, e)
	}
	return usageError(e, "unknown command %q", cmd)
}

func usageError(e env, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "smtpsec: "+format+"\n", args...)
	fmt.Fprintf(e.stderr, "Run \"smtpsec help\" for usage.\n")
	return exitUsage
}

// fail reports err on standard error and returns code.
func fail(e env, code int, err error) int {
	fmt.Fprintf(e.stderr, "smtpsec: %v\n", err)
	return code
}

// common holds the flags shared by the DNS-reading commands.
type common struct {
	zone    string
	dns     string
	timeout time.Duration
	json    bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.zone, "zone", "", "answer DNS queries from this zone `file`, offline")
	fs.StringVar(&c.dns, "dns", "", "ask this DNS server (`ip` or ip:port)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "give up after this `duration`")
	fs.BoolVar(&c.json, "json", false, "print JSON")
}

// dnsResolver is what the commands need of DNS: both the net-style methods
// and Query, which resolver.Client and resolver.Zone implement.
type dnsResolver interface {
	resolver.Resolver
	resolver.Querier
}

// resolver returns the resolver the flags ask for.
func (c *common) resolver() (dnsResolver, error) {
	if c.zone != "" && c.dns != "" {
		return nil, errors.New("--zone and --dns exclude each other")
	}
	if c.zone != "" {
		f, err := os.Open(c.zone)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		z, err := resolver.ParseZone(f, ".")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.zone, err)
		}
		return z, nil
	}
	if c.dns != "" {
		return &resolver.Client{Servers: []string{c.dns}}, nil
	}
	return &resolver.Client{}, nil
}

// parseFlags parses args with fs, allowing flags after positional arguments
// ("lint example.com --zone f"), and returns the positional arguments. It
// returns ok false, having printed the problem, when the flags are bad.
func parseFlags(fs *flag.FlagSet, args []string, e env) (pos []string, code int, ok bool) {
	fs.SetOutput(e.stderr)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		// A lone "-" is a positional argument; "--" ends the flags.
		for len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
			pos = append(pos, args[0])
			args = args[1:]
		}
		if len(args) == 0 {
			return pos, exitOK, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), exitOK, true
		}
	}
}

// printJSON prints v, a command's result, on standard output as indented
// JSON, and returns code, or exitTemp when v could not be written.
func printJSON(e env, v any, code int) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fail(e, exitTemp, err)
	}
	return code
}

// tempOrNegative maps an error that ended a DNS-reading command to an exit
// code: temporary DNS failures are exitTemp, others exitNegative.
func tempOrNegative(err error) int {
	if resolver.IsTemporary(err) && !resolver.IsNotFound(err) {
		return exitTemp
	}
	return exitNegative
}

// parseName parses args with fs, as parseFlags does, and returns the
// command's one positional argument, a domain or host name (what, for the
// message), normalised to a lower-case A-label name. It returns ok false,
// having reported the problem, and the exit code otherwise.
func parseName(fs *flag.FlagSet, args []string, e env, what string) (name string, code int, ok bool) {
	pos, code, ok := parseFlags(fs, args, e)
	if !ok {
		return "", code, false
	}
	if len(pos) != 1 {
		return "", usageError(e, "%s takes one %s", fs.Name(), what), false
	}
	name, err := dnsname.Normalize(pos[0])
	if err != nil {
		return "", usageError(e, "%v", err), false
	}
	return name, exitOK, true
}
