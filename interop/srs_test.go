package interop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/forward"
)

const (
	srsDomain = "fwd.example"
	srsSecret = "s3cret-for-interop"
	srsOld    = "previous-secret"
)

// srsToday returns the current time, first waiting out the last seconds
// of a UTC day so that postsrsd (real clock) and our SRS (Now pinned to this
// value) stay on the same day for the whole test.
func srsToday(t *testing.T) time.Time {
	t.Helper()
	now := time.Now().UTC()
	midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if left := midnight.Sub(now); left < 90*time.Second {
		t.Logf("waiting %v for UTC midnight", left)
		time.Sleep(left + time.Second)
		now = time.Now().UTC()
	}
	return now
}

func newSRS(t *testing.T, now time.Time, mod func(*forward.Config)) *forward.SRS {
	t.Helper()
	c := forward.Config{
		Domain:  srsDomain,
		Secrets: [][]byte{[]byte(srsSecret)},
		Now:     func() time.Time { return now },
	}
	if mod != nil {
		mod(&c)
	}
	s, err := forward.NewSRS(c)
	require.NoError(t, err)
	return s
}

// get asks a postsrsd table and fails the test on protocol errors.
func get(t *testing.T, tbl *srsTCPTable, key string) (int, string) {
	t.Helper()
	code, v, err := tbl.Get(key)
	require.NoError(t, err)
	require.Contains(t, []int{200, 500}, code)
	return code, v
}

// srsSenders are senders for which our Forward must equal postsrsd's.
var srsSenders = []string{
	"alice@sender.example",
	"user@example.com",
	"UsEr@EXAMPLE.com",
	"user@EXAMPLE.COM",
	"first.last@example.org",
	"first.last=x@example.org",
	"bounce-123-user=example.com@lists.example",
	"a+tag@example.net",
	"a-b_c@example.net",
	"o'brien@example.ie",
	"user!#$&*/?^`{|}~@example.com",
	"x@a.b.c.d.example",
	"12345@example.com",
	"user x@example.com",
	"user%x@example.com",
	"tab\there@example.com",
	`"john doe"@example.com`,
	"m\u00fc@m\u00fcnchen.example",
	"user@xn--mnchen-3ya.example",
	"\u00f1and\u00fa@example.es",
	"user@[192.0.2.1]",
	"user@[IPv6:2001:db8::1]",
	`"a b"@[192.0.2.7]`,
	"x@192.0.2.1",
	"user@example.com.",
	"user@-bad-.example",
	"user@sub.fwd.example",
	"user@fwd.example",
	"USER@FWD.EXAMPLE",
	"@example.com",
	"user@",
	"mvictim@target.co",
	strings.Repeat("l", 40) + "@example.com",
	strings.Repeat("long.", 40) + "x@" + strings.Repeat("sub.", 30) + "example.com",
	"SRS0@example.com",
	"srs0@example.com",
	"SRS0=abcd=AB=orig.example=bob@hop1.example",
	"SRS0+abcd=AB=orig.example=bob@hop1.example",
	"SRS0-abcd=AB=orig.example=bob@hop1.example",
	"srs0=abcd=ab=orig.example=bob@hop1.example",
	"SRS0=garbage@hop1.example",
	"SRS1=wxyz=hop1.example==abcd=AB=orig.example=bob@hop2.example",
	"SRS1+wxyz=hop1.example=+abcd=AB=orig.example=bob@hop2.example",
	"srs1-wxyz=hop1.example=-abcd=AB=orig.example=bob@hop2.example",
	"SRS1=wxyz=hop1.example==@hop2.example",
	"SRS1=wxyz=example.com=@hop2.example",
	"SRS2=x@example.com",
	"SRS0xyz@example.com",
	"SRS@example.com",
}

// TestSRSPostsrsd compares forward with a live postsrsd 1.x: for the same
// secret, domain and day, the same rewriting, and each side reverses what
// the other mints.
func TestSRSPostsrsd(t *testing.T) {
	bin := requirePeer(t, "postsrsd", "/usr/sbin/postsrsd")
	now := srsToday(t)

	configs := []struct {
		name string
		opt  postsrsdOptions
		mod  func(*forward.Config)
	}{
		{"separator =", postsrsdOptions{}, nil},
		{"separator +", postsrsdOptions{Separator: '+'}, func(c *forward.Config) { c.Separator = '+' }},
		{"separator - hash 8 min 5", postsrsdOptions{Separator: '-', HashLen: 8, HashMin: 5},
			func(c *forward.Config) { c.Separator = '-'; c.HashLength = 8; c.HashMinLength = 5 }},
		{"always rewrite", postsrsdOptions{Always: true}, func(c *forward.Config) { c.AlwaysRewrite = true }},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			opt := cfg.opt
			opt.Secrets, opt.Domain = []string{srsSecret}, srsDomain
			pd := startPostsrsd(t, bin, opt)
			s := newSRS(t, now, cfg.mod)

			rewritten := 0
			for _, sender := range srsSenders {
				code, theirs := get(t, pd.Forward, sender)
				ours, err := s.Forward(sender)
				require.Equal(t, 200, code, "postsrsd refused %q: %s", sender, theirs)
				require.NoError(t, err, sender)
				require.Equal(t, theirs, ours, "forward of %q", sender)
				if ours == sender {
					continue
				}
				rewritten++
				// postsrsd reverses ours, we reverse its (the same
				// string here, but each side does its own check).
				code, back := get(t, pd.Reverse, ours)
				require.Equal(t, 200, code, "postsrsd cannot reverse %q: %s", ours, back)
				mine, err := s.Reverse(theirs)
				require.NoError(t, err, theirs)
				assert.Equal(t, back, mine, "reverse of %q", ours)
				if strings.HasPrefix(ours, "SRS0") {
					assert.Equal(t, sender, mine)
				}
				// Both refuse to rewrite it again.
				code, _ = get(t, pd.Forward, ours)
				assert.Equal(t, 500, code)
				_, err = s.Forward(ours)
				assert.ErrorIs(t, err, forward.ErrAlreadyRewritten)
			}
			t.Logf("%d senders identical, %d of them rewritten", len(srsSenders), rewritten)
			require.GreaterOrEqual(t, len(srsSenders), 40)
		})
	}
}

// TestSRSPostsrsdReverse checks that both sides accept and refuse the same
// SRS addresses: case changes, hash lengths, tampering, malformed input,
// timestamps of other days, rotated secrets.
func TestSRSPostsrsdReverse(t *testing.T) {
	bin := requirePeer(t, "postsrsd", "/usr/sbin/postsrsd")
	now := srsToday(t)
	day := 24 * time.Hour

	t.Run("timestamps", func(t *testing.T) {
		pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain})
		verifier := newSRS(t, now, nil)
		for _, tc := range []struct {
			name   string
			minted time.Time
			theirs int // postsrsd's reply code
			ours   error
		}{
			{"today", now, 200, nil},
			{"21 days ago", now.Add(-21 * day), 200, nil},
			{"22 days ago", now.Add(-22 * day), 500, forward.ErrExpired},
			{"1024 days ago (wrap)", now.Add(-1024 * day), 200, nil},
			{"1046 days ago", now.Add(-1046 * day), 500, forward.ErrExpired},
			// Deliberate difference: one day ahead is accepted by us.
			{"tomorrow", now.Add(day), 500, nil},
			{"in two days", now.Add(2 * day), 500, forward.ErrExpired},
		} {
			minter := newSRS(t, tc.minted, nil)
			addr, err := minter.Forward("user@example.com")
			require.NoError(t, err)
			code, v := get(t, pd.Reverse, addr)
			assert.Equal(t, tc.theirs, code, "%s: postsrsd said %q", tc.name, v)
			if code == 500 {
				assert.Equal(t, "Time stamp out of date.", v, tc.name)
			}
			got, err := verifier.Reverse(addr)
			if tc.ours == nil {
				require.NoError(t, err, tc.name)
				assert.Equal(t, "user@example.com", got)
			} else {
				assert.ErrorIs(t, err, tc.ours, tc.name)
			}
		}
	})

	t.Run("rotation", func(t *testing.T) {
		// postsrsd signs with the new secret and still accepts the old.
		pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret, srsOld}, Domain: srsDomain})
		pdOld := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsOld}, Domain: srsDomain})
		pdNew := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain})
		both := newSRS(t, now, func(c *forward.Config) { c.Secrets = [][]byte{[]byte(srsSecret), []byte(srsOld)} })
		oldOnly := newSRS(t, now, func(c *forward.Config) { c.Secrets = [][]byte{[]byte(srsOld)} })
		newOnly := newSRS(t, now, nil)

		_, inFlightTheirs := get(t, pdOld.Forward, "alice@sender.example")
		inFlightOurs, err := oldOnly.Forward("alice@sender.example")
		require.NoError(t, err)
		require.Equal(t, inFlightTheirs, inFlightOurs)
		_, freshTheirs := get(t, pd.Forward, "alice@sender.example")
		freshOurs, err := both.Forward("alice@sender.example")
		require.NoError(t, err)
		require.Equal(t, freshTheirs, freshOurs, "the first secret signs")
		require.NotEqual(t, inFlightOurs, freshOurs)

		for _, addr := range []string{inFlightOurs, freshOurs} {
			code, v := get(t, pd.Reverse, addr)
			assert.Equal(t, 200, code, v)
			got, err := both.Reverse(addr)
			require.NoError(t, err)
			assert.Equal(t, "alice@sender.example", got)
		}
		// Once the old secret is dropped, both refuse what it signed.
		code, v := get(t, pdNew.Reverse, inFlightTheirs)
		assert.Equal(t, 500, code)
		assert.Equal(t, "Hash invalid in SRS address.", v)
		_, err = newOnly.Reverse(inFlightTheirs)
		assert.ErrorIs(t, err, forward.ErrHashInvalid)
	})

	t.Run("hash lengths and case", func(t *testing.T) {
		pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain, HashLen: 8, HashMin: 5})
		s := newSRS(t, now, func(c *forward.Config) { c.HashLength = 8; c.HashMinLength = 5 })
		_, minted := get(t, pd.Forward, "alice@sender.example")
		a, err := forward.Parse(minted)
		require.NoError(t, err)
		require.Len(t, a.Hash, 8)
		variants := map[string]int{}
		for n := 3; n <= 8; n++ {
			b := a
			b.Hash = a.Hash[:n]
			variants[b.String()] = 0
		}
		longer := a
		longer.Hash += "XYZ"
		variants[longer.String()] = 0
		variants[strings.ToLower(minted)] = 0
		variants[strings.ToUpper(minted)] = 0
		checked := 0
		for addr := range variants {
			code, v := get(t, pd.Reverse, addr)
			_, err := s.Reverse(addr)
			switch code {
			case 200:
				assert.NoError(t, err, "postsrsd accepts %q, we do not", addr)
			case 500:
				assert.Error(t, err, "postsrsd refuses %q (%s), we do not", addr, v)
				if v == "Hash too short in SRS address." {
					assert.ErrorIs(t, err, forward.ErrHashTooShort)
				}
			}
			checked++
		}
		assert.Equal(t, 9, checked)
	})

	t.Run("tampered and malformed", func(t *testing.T) {
		pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain})
		s := newSRS(t, now, nil)
		var inputs []string
		for _, sender := range []string{"alice@sender.example", "SRS0=abcd=AB=orig.example=bob@hop1.example"} {
			_, minted := get(t, pd.Forward, sender)
			at := strings.LastIndexByte(minted, '@')
			for i := 0; i < at; i++ {
				for _, c := range []byte{'x', '=', '0', '@'} {
					if minted[i] == c || i == 4 {
						continue
					}
					inputs = append(inputs, minted[:i]+string(c)+minted[i+1:])
				}
				inputs = append(inputs, minted[:i]+minted[i+1:]) // deleted
			}
		}
		inputs = append(inputs, "SRS0=x", "SRS0=h=JR", "SRS0=h=JR=host", "SRS1=h", "SRS1=h=host",
			"SRS0==JR=h=u", "SRS0=ab=J1=example.com=user@x", "user@example.com", "SRS0@example.com", "")
		accepted := 0
		for _, addr := range inputs {
			if addr == "" {
				continue // postsrsd's protocol has no empty key
			}
			code, v := get(t, pd.Reverse, addr)
			got, err := s.Reverse(addr)
			if code == 200 {
				accepted++
				require.NoError(t, err, "postsrsd accepts %q as %q", addr, v)
				assert.Equal(t, v, got)
			} else {
				require.Error(t, err, "postsrsd refuses %q (%s); we gave %q", addr, v, got)
			}
		}
		t.Logf("%d tampered or malformed addresses, %d accepted by both (case or separator changes)", len(inputs), accepted)
	})

	t.Run("exclude", func(t *testing.T) {
		pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain, Exclude: []string{"example.net", ".example.com"}})
		s := newSRS(t, now, func(c *forward.Config) { c.ExcludeDomains = []string{"example.net", ".example.com"} })
		for _, sender := range []string{"u@example.net", "u@EXAMPLE.NET", "u@a.example.net", "u@example.com", "u@a.example.com", "u@a.b.Example.Com", "u@notexample.net"} {
			code, v := get(t, pd.Forward, sender)
			ours, err := s.Forward(sender)
			if code == 500 {
				assert.Equal(t, "Domain excluded py policy", v)
				assert.ErrorIs(t, err, forward.ErrExcluded, sender)
			} else {
				require.NoError(t, err, sender)
				assert.Equal(t, v, ours)
			}
		}
	})
}

// TestSRSPostsrsdDifferences pins down, against the live postsrsd, each case
// where forward deliberately differs (see the package documentation).
func TestSRSPostsrsdDifferences(t *testing.T) {
	bin := requirePeer(t, "postsrsd", "/usr/sbin/postsrsd")
	now := srsToday(t)
	pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain})
	s := newSRS(t, now, nil)

	t.Run("local part with @: split at the last @", func(t *testing.T) {
		for _, sender := range []string{`"a@b"@example.com`, "a@b@example.com"} {
			_, theirs := get(t, pd.Forward, sender)
			ours, err := s.Forward(sender)
			require.NoError(t, err)
			assert.NotEqual(t, theirs, ours)
			assert.True(t, strings.HasPrefix(ours, "SRS0="), ours)
			assert.Contains(t, ours, "=example.com=")
			// We reverse both to the sender; postsrsd, splitting the
			// SRS address at its first '@' too, reverses neither.
			for _, addr := range []string{theirs, ours} {
				got, err := s.Reverse(addr)
				require.NoError(t, err, addr)
				assert.Equal(t, sender, got)
			}
			code, v := get(t, pd.Reverse, theirs)
			assert.Equal(t, 500, code)
			assert.Equal(t, "No user in SRS0 address.", v)
			code, _ = get(t, pd.Reverse, ours)
			assert.Equal(t, 500, code)
		}
	})

	t.Run("SRS1 with an opaque part that cannot reverse", func(t *testing.T) {
		sender := "SRS1=h=host.example=3g=x@hop2.example"
		_, theirs := get(t, pd.Forward, sender)
		code, back := get(t, pd.Reverse, theirs)
		require.Equal(t, 200, code)
		assert.Equal(t, "SRS03g=x@host.example", back, "postsrsd issue #100")
		ours, err := s.Forward(sender)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(ours, "SRS0="), ours)
		got, err := s.Reverse(ours)
		require.NoError(t, err)
		assert.Equal(t, sender, got)
		code, v := get(t, pd.Reverse, ours)
		assert.Equal(t, 200, code, "postsrsd reverses our SRS0 wrap too")
		assert.Equal(t, sender, v)
	})

	t.Run("SRS1 lacking a field", func(t *testing.T) {
		sender := "SRS1=abc@hop.example"
		code, v := get(t, pd.Forward, sender)
		assert.Equal(t, 500, code)
		assert.Equal(t, "No host in SRS1 address.", v)
		ours, err := s.Forward(sender)
		require.NoError(t, err)
		got, err := s.Reverse(ours)
		require.NoError(t, err)
		assert.Equal(t, sender, got)
	})

	t.Run("domain with =", func(t *testing.T) {
		sender := "a@b=c"
		code, theirs := get(t, pd.Forward, sender)
		require.Equal(t, 200, code)
		// Reverse cuts the host at the first '=', so postsrsd's own
		// address does not verify: bounces to it are lost.
		code, back := get(t, pd.Reverse, theirs)
		assert.Equal(t, 500, code)
		assert.Equal(t, "Hash invalid in SRS address.", back)
		_, err := s.Forward(sender)
		assert.ErrorIs(t, err, forward.ErrBadSender)
	})

	t.Run("own domain with a trailing dot", func(t *testing.T) {
		sender := "user@fwd.example."
		code, theirs := get(t, pd.Forward, sender)
		require.Equal(t, 200, code)
		assert.NotEqual(t, sender, theirs)
		ours, err := s.Forward(sender)
		require.NoError(t, err)
		assert.Equal(t, sender, ours)
	})

	t.Run("timestamp error class", func(t *testing.T) {
		addr := "SRS0=abcd=JRX=example.com=user@x"
		code, v := get(t, pd.Reverse, addr)
		assert.Equal(t, 500, code)
		assert.Equal(t, "Time stamp out of date.", v)
		_, err := s.Reverse(addr)
		assert.ErrorIs(t, err, forward.ErrBadTimestamp)
	})

	t.Run("strict MAC", func(t *testing.T) {
		strict := newSRS(t, now, func(c *forward.Config) { c.StrictMAC = true })
		ours, err := strict.Forward("alice@sender.example")
		require.NoError(t, err)
		code, _ := get(t, pd.Reverse, ours)
		assert.Equal(t, 500, code)
		_, theirs := get(t, pd.Forward, "alice@sender.example")
		_, err = strict.Reverse(theirs)
		assert.ErrorIs(t, err, forward.ErrHashInvalid)
	})

	t.Run("field-boundary weakness", func(t *testing.T) {
		// postsrsd mints for a spoofed sender; a re-split of the same
		// bytes is a valid bounce address for another victim, for
		// postsrsd and for our compat mode, not for StrictMAC.
		_, minted := get(t, pd.Forward, "mvictim@target.co")
		a, err := forward.Parse(minted)
		require.NoError(t, err)
		a.Host, a.User = "target.com", "victim"
		forged := a.String()
		code, v := get(t, pd.Reverse, forged)
		assert.Equal(t, 200, code)
		assert.Equal(t, "victim@target.com", v)
		got, err := s.Reverse(forged)
		require.NoError(t, err)
		assert.Equal(t, "victim@target.com", got)

		strict := newSRS(t, now, func(c *forward.Config) { c.StrictMAC = true })
		mintedStrict, err := strict.Forward("mvictim@target.co")
		require.NoError(t, err)
		b, err := forward.Parse(mintedStrict)
		require.NoError(t, err)
		b.Host, b.User = "target.com", "victim"
		_, err = strict.Reverse(b.String())
		assert.ErrorIs(t, err, forward.ErrHashInvalid)
	})

	t.Run("base64url", func(t *testing.T) {
		url := newSRS(t, now, func(c *forward.Config) { c.URLSafeHash = true })
		std := newSRS(t, now, nil)
		// Find senders whose hash has a '+' or '/' in it, so that the two
		// alphabets differ.
		found := 0
		for i := 0; i < 400 && found < 3; i++ {
			sender := "user" + strings.Repeat("x", i%20) + "@n" + string(rune('a'+i%26)) + strings.Repeat("q", i/26) + ".example"
			_, theirs := get(t, pd.Forward, sender)
			a, err := forward.Parse(theirs)
			require.NoError(t, err)
			if !strings.ContainsAny(a.Hash, "+/") {
				continue
			}
			found++
			ours, err := url.Forward(sender)
			require.NoError(t, err)
			b, err := forward.Parse(ours)
			require.NoError(t, err)
			assert.Equal(t, strings.NewReplacer("+", "-", "/", "_").Replace(a.Hash), b.Hash)
			// postsrsd 1.x knows only the standard alphabet...
			code, _ := get(t, pd.Reverse, ours)
			assert.Equal(t, 500, code)
			// ...we accept both, whatever we mint.
			for _, addr := range []string{theirs, ours} {
				for _, v := range []*forward.SRS{url, std} {
					got, err := v.Reverse(addr)
					require.NoError(t, err, addr)
					assert.Equal(t, sender, got)
				}
			}
		}
		assert.Equal(t, 3, found)
	})
}

// TestSRSPostsrsdLength finds postsrsd's length limit and checks that ours
// is the same.
func TestSRSPostsrsdLength(t *testing.T) {
	bin := requirePeer(t, "postsrsd", "/usr/sbin/postsrsd")
	now := srsToday(t)
	pd := startPostsrsd(t, bin, postsrsdOptions{Secrets: []string{srsSecret}, Domain: srsDomain})
	s := newSRS(t, now, nil)
	host := "example.com"
	// An SRS0 address is 26 octets longer than sender's local part and
	// host with a domain of 11 octets; the limit is 1023.
	edge := forward.MaxAddressLength - 26 - len(host)
	for _, n := range []int{edge - 1, edge, edge + 1, edge + 2} {
		sender := strings.Repeat("x", n) + "@" + host
		code, v := get(t, pd.Forward, sender)
		_, err := s.Forward(sender)
		if code == 200 {
			assert.NoError(t, err, "local part of %d octets", n)
			assert.Len(t, v, 26+n+len(host))
		} else {
			assert.Equal(t, "Buffer too small.", v)
			assert.True(t, errors.Is(err, forward.ErrTooLong), "local part of %d octets: %v", n, err)
		}
	}
}
