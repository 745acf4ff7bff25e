package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/spf"
)

// Differential test of smtpsec/spf against pyspf (Debian's python3-spf,
// the reference implementation of the RFC 7208 suite), both resolving over
// the wire from the same resolvertest.Server: every scenario of the suite,
// and generated records and zones. A disagreement fails the test unless it
// is listed below with the RFC section that shows our answer is right.

// pyspfDriver reads JSON requests on stdin and answers each with pyspf's
// verdict, resolving through the DNS server on 127.0.0.1 at the given port
// (pydns reads resolv.conf at import; its defaults are overridden here).
const pyspfDriver = `
import sys, json
import spf, DNS
DNS.defaults['server'] = ['127.0.0.1']
for line in sys.stdin:
    req = json.loads(line)
    DNS.defaults['port'] = req['port']
    try:
        q = spf.query(i=req['ip'], s=req['sender'], h=req['helo'], timeout=req['timeout'])
        q.set_default_explanation('DEFAULT')
        res, code, exp = q.check()
        out = {'result': res, 'explanation': exp}
    except Exception as e:
        out = {'result': 'exception', 'explanation': repr(e)}
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
`

type pyspf struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

type pyspfVerdict struct {
	Result      string `json:"result"`
	Explanation string `json:"explanation"`
}

func startPyspf(t *testing.T) *pyspf {
	t.Helper()
	py := requirePeer(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import spf, DNS").Run(); err != nil {
		requirePeer(t, "/usr/bin/python3 with the spf module (python3-spf)")
	}
	cmd := exec.Command(py, "-u", "-c", pyspfDriver)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	outp, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(outp)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &pyspf{cmd: cmd, in: in, out: sc}
}

func (p *pyspf) check(t *testing.T, port int, ip, sender, helo string) pyspfVerdict {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"port": port, "ip": ip, "sender": sender, "helo": helo, "timeout": 2})
	_, err := p.in.Write(append(req, '\n'))
	require.NoError(t, err)
	require.True(t, p.out.Scan(), "pyspf driver ended: %v", p.out.Err())
	var v pyspfVerdict
	require.NoError(t, json.Unmarshal(p.out.Bytes(), &v))
	return v
}

// spfInput is one check of the differential test.
type spfInput struct {
	ip, sender, helo string
}

// comparison is the verdict of both implementations.
type comparison struct {
	ours   spf.Outcome
	err    error
	theirs pyspfVerdict
}

func (c comparison) agree() bool {
	if string(c.ours.Result) != c.theirs.Result {
		return false
	}
	return c.ours.Result != spf.Fail || c.ours.Explanation == c.theirs.Explanation
}

func compareSPF(t *testing.T, py *pyspf, srv *resolvertest.Server, in spfInput) comparison {
	t.Helper()
	cl := srv.Client()
	cl.Timeout = 500 * time.Millisecond
	cl.Attempts = 1
	c := &spf.Checker{Resolver: cl, DefaultExplanation: "DEFAULT"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cmp comparison
	cmp.ours, cmp.err = c.Check(ctx, spf.Input{IP: netip.MustParseAddr(in.ip), HELO: in.helo, MailFrom: in.sender})
	cmp.theirs = py.check(t, int(srv.AddrPort().Port()), in.ip, in.sender, in.helo)
	return cmp
}

// Known suite disagreements, each with the reason pyspf is wrong there.
var pyspfSuiteDivergences = map[string]string{
	// pyspf caches the A answer for foo.example.xn--zckzah under the
	// U-label name and then misses its own cache (an IDNA cache-key bug in
	// pyspf 2.0.14): it answers permerror/none where RFC 7208 §5.3 and
	// the suite want pass.
	"a-dash-in-toplabel": "pyspf IDNA cache-key bug; RFC 7208 §5.3, suite result pass",
}

func TestSPFPyspfSuite(t *testing.T) {
	py := startPyspf(t)
	suite := loadSPFSuite(t)
	agreed, total := 0, 0
	var listed []string
	for _, s := range suite {
		srv := resolvertest.NewServer(t, buildSPFZone(t, suiteItems(t, s.ZoneData)))
		names := make([]string, 0, len(s.Tests))
		for n := range s.Tests {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			tc := s.Tests[n]
			total++
			cmp := compareSPF(t, py, srv, spfInput{tc.Host, tc.MailFrom, tc.HELO})
			switch {
			case cmp.agree():
				agreed++
			case pyspfSuiteDivergences[n] != "":
				listed = append(listed, n)
			case n == "v-macro-ip6" && string(cmp.ours.Result) == cmp.theirs.Result &&
				strings.EqualFold(cmp.ours.Explanation, cmp.theirs.Explanation):
				// pyspf writes the %{i} nibbles of an IPv6 address in upper
				// case; the example of RFC 7208 §7.4 writes them in lower
				// case ("1.0.b.c.0.0...ip6._spf.example.com").
				listed = append(listed, n)
			case resolverRefusesName[n] && !zoneTakesAnyOctet():
				// The zone data of this case has a name holding ':', '%'
				// or ' ', which resolver.Zone refuses today (RFC 2181 §11
				// allows any octet), so the case cannot be served; see
				// the spf suite test, which passes it through an overlay.
				listed = append(listed, n)
			default:
				t.Errorf("%s/%s: smtpsec %s %q (%v), pyspf %s %q", s.Description, n,
					cmp.ours.Result, cmp.ours.Explanation, cmp.err, cmp.theirs.Result, cmp.theirs.Explanation)
			}
		}
	}
	t.Logf("suite: %d/%d agree; listed divergences: %v", agreed, total, listed)
	require.Equal(t, 203, total)
}

// resolverRefusesName lists the suite cases whose zone data needs a name
// holding ':', '%' or ' '.
var resolverRefusesName = map[string]bool{
	"a-colon-domain": true, "a-colon-domain-ip4mapped": true,
	"mx-colon-domain": true, "mx-colon-domain-ip4mapped": true,
	"macro-mania-in-domain": true,
}

// zoneTakesAnyOctet reports whether resolver.Zone accepts a name holding
// ':' and '%'.
func zoneTakesAnyOctet() bool {
	var z resolver.Zone
	return z.Add("foo:bar%x.example. 300 IN A 192.0.2.1\n") == nil
}

// genCase is a generated zone and the checks to run against it.
type genCase struct {
	zone   map[string][]zoneItem
	checks []spfInput
	desc   string
}

var genClients = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "2001:db8::2"}

// generateSPFCase builds a random zone of policies under g.test: hosts with
// A/AAAA records, MX and PTR records, exists targets, explanations, and
// policies of 1 to 6 random terms with includes, redirects (loops and
// dangling targets included), macros and, rarely, syntax errors.
func generateSPFCase(r *rand.Rand) genCase {
	z := map[string][]zoneItem{}
	add := func(name, typ, val string) { z[name] = append(z[name], zoneItem{typ, val}) }
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	for h := range 4 {
		host := fmt.Sprintf("h%d.g.test", h)
		for _, ip := range genClients {
			if r.IntN(3) == 0 {
				if strings.Contains(ip, ":") {
					add(host, "AAAA", ip)
				} else {
					add(host, "A", ip)
				}
			}
		}
		if r.IntN(2) == 0 {
			add(host, "A", "198.51.100."+fmt.Sprint(h+1))
		}
	}
	for _, ip := range genClients {
		a := netip.MustParseAddr(ip)
		rev := strings.TrimSuffix(resolver.ReverseAddr(a), ".")
		for range r.IntN(3) {
			add(rev, "PTR", pick("h0.g.test", "h1.g.test", "h2.g.test", "h3.g.test", "nx.g.test", "h1.sub.g.test"))
		}
		if r.IntN(3) == 0 {
			// exists:%{i}.e.g.test and %{ir} targets
			add(ipDots(a)+".e.g.test", "A", "127.0.0.2")
		}
	}
	add("user.e.g.test", "A", "127.0.0.2")
	add("to.g.test", "TIMEOUT", "")
	add("exp.g.test", "TXT", pick("denied %{i} for %{s} via %{d}", "%{c} not allowed by %{o}", "see http://g.test/%{L}?%{H}", "no %{ir}.%{v}.arpa %{p}"))
	for d := range 5 {
		dom := fmt.Sprintf("d%d.g.test", d)
		for range r.IntN(3) {
			add(dom, "MX", fmt.Sprintf("%d %s", r.IntN(50), pick("h0.g.test", "h1.g.test", "h2.g.test", "h3.g.test", "nx.g.test")))
		}
		if r.IntN(3) == 0 {
			add(dom, "A", pick(genClients[:3]...))
		}
		if r.IntN(10) == 0 {
			continue // no policy
		}
		var terms []string
		for range 1 + r.IntN(6) {
			q := pick("", "", "", "+", "-", "~", "?")
			var m string
			switch r.IntN(16) {
			case 0:
				m = fmt.Sprintf("ip4:192.0.2.%d/%d", 1+r.IntN(3), pick32(r))
			case 1:
				m = fmt.Sprintf("ip6:2001:db8::%d/%d", 1+r.IntN(2), 64+r.IntN(65))
			case 2:
				m = pick("a", "a/24", "a//64", "a/30//126")
			case 3:
				m = "a:" + pick("h0", "h1", "h2", "h3", "nx1", "nx2") + ".g.test" + pick("", "/24", "//64")
			case 4:
				m = pick("mx", "mx/24", "mx:d1.g.test", "mx:d2.g.test//64")
			case 5:
				m = pick("ptr", "ptr:g.test", "ptr:sub.g.test", "ptr:h1.g.test")
			case 6:
				m = pick("exists:%{i}.e.g.test", "exists:%{l}.e.g.test", "exists:%{ir}.%{v}.e.g.test", "exists:%{l1r-}.e.g.test")
			case 7, 8:
				m = fmt.Sprintf("include:d%d.g.test", r.IntN(7))
			case 9:
				m = pick("all", "all")
			case 10:
				m = "a:%{d2}"
			case 11:
				m = pick("ip4:192.0.2.0/24", "ip6:2001:db8::/32", "ip4:198.51.100.0/24")
			case 12:
				m = "exists:" + pick("nx3", "nx4", "nx5") + ".g.test"
				if r.IntN(8) == 0 {
					m = "a:to.g.test" // times out: temperror
				}
			case 13:
				m = "a:" + pick("nx1", "nx2", "nx3") + ".g.test"
			case 14:
				if r.IntN(4) == 0 {
					m = pick("ip4:192.0.2.300", "foo:bar", "a:", "mx//129", "exists", "include:%{z}.g.test")
				} else {
					m = "ip4:192.0.2.1"
				}
			default:
				m = pick("mx", "a")
			}
			terms = append(terms, q+m)
		}
		if r.IntN(4) == 0 {
			terms = append(terms, fmt.Sprintf("redirect=d%d.g.test", r.IntN(7)))
		}
		if r.IntN(3) == 0 {
			terms = append(terms, "exp=exp.g.test")
		}
		if r.IntN(5) == 0 {
			terms = append(terms, "x-unknown=%{d}")
		}
		add(dom, "TXT", "v=spf1 "+strings.Join(terms, " "))
	}
	c := genCase{zone: z}
	for range 3 {
		c.checks = append(c.checks, spfInput{
			ip:     pick(genClients...),
			sender: pick("user@d0.g.test", "a.b-c@d0.g.test", "user@d1.g.test", "postmaster@d2.g.test", ""),
			helo:   pick("d3.g.test", "h0.g.test"),
		})
	}
	var b strings.Builder
	names := make([]string, 0, len(z))
	for n := range z {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, it := range z[n] {
			fmt.Fprintf(&b, "  %s %s %q\n", n, it.typ, it.val)
		}
	}
	c.desc = b.String()
	return c
}

func pick32(r *rand.Rand) int { return []int{32, 32, 31, 30, 24, 16, 0}[r.IntN(7)] }

func ipDots(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	var parts []string
	for _, b := range a.As16() {
		parts = append(parts, fmt.Sprintf("%x.%x", b>>4, b&15))
	}
	return strings.Join(parts, ".")
}

// pyspfKnownWrong recognises a generated disagreement where pyspf departs
// from RFC 7208, and names the section.
func pyspfKnownWrong(cmp comparison) string {
	theirs := cmp.theirs.Explanation
	var se *spf.SyntaxError
	switch {
	case string(cmp.ours.Result) == cmp.theirs.Result && strings.EqualFold(cmp.ours.Explanation, theirs):
		// pyspf writes the %{i} nibbles of an IPv6 address in upper case;
		// the example of RFC 7208 §7.4 writes them in lower case.
		return "RFC 7208 §7.4: IPv6 %{i} nibbles in lower case"
	case cmp.theirs.Result == "permerror" && strings.Contains(theirs, "include has trivial recursion") && cmp.ours.Result != spf.PermError:
		// pyspf refuses, before evaluating, a record that includes its
		// own domain. RFC 7208 §4.6.2 evaluates mechanisms in order and
		// stops at the first match, and only a loop actually reached is an
		// error (§4.6.4, §5.2); we end such a loop with ErrLoop when the
		// include is evaluated, and here it never was.
		return "RFC 7208 §4.6.2: first match wins; a self-include not reached is no error"
	case cmp.ours.Result == spf.PermError && errors.As(cmp.err, &se) &&
		strings.TrimLeft(se.Term, "+-~?") == "exists" && cmp.theirs.Result != "permerror":
		// pyspf accepts a bare "exists" until it evaluates it. RFC 7208
		// §5.7: exists = "exists" ":" domain-spec, and §4.6: a syntax error
		// anywhere in the record is permerror (the suite's
		// detect-errors-anywhere).
		return "RFC 7208 §4.6, §5.7: a bare exists is a syntax error wherever it is"
	case cmp.theirs.Result == "permerror" && strings.Contains(theirs, "Void lookup limit") && cmp.ours.VoidLookups <= 2:
		// pyspf counts every empty DNS answer, including the address
		// lookups of MX hosts and PTR names; RFC 7208 §4.6.4 limits the
		// number of *terms* whose lookups are void.
		return "RFC 7208 §4.6.4: the void limit counts terms"
	}
	return ""
}

func TestSPFPyspfGenerated(t *testing.T) {
	py := startPyspf(t)
	r := rand.New(rand.NewPCG(7208, 4408))
	const cases = 120 // three checks each: 360 comparisons
	agreed, total := 0, 0
	listed := map[string]int{}
	for i := range cases {
		gc := generateSPFCase(r)
		srv := resolvertest.NewServer(t, buildSPFZone(t, gc.zone))
		for _, in := range gc.checks {
			total++
			cmp := compareSPF(t, py, srv, in)
			if cmp.agree() {
				agreed++
				continue
			}
			if why := pyspfKnownWrong(cmp); why != "" {
				listed[why]++
				if testing.Verbose() {
					t.Logf("listed (%s): case %d %+v: smtpsec %s %q mech %q lookups %d void %d (%v), pyspf %s %q\nzone:\n%s", why, i, in,
						cmp.ours.Result, cmp.ours.Explanation, cmp.ours.Mechanism, cmp.ours.Lookups, cmp.ours.VoidLookups, cmp.err, cmp.theirs.Result, cmp.theirs.Explanation, gc.desc)
				}
				continue
			}
			t.Errorf("case %d %+v: smtpsec %s %q mech %q (%v), pyspf %s %q\nzone:\n%s", i, in,
				cmp.ours.Result, cmp.ours.Explanation, cmp.ours.Mechanism, cmp.err, cmp.theirs.Result, cmp.theirs.Explanation, gc.desc)
		}
	}
	t.Logf("generated: %d/%d agree; listed: %v", agreed, total, listed)
	require.GreaterOrEqual(t, total, 200)
}
