package interop

import (
	"os"
	"os/exec"
	"testing"
)

// requirePeer returns the path of the named program. When it is missing, the
// test is skipped, unless SMTPSEC_INTEROP is set (CI sets it), in which case
// it fails: in CI a missing peer is a broken install, not a pass.
func requirePeer(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if _, err := os.Stat(name); err == nil {
			return name
		}
	}
	if os.Getenv("SMTPSEC_INTEROP") != "" {
		t.Fatalf("peer %v not installed, and SMTPSEC_INTEROP is set", names)
	}
	t.Skipf("peer %v not installed (set SMTPSEC_INTEROP=1 to make this a failure)", names)
	return ""
}
