package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/forward"
	"github.com/smtpsec/smtpsec/internal/postfix"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
	"github.com/smtpsec/smtpsec/spf"
)

const policyZone = `
$ORIGIN test.
$TTL 300
pass.test.         IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.test.         IN TXT "v=spf1 ip4:198.51.100.1 -all exp=why.fail.test"
why.fail.test.     IN TXT "%{i} is not one of %{d}'s senders"
soft.test.         IN TXT "v=spf1 ~all"
perm.test.         IN TXT "v=spf1 ip4:192.0.2.300 -all"
temp.test.         IN TXT "v=spf1 -all"
mx.pass.test.      IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
badhelo.test.      IN TXT "v=spf1 -all"
10.2.0.192.in-addr.arpa. IN PTR mx.pass.test.
mx.pass.test.      IN A 192.0.2.10
`

func testPolicy(t *testing.T, mod func(*policy)) *policy {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader(policyZone), ".")
	require.NoError(t, err)
	require.NoError(t, z.SetFailure("temp.test", dns.TypeTXT, resolver.FailServFail))
	c := &spf.Checker{Resolver: z, ReceiverDomain: "mx.receiver.test"}
	p := &policy{
		spf: c, checker: &sender.Checker{Resolver: z, SPF: c, DisableHELOSPF: true},
		trusted: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, timeout: 5 * time.Second,
		onFail: actReject, onSoftFail: actPrepend, onTempError: actDefer, onPermError: actPrepend, onHELOFail: actReject,
		heloCheck: true, prepend: true, iprev: iprevOff,
		cache: newInstanceCache(100, time.Minute), logger: slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(p)
	}
	return p
}

func req(kv ...string) *postfix.PolicyRequest {
	base := map[string]string{
		"request": "smtpd_access_policy", "protocol_state": "RCPT", "client_address": "192.0.2.10",
		"helo_name": "mx.pass.test", "sender": "alice@pass.test", "recipient": "bob@receiver.test",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		base[kv[i]] = kv[i+1]
	}
	var pairs []string
	for k, v := range base {
		pairs = append(pairs, k, v)
	}
	return postfix.NewPolicyRequest(pairs...)
}

func TestPolicyDecisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mod    func(*policy)
		req    *postfix.PolicyRequest
		want   string // a regular expression for the whole action
		errMsg string
	}{
		{"pass", nil, req(), `^PREPEND Received-SPF: pass \(mx\.receiver\.test: domain of alice@pass\.test designates 192\.0\.2\.10 as permitted sender\) client-ip=192\.0\.2\.10; envelope-from="?alice@pass\.test"?; helo=mx\.pass\.test; receiver=mx\.receiver\.test; identity=mailfrom; mechanism="?ip4:192\.0\.2\.0/24"?;$`, ""},
		{"fail", nil, req("sender", "mallory@fail.test"), `^550 5\.7\.23 SPF MAIL FROM check failed: 192\.0\.2\.10 is not one of fail\.test's senders$`, ""},
		{"fail prepended", func(p *policy) { p.onFail = actPrepend }, req("sender", "mallory@fail.test"), `^PREPEND Received-SPF: fail `, ""},
		{"fail dunno", func(p *policy) { p.onFail = actDunno }, req("sender", "mallory@fail.test"), `^DUNNO$`, ""},
		{"softfail", nil, req("sender", "a@soft.test"), `^PREPEND Received-SPF: softfail `, ""},
		{"softfail rejected", func(p *policy) { p.onSoftFail = actReject }, req("sender", "a@soft.test"), `^550 5\.7\.1 SPF softfail: soft\.test does not authorize 192\.0\.2\.10$`, ""},
		{"temperror", nil, req("sender", "a@temp.test"), `^451 4\.7\.24 SPF check of temp\.test failed temporarily; try again later$`, ""},
		{"temperror prepended", func(p *policy) { p.onTempError = actPrepend }, req("sender", "a@temp.test"), `^PREPEND Received-SPF: temperror `, ""},
		{"permerror", nil, req("sender", "a@perm.test"), `^PREPEND Received-SPF: permerror .*problem=`, ""},
		{"permerror rejected", func(p *policy) { p.onPermError = actReject }, req("sender", "a@perm.test"), `^550 5\.7\.24 SPF record of perm\.test is invalid: `, ""},
		{"none", nil, req("sender", "a@nothing.test"), `^PREPEND Received-SPF: none `, ""},
		{"no header", func(p *policy) { p.prepend = false }, req(), `^DUNNO$`, ""},
		{"helo fail", nil, req("helo_name", "badhelo.test"), `^550 5\.7\.23 SPF HELO check failed: `, ""},
		{"helo fail ignored", func(p *policy) { p.onHELOFail = actDunno }, req("helo_name", "badhelo.test"), `^PREPEND Received-SPF: pass `, ""},
		{"helo not checked", func(p *policy) { p.heloCheck = false }, req("helo_name", "badhelo.test"), `^PREPEND Received-SPF: pass `, ""},
		{"null sender checks helo", nil, req("sender", "", "helo_name", "mx.pass.test"), `^PREPEND Received-SPF: pass .*identity=helo`, ""},
		{"null sender helo fail", nil, req("sender", "", "helo_name", "badhelo.test"), `^550 5\.7\.23 SPF HELO check failed: `, ""},
		{"trusted relay", nil, req("client_address", "203.0.113.9", "sender", "mallory@fail.test"), `^DUNNO$`, ""},
		{"authenticated", nil, req("sasl_username", "alice", "sender", "mallory@fail.test"), `^DUNNO$`, ""},
		{"connect stage", nil, req("protocol_state", "CONNECT", "sender", "mallory@fail.test"), `^DUNNO$`, ""},
		{"end of message", nil, req("protocol_state", "END-OF-MESSAGE"), `^DUNNO$`, ""},
		{"mail stage", nil, req("protocol_state", "MAIL", "sender", "mallory@fail.test"), `^550 5\.7\.23 `, ""},
		{"bdat stage", nil, req("protocol_state", "BDAT"), `^PREPEND Received-SPF: pass `, ""},
		{"mapped address", nil, req("client_address", "::ffff:192.0.2.10"), `^PREPEND Received-SPF: pass `, ""},
		{"bad client address", nil, req("client_address", "unknown"), `^DUNNO$`, ""},
		{"iprev pass", func(p *policy) { p.iprev = iprevReject }, req(), `^PREPEND Received-SPF: pass `, ""},
		{"iprev fail", func(p *policy) { p.iprev = iprevReject }, req("client_address", "192.0.2.11"), `^550 5\.7\.25 Reverse DNS validation failed for 192\.0\.2\.11$`, ""},
		{"iprev logged only", func(p *policy) { p.iprev = iprevLog; p.heloSignals = true }, req("client_address", "192.0.2.11"), `^PREPEND Received-SPF: pass `, ""},
		{"unknown request", nil, req("request", "junk"), "", `unsupported request type "junk"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := testPolicy(t, tt.mod)
			act, err := p.decide(context.Background(), tt.req)
			if tt.errMsg != "" {
				require.ErrorContains(t, err, tt.errMsg)
				return
			}
			require.NoError(t, err)
			require.NoError(t, act.Valid())
			assert.Regexp(t, regexp.MustCompile(tt.want), string(act))
		})
	}
}

func TestPolicyInstanceCache(t *testing.T) {
	t.Parallel()
	p := testPolicy(t, nil)
	ctx := context.Background()
	// Several recipients of one message: one header, checked once.
	a1, err := p.decide(ctx, req("instance", "1a.2b.0", "recipient", "one@receiver.test"))
	require.NoError(t, err)
	assert.Contains(t, string(a1), "PREPEND Received-SPF: pass")
	a2, err := p.decide(ctx, req("instance", "1a.2b.0", "recipient", "two@receiver.test"))
	require.NoError(t, err)
	assert.Equal(t, postfix.Dunno, a2)
	// A rejection is repeated for every recipient.
	r1, err := p.decide(ctx, req("instance", "3c.4d.0", "sender", "mallory@fail.test"))
	require.NoError(t, err)
	r2, err := p.decide(ctx, req("instance", "3c.4d.0", "sender", "mallory@fail.test", "recipient", "two@receiver.test"))
	require.NoError(t, err)
	assert.Equal(t, r1, r2)
	assert.Contains(t, string(r2), "550 5.7.23")
	// Another message gets its own header.
	a3, err := p.decide(ctx, req("instance", "5e.6f.0"))
	require.NoError(t, err)
	assert.Contains(t, string(a3), "PREPEND")
}

func TestInstanceCacheBounded(t *testing.T) {
	t.Parallel()
	c := newInstanceCache(3, time.Minute)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.put(k, decision{action: postfix.Action(k)})
	}
	assert.Len(t, c.entries, 3)
	_, ok := c.get("a")
	assert.False(t, ok)
	d, ok := c.get("e")
	require.True(t, ok)
	assert.Equal(t, postfix.Action("e"), d.action)
	expired := newInstanceCache(3, -time.Second)
	expired.put("x", decision{})
	_, ok = expired.get("x")
	assert.False(t, ok)
}

func testSRS(t *testing.T, cfg forward.Config) *forward.SRS {
	t.Helper()
	cfg.Domain = "fwd.example"
	cfg.Secrets = [][]byte{[]byte("test secret, 16+ octets")}
	cfg.Now = func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }
	s, err := forward.NewSRS(cfg)
	require.NoError(t, err)
	return s
}

func TestSRSMaps(t *testing.T) {
	t.Parallel()
	srs := testSRS(t, forward.Config{ExcludeDomains: []string{"local.example", ".internal.example"}})
	m := &srsMaps{srs: srs, logger: slog.New(slog.DiscardHandler)}
	any := &srsMaps{srs: srs, reverseAnyDomain: true, logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	fwd := m.lookup(ctx, mapForward, "alice@sender.example")
	require.Equal(t, postfix.MapOK, fwd.Status)
	assert.Regexp(t, `^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=sender\.example=alice@fwd\.example$`, fwd.Text)
	tests := []struct {
		name    string
		m       *srsMaps
		mapName string
		key     string
		status  postfix.MapStatus
		text    string
	}{
		{"reverse", m, mapReverse, fwd.Text, postfix.MapOK, "alice@sender.example"},
		{"reverse upper case domain", m, mapReverse, strings.Replace(fwd.Text, "fwd.example", "FWD.Example", 1), postfix.MapOK, "alice@sender.example"},
		{"reverse other domain refused", m, mapReverse, strings.Replace(fwd.Text, "fwd.example", "other.example", 1), postfix.MapNotFound, "not in the SRS domain"},
		{"reverse other domain, any", any, mapReverse, strings.Replace(fwd.Text, "fwd.example", "other.example", 1), postfix.MapOK, "alice@sender.example"},
		{"reverse bad hash", m, mapReverse, "SRS0=AAAA" + fwd.Text[9:], postfix.MapNotFound, "hash invalid"},
		{"reverse not srs", m, mapReverse, "bob@fwd.example", postfix.MapNotFound, "not an SRS address"},
		{"forward excluded", m, mapForward, "a@local.example", postfix.MapNotFound, "domain excluded from rewriting"},
		{"forward excluded subdomain", m, mapForward, "a@x.internal.example", postfix.MapNotFound, "domain excluded from rewriting"},
		{"forward parent of excluded subdomains", m, mapForward, "a@internal.example", postfix.MapOK, ""},
		{"forward own domain", m, mapForward, "a@fwd.example", postfix.MapNotFound, "in the SRS domain"},
		{"forward already rewritten", m, mapForward, strings.Replace(fwd.Text, "fwd.example", "elsewhere.example", 1), postfix.MapNotFound, "already rewritten by this SRS domain"},
		{"forward domain only", m, mapForward, "@sender.example", postfix.MapNotFound, "not an address"},
		{"forward local part only", m, mapForward, "alice", postfix.MapNotFound, "not an address"},
		{"forward trailing at", m, mapForward, "alice@", postfix.MapNotFound, "not an address"},
		{"forward too long", m, mapForward, strings.Repeat("a", 1100) + "@sender.example", postfix.MapNotFound, "address too long"},
		{"unknown map", m, "other", "a@b.example", postfix.MapPerm, "unknown map other; use forward or reverse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.m.lookup(ctx, tt.mapName, tt.key)
			assert.Equal(t, tt.status, r.Status)
			if tt.text != "" {
				assert.Equal(t, tt.text, r.Text)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "srs.conf")
	require.NoError(t, os.WriteFile(path, []byte(`# comment
domain = fwd.example
  secrets=/etc/postsrsd.secret
exclude = a.example, .b.example
exclude   c.example
--hash-length = 6
`), 0o600))
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	domain := fs.String("domain", "", "")
	secrets := fs.String("secrets", "", "")
	hashLen := fs.Int("hash-length", 0, "")
	var exclude listFlag
	fs.Var(&exclude, "exclude", "")
	fs.String("config", "", "")
	require.NoError(t, fs.Parse([]string{"--domain", "cli.example"}))
	require.NoError(t, loadConfig(fs, path))
	assert.Equal(t, "cli.example", *domain, "the command line wins")
	assert.Equal(t, "/etc/postsrsd.secret", *secrets)
	assert.Equal(t, 6, *hashLen)
	assert.Equal(t, listFlag{"a.example", ".b.example", "c.example"}, exclude)

	for name, text := range map[string]string{
		"unknown": "bogus = 1\n", "config": "config = x\n", "bad int": "hash-length = many\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		fresh := flag.NewFlagSet("t", flag.ContinueOnError)
		fresh.Int("hash-length", 0, "")
		fresh.String("config", "", "")
		err := loadConfig(fresh, p)
		assert.ErrorContains(t, err, p+":1:", name)
	}
	assert.Error(t, loadConfig(fs, filepath.Join(dir, "missing")))
}

// binaryLog collects a child's standard error while a goroutine reads it.
type binaryLog struct {
	mu   sync.Mutex
	b    strings.Builder
	done chan struct{} // closed when the reader saw the end of the stream
}

func (l *binaryLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

// String returns what was logged so far.
func (l *binaryLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// exited waits until the child has closed its standard error (it exited)
// and the reader has taken every line, then waits for the process: reading
// must end before cmd.Wait, which closes the pipe (os/exec).
func (l *binaryLog) exited(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("smtpsec did not exit:\n%s", l.String())
	}
	return cmd.Wait()
}

// startBinary runs the smtpsec binary with args and waits until it logged
// every "listening" line it is expected to; it returns the addresses.
func startBinary(t *testing.T, n int, args ...string) (*exec.Cmd, []string, *binaryLog) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	log := &binaryLog{done: make(chan struct{})}
	addrs := make(chan string, 8)
	listening := regexp.MustCompile(`msg=listening .*addr=(\S+)`)
	go func() {
		defer close(log.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			log.add(line)
			if m := listening.FindStringSubmatch(line); m != nil {
				addrs <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-log.done
		_ = cmd.Wait()
	})
	var got []string
	for range n {
		select {
		case a := <-addrs:
			got = append(got, a)
		case <-log.done:
			t.Fatalf("smtpsec exited early:\n%s", log.String())
		case <-time.After(20 * time.Second):
			t.Fatalf("smtpsec did not start:\n%s", log.String())
		}
	}
	return cmd, got, log
}

func TestServeSRSBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := "binary test secret 0123456789"
	secrets := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secrets, []byte(secret+"\n"), 0o644))
	conf := filepath.Join(dir, "srs.conf")
	require.NoError(t, os.WriteFile(conf, []byte("domain = fwd.example\nsecrets = "+secrets+
		"\nsocketmap = 127.0.0.1:0\ntcp-forward = 127.0.0.1:0\nexclude = local.example\nlog-level = debug\n"), 0o600))
	cmd, addrs, log := startBinary(t, 2, "serve", "srs", "--config", conf)
	require.Len(t, addrs, 2)

	c, err := net.Dial("tcp", addrs[0])
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(q string) string {
		_, err := c.Write(postfix.AppendNetstring(nil, q))
		require.NoError(t, err)
		p, err := postfix.ReadNetstring(br, postfix.MaxSocketmapReply)
		require.NoError(t, err)
		return string(p)
	}
	fwd := ask("forward alice@sender.example")
	require.True(t, strings.HasPrefix(fwd, "OK SRS0="), fwd)
	assert.Equal(t, "OK alice@sender.example", ask("reverse "+strings.TrimPrefix(fwd, "OK ")))
	assert.Equal(t, "NOTFOUND ", ask("forward a@local.example"))

	tc, err := net.Dial("tcp", addrs[1])
	require.NoError(t, err)
	defer tc.Close()
	_, err = io.WriteString(tc, "get alice@sender.example\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(tc).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "200 "+strings.TrimPrefix(fwd, "OK ")+"\n", line)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, log.exited(t, cmd), "exit status after SIGTERM")
	out := log.String()
	assert.Contains(t, out, "msg=stopped")
	assert.Contains(t, out, "secrets file is accessible to group or others")
	assert.NotContains(t, out, secret, "a secret reached the log")
}

func TestServePolicyBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := filepath.Join(dir, "zone")
	require.NoError(t, os.WriteFile(zone, []byte(policyZone), 0o644))
	cmd, addrs, log := startBinary(t, 1, "serve", "policy", "--listen", "127.0.0.1:0", "--zone", zone, "--receiver", "mx.receiver.test", "--trusted", "203.0.113.0/24")
	c, err := net.Dial("tcp", addrs[0])
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(r *postfix.PolicyRequest) string {
		_, err := c.Write(r.AppendTo(nil))
		require.NoError(t, err)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		empty, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "\n", empty)
		return strings.TrimSuffix(line, "\n")
	}
	assert.Regexp(t, `^action=PREPEND Received-SPF: pass \(mx\.receiver\.test: `, ask(req()))
	assert.Regexp(t, `^action=550 5\.7\.23 SPF MAIL FROM check failed: 192\.0\.2\.10 is not one of fail\.test's senders$`, ask(req("sender", "m@fail.test")))
	assert.Equal(t, "action=DUNNO", ask(req("client_address", "203.0.113.1", "sender", "m@fail.test")))
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, log.exited(t, cmd))
}

func TestServeUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve"},
		{"serve", "bogus"},
		{"serve", "srs"},
		{"serve", "srs", "--domain", "fwd.example", "--secrets", "testdata/secrets"},
		{"serve", "srs", "--domain", "fwd.example", "--secrets", "/nonexistent", "--socketmap", "127.0.0.1:0"},
		{"serve", "policy", "--iprev", "maybe"},
		{"serve", "policy", "--on-fail", "explode"},
		{"serve", "policy", "--trusted", "not-a-cidr"},
		{"serve", "policy", "--config", "/nonexistent"},
		{"serve", "policy", "extra"},
	} {
		r := smtpsec(t, "", args...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
		assert.Empty(t, r.stdout, "%v", args)
	}
	r := smtpsec(t, "", "serve", "--help")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Configuration file")
}

func TestServeSRSUnixSocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "srs") // short: unix socket paths are limited to 108 octets
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	secrets := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secrets, []byte("unix socket test secret\n"), 0o600))
	sock := filepath.Join(dir, "srs.sock")
	// A stale socket from an earlier run is replaced.
	stale, err := net.Listen("unix", sock)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())
	cmd, addrs, log := startBinary(t, 1, "serve", "srs", "--domain", "fwd.example", "--secrets", secrets,
		"--socketmap", "unix:"+sock, "--socket-mode", "0600")
	require.Equal(t, []string{"unix:" + sock}, addrs)
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(postfix.AppendNetstring(nil, "forward bob@sender.example"))
	require.NoError(t, err)
	p, err := postfix.ReadNetstring(bufio.NewReader(c), postfix.MaxSocketmapReply)
	require.NoError(t, err)
	assert.Regexp(t, `^OK SRS0=.{4}=..=sender\.example=bob@fwd\.example$`, string(p))
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, log.exited(t, cmd), log.String())
	_, err = os.Stat(sock)
	assert.True(t, os.IsNotExist(err), "socket left behind")
}

func BenchmarkPolicyDecide(b *testing.B) {
	z, err := resolver.ParseZone(strings.NewReader(policyZone), ".")
	require.NoError(b, err)
	c := &spf.Checker{Resolver: z, ReceiverDomain: "mx.receiver.test"}
	p := &policy{spf: c, checker: &sender.Checker{Resolver: z, SPF: c}, timeout: time.Second,
		onFail: actReject, onSoftFail: actPrepend, onTempError: actDefer, onPermError: actPrepend, onHELOFail: actReject,
		heloCheck: true, prepend: true, iprev: iprevOff, cache: newInstanceCache(100, time.Minute), logger: slog.New(slog.DiscardHandler)}
	r := req()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.decide(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSRSMapForward(b *testing.B) {
	s, err := forward.NewSRS(forward.Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("benchmark secret")}})
	require.NoError(b, err)
	m := &srsMaps{srs: s, logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := m.lookup(ctx, mapForward, "alice@sender.example"); r.Status != postfix.MapOK {
			b.Fatal(r)
		}
	}
}
