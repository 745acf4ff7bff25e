package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// binary is the smtpsec command, built once for the test run.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "smtpsec-cmd")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "smtpsec")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const exampleZone = "../../examples/example.com.zone"

type result struct {
	code           int
	stdout, stderr string
}

// smtpsec runs the built binary.
func smtpsec(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, out.String(), errb.String()}
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -update")
	assert.Equal(t, string(want), got)
}

func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
	}{
		{"spf-lint.txt", []string{"spf", "lint", "--zone", exampleZone, "example.com"}, "", exitOK},
		{"spf-lint.json", []string{"spf", "lint", "--zone", exampleZone, "--json", "example.com"}, "", exitOK},
		{"spf-lint-legacy.txt", []string{"spf", "lint", "legacy.example.com", "--zone", exampleZone}, "", exitNegative},
		{"spf-lint-none.txt", []string{"spf", "lint", "--zone", exampleZone, "mail.example.com"}, "", exitNegative},
		{"spf-check-pass.txt", []string{"spf", "check", "--zone", exampleZone, "--ip", "203.0.113.200", "--from", "user@example.com", "--helo", "out.example.net"}, "", exitOK},
		{"spf-check-pass-trace.txt", []string{"spf", "check", "--zone", exampleZone, "--ip", "192.0.2.10", "--from", "user@example.com", "--helo", "mx1.example.com", "--trace"}, "", exitOK},
		{"spf-check-fail.txt", []string{"spf", "check", "--zone", exampleZone, "--ip", "192.0.2.99", "--from", "bob@strict.example.com", "--helo", "evil.example.org", "--receiver", "mx.example.org"}, "", exitNegative},
		{"spf-check-fail.json", []string{"spf", "check", "--zone", exampleZone, "--json", "--ip", "192.0.2.99", "--from", "bob@strict.example.com", "--helo", "evil.example.org", "--receiver", "mx.example.org"}, "", exitNegative},
		{"spf-check-helo.txt", []string{"spf", "check", "--zone", exampleZone, "--ip", "2001:db8::10", "--helo", "mx1.example.com"}, "", exitNegative},
		{"dmarc.txt", []string{"dmarc", "--zone", exampleZone, "mail.example.com"}, "", exitOK},
		{"dmarc.json", []string{"dmarc", "--zone", exampleZone, "--json", "example.com"}, "", exitOK},
		{"dmarc-none.txt", []string{"dmarc", "--zone", exampleZone, "nosuch.example.org"}, "", exitNegative},
		{"mtasts.txt", []string{"mtasts", "--zone", exampleZone, "--policy", "../../examples/mta-sts.txt", "example.com"}, "", exitNegative},
		{"mtasts.json", []string{"mtasts", "--zone", exampleZone, "--policy", "../../examples/mta-sts.txt", "--json", "example.com"}, "", exitNegative},
		{"mtasts-none.txt", []string{"mtasts", "--zone", exampleZone, "mail.example.com"}, "", exitNegative},
		{"dane.txt", []string{"dane", "--zone", exampleZone, "--assume-secure", "--domain", "example.com", "mx1.example.com"}, "", exitOK},
		{"dane.json", []string{"dane", "--zone", exampleZone, "--assume-secure", "mx1.example.com", "--json"}, "", exitOK},
		{"dane-encrypt-only.txt", []string{"dane", "--zone", exampleZone, "--assume-secure", "mx2.example.com"}, "", exitNegative},
		{"dane-insecure.txt", []string{"dane", "--zone", exampleZone, "mx1.example.com"}, "", exitNegative},
		{"srs-forward.txt", []string{"srs", "forward", "--domain", "fwd.example.org", "--secrets", "testdata/secrets", "--date", "2026-11-28", "alice@example.com", "SRS0=abcd=TT=example.net=bob@other.example"}, "", exitOK},
		{"srs-batch.json", []string{"srs", "reverse", "--domain", "fwd.example.org", "--secrets", "testdata/secrets", "--date", "2026-11-30", "--json"}, "SRS0=2mJj=JR=example.com=alice@fwd.example.org\nSRS0=2mJj=JR=example.com=mallory@fwd.example.org\nnot-an-srs-address@example.com\n\n", exitNegative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := smtpsec(t, tt.stdin, tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			if strings.HasSuffix(tt.name, ".json") {
				assert.True(t, json.Valid([]byte(r.stdout)), "invalid JSON: %s", r.stdout)
			}
			golden(t, tt.name, r.stdout)
		})
	}
}

// TestBadInput checks that bad input gives exit code 2, a message on standard
// error, and nothing on standard output.
func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown subcommand", []string{"spf", "frob"}, `unknown subcommand "frob"`},
		{"bad ip", []string{"spf", "check", "--zone", exampleZone, "--ip", "192.0.2.300", "--from", "a@example.com"}, `"192.0.2.300" is not an IP address`},
		{"missing ip", []string{"spf", "check", "--zone", exampleZone, "--from", "a@example.com"}, "needs --ip"},
		{"unknown flag", []string{"spf", "lint", "--frob", "example.com"}, "flag provided but not defined"},
		{"missing zone", []string{"spf", "lint", "--zone", "testdata/nonexistent.zone", "example.com"}, "no such file"},
		{"zone syntax error", []string{"spf", "lint", "--zone", "testdata/broken.zone", "example.com"}, "line 3"},
		{"zone and dns", []string{"spf", "lint", "--zone", exampleZone, "--dns", "127.0.0.1", "example.com"}, "exclude each other"},
		{"bad domain", []string{"spf", "lint", "--zone", exampleZone, "a..example.com"}, "empty label"},
		{"missing secrets", []string{"srs", "forward", "--domain", "fwd.example.org", "--secrets", "testdata/nonexistent", "a@example.com"}, "no such file"},
		{"assume-secure without zone", []string{"dane", "--assume-secure", "mx1.example.com"}, "needs --zone"},
		{"bad port", []string{"dane", "--zone", exampleZone, "--port", "0", "mx1.example.com"}, "--port"},
		{"missing policy file", []string{"mtasts", "--zone", exampleZone, "--policy", "testdata/nonexistent", "example.com"}, "no such file"},
		{"srs without domain", []string{"srs", "forward", "--secrets", "testdata/secrets", "a@example.com"}, "needs --domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := smtpsec(t, "", tt.args...)
			assert.Equal(t, exitUsage, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, tt.stderr)
		})
	}
}

// TestOverTheWire runs the DNS-reading commands against a real DNS server on
// loopback serving the example zone, and checks they agree with --zone.
func TestOverTheWire(t *testing.T) {
	t.Parallel()
	f, err := os.Open(exampleZone)
	require.NoError(t, err)
	defer f.Close()
	z, err := resolver.ParseZone(f, ".")
	require.NoError(t, err)
	srv := resolvertest.NewServer(t, z)

	for _, args := range [][]string{
		{"spf", "lint", "example.com"},
		{"spf", "lint", "legacy.example.com"},
		{"spf", "check", "--ip", "192.0.2.99", "--from", "bob@strict.example.com", "--helo", "evil.example.org"},
		{"dmarc", "--json", "mail.example.com"},
	} {
		wire := smtpsec(t, "", append(args, "--dns", srv.Addr())...)
		offline := smtpsec(t, "", append(args, "--zone", exampleZone)...)
		assert.Equal(t, offline, wire, "%v", args)
	}
	require.NotZero(t, srv.Count(), "the server was never asked")

	// A server failure makes the verdict unknown: exit code 3.
	require.NoError(t, z.SetFailure("strict.example.com", 0, resolver.FailServFail))
	r := smtpsec(t, "", "spf", "check", "--dns", srv.Addr(), "--ip", "192.0.2.99", "--from", "bob@strict.example.com")
	assert.Equal(t, exitTemp, r.code)
	assert.Contains(t, r.stdout, "result:      temperror")
	r = smtpsec(t, "", "spf", "lint", "--dns", srv.Addr(), "strict.example.com")
	assert.Equal(t, exitTemp, r.code)
}

func TestSRSRoundTrip(t *testing.T) {
	t.Parallel()
	common := []string{"--domain", "fwd.example.org", "--secrets", "testdata/secrets", "--date", "2026-11-28"}
	senders := "alice@example.com\nbob@sub.example.net\nSRS0=HHHH=TT=orig.example=carol@hop.example\n"
	fwd := smtpsec(t, senders, append([]string{"srs", "forward"}, common...)...)
	require.Equal(t, exitOK, fwd.code, fwd.stderr)
	lines := strings.Split(strings.TrimSpace(fwd.stdout), "\n")
	require.Len(t, lines, 3)
	rev := smtpsec(t, lines[0]+"\n"+lines[1]+"\n", append([]string{"srs", "reverse"}, common...)...)
	require.Equal(t, exitOK, rev.code, rev.stderr)
	assert.Equal(t, "alice@example.com\nbob@sub.example.net\n", rev.stdout)
	// A tampered address is refused, with the reason on standard error.
	tampered := strings.Replace(lines[0], "alice", "mallory", 1)
	bad := smtpsec(t, tampered+"\n", append([]string{"srs", "reverse"}, common...)...)
	assert.Equal(t, exitNegative, bad.code)
	assert.Empty(t, bad.stdout)
	assert.Contains(t, bad.stderr, tampered)
}
