package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

// spfCheckJSON is the JSON form of spf check's result.
type spfCheckJSON struct {
	Result      spf.Result   `json:"result"`
	Identity    spf.Identity `json:"identity"`
	IP          string       `json:"ip"`
	HELO        string       `json:"helo,omitempty"`
	Sender      string       `json:"sender"`
	Domain      string       `json:"domain,omitempty"`
	Mechanism   string       `json:"mechanism,omitempty"`
	Explanation string       `json:"explanation,omitempty"`
	Problem     string       `json:"problem,omitempty"`
	Lookups     int          `json:"lookups"`
	VoidLookups int          `json:"void_lookups"`
	Authentic   bool         `json:"dnssec_authentic"`
	ReceivedSPF string       `json:"received_spf"`
	AuthResults string       `json:"authentication_results"`
	Trace       []string     `json:"trace,omitempty"`
}

func spfCheck(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("spf check", flag.ContinueOnError)
	var c common
	c.register(fs)
	ipFlag := fs.String("ip", "", "the SMTP client's `address` (required)")
	from := fs.String("from", "", "the MAIL FROM `address`; empty checks the HELO identity (null sender)")
	helo := fs.String("helo", "", "the HELO/EHLO `name`")
	receiver := fs.String("receiver", "", "this receiver's `domain`, for %{r} and Received-SPF")
	trace := fs.Bool("trace", false, "print every DNS query and matching term")
	maxVoid := fs.Int("max-void", 0, "void lookup `limit` (0: 2, RFC 7208 §4.6.4; -1: none)")
	pos, code, ok := parseFlags(fs, args, e)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return usageError(e, "spf check takes no arguments, got %q", pos)
	}
	if *ipFlag == "" {
		return usageError(e, "spf check needs --ip")
	}
	ip, err := netip.ParseAddr(*ipFlag)
	if err != nil {
		return usageError(e, "--ip: %q is not an IP address", *ipFlag)
	}
	if *from == "" && *helo == "" {
		return usageError(e, "spf check needs --from or --helo")
	}
	r, err := c.resolver()
	if err != nil {
		return fail(e, exitUsage, err)
	}
	checker := &spf.Checker{Resolver: r, ReceiverDomain: *receiver, MaxVoidLookups: *maxVoid}
	var tr *tracer
	if *trace {
		tr = &tracer{}
		checker.Resolver = &tracingResolver{r: r, t: tr}
		checker.Logger = slog.New(tr)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := checker.Check(ctx, spf.Input{IP: ip, HELO: *helo, MailFrom: *from})
	var lines []string
	if tr != nil {
		lines = tr.lines
	}
	return printSPFCheck(e, c.json, out, err, lines)
}

func printSPFCheck(e env, asJSON bool, out spf.Outcome, err error, trace []string) int {
	code := exitNegative
	switch out.Result {
	case spf.Pass:
		code = exitOK
	case spf.TempError:
		code = exitTemp
	}
	if asJSON {
		j := spfCheckJSON{
			Result: out.Result, Identity: out.Identity, IP: out.IP.String(), HELO: out.HELO,
			Sender: out.Sender, Domain: out.Domain, Mechanism: out.Mechanism,
			Explanation: out.Explanation, Problem: out.Problem, Lookups: out.Lookups,
			VoidLookups: out.VoidLookups, Authentic: out.Authentic,
			ReceivedSPF: out.ReceivedSPF(), AuthResults: out.AuthenticationResults(), Trace: trace,
		}
		return printJSON(e, j, code)
	}
	w := e.stdout
	for _, l := range trace {
		fmt.Fprintf(w, "trace: %s\n", l)
	}
	fmt.Fprintf(w, "result:      %s\n", out.Result)
	fmt.Fprintf(w, "identity:    %s (%s)\n", out.Identity, out.Sender)
	if out.Domain != "" {
		fmt.Fprintf(w, "domain:      %s\n", out.Domain)
	}
	if out.Mechanism != "" {
		fmt.Fprintf(w, "mechanism:   %s\n", out.Mechanism)
	}
	if out.Explanation != "" {
		fmt.Fprintf(w, "explanation: %s\n", out.Explanation)
	}
	if err != nil {
		fmt.Fprintf(w, "problem:     %v\n", err)
	}
	fmt.Fprintf(w, "lookups:     %d of 10, void %d of 2\n", out.Lookups, out.VoidLookups)
	if out.Authentic {
		fmt.Fprintf(w, "dnssec:      every answer authentic\n")
	}
	// The field is folded for the wire with CRLF; a terminal wants LF.
	fmt.Fprintf(w, "%s\n", strings.ReplaceAll(out.ReceivedSPF(), "\r\n", "\n"))
	return code
}

// tracer collects trace lines from the DNS wrapper and from the checker's
// slog records.
type tracer struct {
	lines []string
	attrs []slog.Attr
}

func (t *tracer) add(format string, args ...any) {
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

func (t *tracer) Enabled(context.Context, slog.Level) bool { return true }
func (t *tracer) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	t.lines = append(t.lines, b.String())
	return nil
}
func (t *tracer) WithAttrs([]slog.Attr) slog.Handler { return t }
func (t *tracer) WithGroup(string) slog.Handler      { return t }

// tracingResolver records every DNS query and its outcome. The checker calls
// it from one goroutine, so the tracer needs no lock.
type tracingResolver struct {
	r dnsResolver
	t *tracer
}

func (tr *tracingResolver) done(kind, name string, n int, err error) {
	switch {
	case err == nil:
		tr.t.add("dns %s %s: %d answer(s)", kind, name, n)
	case resolver.IsNotFound(err):
		tr.t.add("dns %s %s: no records (void)", kind, name)
	default:
		tr.t.add("dns %s %s: error: %v", kind, name, err)
	}
}

func (tr *tracingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	v, err := tr.r.LookupTXT(ctx, name)
	tr.done("TXT", name, len(v), err)
	return v, err
}

func (tr *tracingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, err := tr.r.LookupMX(ctx, name)
	tr.done("MX", name, len(v), err)
	return v, err
}

func (tr *tracingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	v, err := tr.r.LookupNetIP(ctx, network, host)
	kind := map[string]string{"ip4": "A", "ip6": "AAAA"}[network]
	if kind == "" {
		kind = "A+AAAA"
	}
	tr.done(kind, host, len(v), err)
	return v, err
}

func (tr *tracingResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	v, err := tr.r.LookupAddr(ctx, addr)
	tr.done("PTR", addr, len(v), err)
	return v, err
}

func (tr *tracingResolver) Query(ctx context.Context, name string, qtype uint16) (*resolver.Answer, error) {
	a, err := tr.r.Query(ctx, name, qtype)
	kind := dns.TypeToString[qtype]
	switch {
	case err != nil:
		tr.t.add("dns %s %s: error: %v", kind, name, err)
	case a.NXDomain():
		tr.t.add("dns %s %s: NXDOMAIN", kind, name)
	case a.Rcode != 0:
		tr.t.add("dns %s %s: rcode %d", kind, name, a.Rcode)
	default:
		tr.t.add("dns %s %s: %d answer(s)", kind, name, len(a.Records))
	}
	return a, err
}
