// Package bench compares smtpsec with its peers (blitiri.com.ar/go/spf,
// github.com/mjl-/mox) on the same inputs. It is a separate module so that the
// peers never enter smtpsec's own go.mod. Run: go test -bench . -benchmem
package bench
