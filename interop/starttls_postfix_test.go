package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/require"
)

// stlsPort returns a free TCP port on 127.0.0.1.
func stlsPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// postfixInstance is a private Postfix with its own config, queue and data
// directories under the test's temporary directory, listening on
// 127.0.0.1:SMTP (smtpd_tls_security_level=may), 127.0.0.1:SMTPEncrypt
// (encrypt) and 127.0.0.1:Submissions (implicit TLS, RFC 8314:
// smtpd_tls_wrappermode=yes), with the test CA's leaf for mx.example.test
// and localhost.
type postfixInstance struct {
	Dir         string
	SMTP        int
	SMTPEncrypt int
	Submissions int
	bin         string
}

// postfixConfig adds to the instance's configuration.
type postfixConfig struct {
	// Main are main.cf lines "name = value". A name that the base
	// configuration sets replaces the base line: Postfix warns about a
	// repeated name at every daemon start, and those warnings, written
	// before postlogd runs, have wedged smtpd. Other names are appended.
	Main []string
	// Master are extra master.cf lines (services, "  -o" option lines).
	Master []string
	// Transport and TLSPolicy are the texthash: tables (one entry a line).
	Transport, TLSPolicy []string
}

// requireSetup skips the test for a missing piece of the environment, or
// fails it when SMTPSEC_INTEROP is set (as requirePeer does): in CI a
// missing piece is a broken install, not a pass.
func requireSetup(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("SMTPSEC_INTEROP") != "" {
		t.Fatalf(format+" (SMTPSEC_INTEROP is set)", args...)
	}
	t.Skipf(format+" (set SMTPSEC_INTEROP=1 to make this a failure)", args...)
}

// mergeMain returns base with each override "name = value" replacing the
// base line of the same name, in place; overrides of other names follow in
// their order, a later one of a name replacing an earlier one.
func mergeMain(base, overrides []string) []string {
	name := func(l string) string {
		n, _, ok := strings.Cut(l, "=")
		if !ok {
			return ""
		}
		return strings.TrimSpace(n)
	}
	out := append([]string(nil), base...)
	at := make(map[string]int, len(out))
	for i, l := range out {
		if n := name(l); n != "" {
			at[n] = i
		}
	}
	for _, l := range overrides {
		n := name(l)
		if i, ok := at[n]; ok && n != "" {
			out[i] = l
			continue
		}
		if n != "" {
			at[n] = len(out)
		}
		out = append(out, l)
	}
	return out
}

// startPostfix writes the configuration and starts Postfix with
// `postfix -c DIR start`; it is stopped at cleanup. The daemons run as the
// postfix user (mail_owner), so the directories are made traversable.
func startPostfix(t *testing.T, ca *testcert.CA, leaf *testcert.Leaf, pc postfixConfig) *postfixInstance {
	t.Helper()
	bin := requirePeer(t, "postfix", "/usr/sbin/postfix")
	if os.Geteuid() != 0 {
		requireSetup(t, "a private Postfix instance needs root (it drops to mail_owner itself)")
	}
	dir := t.TempDir()
	// t.TempDir's directories are 0700; the daemons must reach the queue.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pf := &postfixInstance{Dir: dir, SMTP: stlsPort(t), SMTPEncrypt: stlsPort(t), Submissions: stlsPort(t), bin: bin}
	for _, d := range []string{"spool", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), postfixUID(t), -1); err != nil {
		t.Fatal(err)
	}
	files := testcert.WriteFiles(t, dir, "", ca, leaf)
	main := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + dir + "/spool",
		"data_directory = " + dir + "/data",
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"myhostname = mx.example.test",
		"mydomain = example.test",
		"myorigin = example.test",
		"mydestination = mx.example.test, localhost",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"maillog_file = " + dir + "/maillog",
		"maillog_file_prefixes = " + dir,
		"local_transport = discard:local-discard",
		"alias_maps =",
		"alias_database =",
		"smtp_host_lookup = native",
		"smtp_dns_support_level = disabled",
		"smtpd_tls_cert_file = " + files.Cert,
		"smtpd_tls_key_file = " + files.Key,
		"smtpd_tls_security_level = may",
		"smtpd_tls_loglevel = 1",
		"smtp_tls_security_level = may",
		"smtp_tls_loglevel = 1",
		"smtp_tls_servername = hostname",
		"smtp_tls_CAfile = " + files.CA,
		"smtp_tls_policy_maps = texthash:" + dir + "/tls_policy",
		"transport_maps = texthash:" + dir + "/transport",
		"minimal_backoff_time = 1s",
		"maximal_backoff_time = 2s",
		"queue_run_delay = 1s",
	}
	main = mergeMain(main, pc.Main)
	write := func(name string, lines []string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", main)
	write("transport", pc.Transport)
	write("tls_policy", pc.TLSPolicy)
	write("master.cf", append(masterCF(t, pf), pc.Master...))
	if out, err := pf.run("start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		_, _ = pf.run("stop")
		// Wait for master to exit, so that the directory can be removed.
		pidFile := filepath.Join(dir, "spool", "pid", "master.pid")
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if !processAlive(pidFile) {
				break
			}
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix maillog:\n%s", log)
		}
	})
	for _, port := range []int{pf.SMTP, pf.SMTPEncrypt, pf.Submissions} {
		waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	}
	return pf
}

// run runs `postfix -c DIR cmd` under script(1): Postfix reports fatal
// errors on stderr only when a terminal is attached.
func (pf *postfixInstance) run(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{pf.bin, "-c", pf.Dir, cmd}
	var c *exec.Cmd
	if script, err := exec.LookPath("script"); err == nil {
		c = exec.CommandContext(ctx, script, "-qec", strings.Join(args, " "), "/dev/null")
	} else {
		c = exec.CommandContext(ctx, args[0], args[1:]...)
	}
	out, err := c.CombinedOutput()
	return string(out), err
}

// maillog returns the instance's log so far.
func (pf *postfixInstance) maillog() string {
	b, _ := os.ReadFile(filepath.Join(pf.Dir, "maillog"))
	return string(b)
}

// waitLog waits until the log has a line containing all of parts.
func (pf *postfixInstance) waitLog(t *testing.T, timeout time.Duration, parts ...string) string {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
	lines:
		for _, l := range strings.Split(pf.maillog(), "\n") {
			for _, p := range parts {
				if !strings.Contains(l, p) {
					continue lines
				}
			}
			return l
		}
	}
	t.Fatalf("no maillog line with %q within %v", parts, timeout)
	return ""
}

// masterCF derives master.cf from the system's: no chroot, smtpd on the
// instance's ports, postlogd for maillog_file.
func masterCF(t *testing.T, pf *postfixInstance) []string {
	t.Helper()
	sys, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		requireSetup(t, "no /etc/postfix/master.cf: %v", err)
	}
	out := []string{
		fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd", pf.SMTP),
		fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd", pf.SMTPEncrypt),
		"  -o smtpd_tls_security_level=encrypt",
		// RFC 8314 implicit TLS: TLS from the first byte, no STARTTLS.
		fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd", pf.Submissions),
		"  -o smtpd_tls_wrappermode=yes",
		"  -o smtpd_tls_security_level=encrypt",
	}
	hasPostlog := false
	for _, l := range strings.Split(string(sys), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0 || strings.HasPrefix(l, "#") || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t"):
			out = append(out, l)
			continue
		case len(f) < 8:
			out = append(out, l)
			continue
		case f[1] == "inet":
			continue // the system's listeners: replaced by ours
		}
		if f[0] == "postlog" {
			hasPostlog = true
		}
		f[4] = "n" // no chroot: the queue is not set up for one
		out = append(out, strings.Join(f, " "))
	}
	if !hasPostlog {
		out = append(out, "postlog unix-dgram n - n - 1 postlogd")
	}
	return out
}

func postfixUID(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("id", "-u", "postfix").Output()
	if err != nil {
		requireSetup(t, "no postfix user: %v", err)
	}
	var uid int
	if _, err := fmt.Sscan(string(bytes.TrimSpace(out)), &uid); err != nil {
		t.Fatal(err)
	}
	return uid
}

func processAlive(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &pid); err != nil || pid <= 0 {
		return false
	}
	_, err = os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
	}
	t.Fatalf("nothing listening on %s", addr)
}

func TestMergeMain(t *testing.T) {
	t.Parallel()
	base := []string{"a = 1", "b = 2", "# comment = x", "c = 3"}
	got := mergeMain(base, []string{"b = two", "d = 4", "d = four", "a=one", "no equals sign"})
	want := []string{"a=one", "b = two", "# comment = x", "c = 3", "d = four", "no equals sign"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mergeMain = %q, want %q", got, want)
	}
	if strings.Join(base, "\n") != "a = 1\nb = 2\n# comment = x\nc = 3" {
		t.Errorf("base modified: %q", base)
	}
}

// inject submits a test message for to through the instance's smtpd with our
// client (plaintext is fine on loopback: level none) and requires a 250.
func (pf *postfixInstance) inject(t *testing.T, to string) {
	t.Helper()
	s, err := stlsUpgrade(t, fmt.Sprintf("127.0.0.1:%d", pf.SMTP), "mx.example.test", &starttls.Policy{Level: starttls.None})
	require.NoError(t, err)
	r := stlsSend(t, s, "sender@example.test", to)
	require.Equal(t, 250, r.Code, r.String())
	require.NoError(t, s.Quit(context.Background()))
}
