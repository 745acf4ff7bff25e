package forward

import (
	"crypto/hmac"
	"crypto/sha1"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkSRS measures Forward and Reverse against the floor: one
// HMAC-SHA1 over the same input with a pre-keyed hash reused through Reset.
// Run the sub-benchmarks together so that the ratios come from one run:
//
//	go test -run '^$' -bench BenchmarkSRS -benchmem ./forward/
func BenchmarkSRS(b *testing.B) {
	const sender = "alice@sender.example"
	// The clock is the real one, as in production (Config.Now nil).
	one := newTestSRS(b, func(c *Config) { c.Secrets = c.Secrets[:1]; c.Now = nil })
	// The same with an injected clock, to show the cost of reading the
	// system clock (a quarter of the floor on a virtual machine).
	fixed := newTestSRS(b, func(c *Config) { c.Secrets = c.Secrets[:1] })
	fixedAddr, err := fixed.Forward(sender)
	if err != nil {
		b.Fatal(err)
	}
	two := newTestSRS(b, func(c *Config) { c.Now = nil })
	strict := newTestSRS(b, func(c *Config) { c.Secrets = c.Secrets[:1]; c.StrictMAC = true; c.Now = nil })
	addr, err := one.Forward(sender)
	if err != nil {
		b.Fatal(err)
	}
	strictAddr, err := strict.Forward(sender)
	if err != nil {
		b.Fatal(err)
	}
	srs1, err := one.Forward("SRS0=abcd=AB=orig.example=bob@hop1.example")
	if err != nil {
		b.Fatal(err)
	}

	// Ratio interleaves small batches of the floor, Forward and Reverse,
	// timed by the CPU time of the benchmark's own thread, and reports the
	// median over the rounds of each batch's time divided by the floor
	// batch's of the same round: paired and median, so that other
	// processes on a loaded machine, which slow some rounds and not
	// others, do not distort the ratios. hmac/floor is the package's HMAC
	// alone (SRS.mac) on the same input.
	//
	// The ratios still depend on the host: on a shared VM whose core is
	// contended (the floor then reads 280 to 350 ns instead of 250 ns),
	// memory-bound code slows more than the floor, whose time is mostly
	// SHA-1 rounds. Run with taskset on each CPU to see which state a core
	// is in.
	b.Run("Ratio", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		h := hmac.New(sha1.New, []byte("tops3cret"))
		in := []byte(macInputFor(one, "sender.example", "alice"))
		sum := make([]byte, 0, sha1.Size)
		// out has the length of the Forward result: converting it to a
		// string is the one allocation Forward makes, measured alone.
		out := []byte(addr)
		const batch = 64
		const kinds = 7
		names := [kinds]string{"forward/floor", "reverse/floor", "forward-fixed-now/floor", "reverse-fixed-now/floor", "one-alloc/floor", "hmac/floor"}
		msg := make([]byte, 0, macBufSize)
		var hmacSum [sha1.Size]byte
		var ratios [kinds][]float64
		var floorTotal time.Duration
		rounds := 0
		for b.Loop() {
			var t [kinds + 1]time.Duration
			t[0] = threadCPU()
			for range batch {
				h.Reset()
				h.Write(in)
				sum = h.Sum(sum[:0])
			}
			t[1] = threadCPU()
			for range batch {
				_, _ = one.Forward(sender)
			}
			t[2] = threadCPU()
			for range batch {
				_, _ = one.Reverse(addr)
			}
			t[3] = threadCPU()
			for range batch {
				_, _ = fixed.Forward(sender)
			}
			t[4] = threadCPU()
			for range batch {
				_, _ = fixed.Reverse(fixedAddr)
			}
			t[5] = threadCPU()
			for range batch {
				benchSink = string(out)
			}
			t[6] = threadCPU()
			for range batch {
				one.mac(0, append(msg[:0], in...), &hmacSum)
			}
			t[7] = threadCPU()
			floor := t[1] - t[0]
			if floor <= 0 {
				continue // below the clock's resolution
			}
			floorTotal += floor
			rounds++
			for k := 0; k < kinds-1; k++ {
				ratios[k] = append(ratios[k], float64(t[k+2]-t[k+1])/float64(floor))
			}
		}
		for k := 0; k < kinds-1; k++ {
			b.ReportMetric(median(ratios[k]), names[k])
		}
		if rounds > 0 {
			b.ReportMetric(float64(floorTotal)/float64(rounds*batch), "floor-ns/op")
		}
	})
	b.Run("Floor", func(b *testing.B) {
		b.ReportAllocs()
		h := hmac.New(sha1.New, []byte("tops3cret"))
		in := []byte(macInputFor(one, "sender.example", "alice"))
		sum := make([]byte, 0, sha1.Size)
		for b.Loop() {
			h.Reset()
			h.Write(in)
			sum = h.Sum(sum[:0])
		}
	})
	b.Run("Forward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := one.Forward(sender); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reverse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := one.Reverse(addr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ForwardStrict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := strict.Forward(sender); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReverseStrict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := strict.Reverse(strictAddr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReverseSRS1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := one.Reverse(srs1); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Two secrets: Reverse computes both HMACs whatever matches.
	b.Run("ReverseTwoSecrets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := two.Reverse(addr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReverseParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := one.Reverse(addr); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example"); err != nil {
			b.Fatal(err)
		}
	}
}

var benchSink string

// median returns the median of v (which it sorts), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// macInputFor returns the compat-mode MAC input for host and user today.
func macInputFor(s *SRS, host, user string) string {
	st := encodeStamp(s.day())
	return strings.ToLower(string(st[:]) + host + user)
}
