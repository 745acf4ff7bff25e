package forward_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/smtpsec/smtpsec/forward"
)

// now pins the clock so that the examples' output does not change: the
// timestamp of 2026-11-28 is "JR".
func now() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }

func Example() {
	srs, err := forward.NewSRS(forward.Config{
		Domain:  "fwd.example",
		Secrets: [][]byte{[]byte("tops3cret")},
		Now:     now,
	})
	if err != nil {
		panic(err)
	}
	// Outgoing: rewrite MAIL FROM before relaying to the next hop.
	rewritten, err := srs.Forward("alice@sender.example")
	fmt.Println(rewritten, err)

	// Incoming bounce to the SRS address: find the original sender.
	original, err := srs.Reverse(rewritten)
	fmt.Println(original, err)

	// Senders of our own domain are left alone.
	fmt.Println(srs.Forward("bob@fwd.example"))
	// Output:
	// SRS0=qtZ4=JR=sender.example=alice@fwd.example <nil>
	// alice@sender.example <nil>
	// bob@fwd.example <nil>
}

func ExampleSRS_Forward_chain() {
	srs, _ := forward.NewSRS(forward.Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("tops3cret")}, Now: now})
	// The sender was already rewritten by another forwarder, hop1.example.
	out, _ := srs.Forward("SRS0=abcd=AB=orig.example=bob@hop1.example")
	fmt.Println(out)
	// A bounce to it goes straight back to hop1.example.
	back, _ := srs.Reverse(out)
	fmt.Println(back)
	// Output:
	// SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example
	// SRS0=abcd=AB=orig.example=bob@hop1.example
}

func ExampleSRS_Reverse_errors() {
	srs, _ := forward.NewSRS(forward.Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("tops3cret")}, Now: now})
	for _, rcpt := range []string{
		"postmaster@fwd.example",
		"SRS0=qtZ4=JR=sender.example=mallory@fwd.example",
		"SRS0=qtZ4=IY=sender.example=alice@fwd.example",
		"SRS0=qtZ4=JR=sender.example@fwd.example",
	} {
		_, err := srs.Reverse(rcpt)
		switch {
		case errors.Is(err, forward.ErrNotSRS):
			fmt.Println("not SRS: deliver locally")
		case errors.Is(err, forward.ErrHashInvalid):
			fmt.Println("forged: reject")
		case errors.Is(err, forward.ErrExpired):
			fmt.Println("expired: reject")
		case errors.Is(err, forward.ErrMalformed):
			var e *forward.Error
			errors.As(err, &e)
			fmt.Println("malformed, no", e.Field)
		}
	}
	// Output:
	// not SRS: deliver locally
	// forged: reject
	// expired: reject
	// malformed, no user
}

// Rotating secrets: put the new one first, keep the old one until MaxAge
// has passed, then drop it.
func ExampleConfig_rotation() {
	before, _ := forward.NewSRS(forward.Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("2025-secret")}, Now: now})
	inFlight, _ := before.Forward("alice@sender.example")

	after, _ := forward.NewSRS(forward.Config{
		Domain:  "fwd.example",
		Secrets: [][]byte{[]byte("2026-secret"), []byte("2025-secret")},
		Now:     now,
	})
	fmt.Println(after.Reverse(inFlight))
	fresh, _ := after.Forward("alice@sender.example")
	fmt.Println(inFlight != fresh)
	// Output:
	// alice@sender.example <nil>
	// true
}

// In compat mode, a re-split of the fields verifies; StrictMAC stops it.
func ExampleConfig_strictMAC() {
	for _, strict := range []bool{false, true} {
		srs, _ := forward.NewSRS(forward.Config{
			Domain: "fwd.example", Secrets: [][]byte{[]byte("tops3cret")}, Now: now,
			StrictMAC: strict,
		})
		// The attacker gets a spoofed sender forwarded...
		minted, _ := srs.Forward("mvictim@target.co")
		a, _ := forward.Parse(minted)
		// ...and moves the '=' one character to the right.
		a.Host, a.User = "target.com", "victim"
		got, err := srs.Reverse(a.String())
		fmt.Printf("strict=%v: %q %v\n", strict, got, err != nil)
	}
	// Output:
	// strict=false: "victim@target.com" false
	// strict=true: "" true
}

func ExampleParse() {
	a, err := forward.Parse("SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example")
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Kind, a.Hash, a.FirstHop, a.Opaque, a.Domain)
	orig, ok := a.Original() // unauthenticated: for logs only
	fmt.Println(orig, ok)
	// Output:
	// SRS1 jAhF hop1.example =abcd=AB=orig.example=bob fwd.example
	// bob@orig.example true
}
