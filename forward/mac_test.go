package forward

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdHMAC is the reference: crypto/hmac, keyed afresh.
func stdHMAC(key, msg []byte) []byte {
	h := hmac.New(sha1.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// leanOf computes the lean HMAC of msg under key through a fresh state.
func leanOf(t testing.TB, key, msg []byte) []byte {
	t.Helper()
	keys, lean, err := newMACKeys([][]byte{key})
	require.NoError(t, err)
	require.True(t, lean, "the lean HMAC failed its self-test")
	st := newMACState(1)
	st.lean = true
	var sum [sha1.Size]byte
	require.True(t, st.leanSum(&keys[0], sha1Pad(append([]byte(nil), msg...)), &sum))
	return sum[:]
}

func TestLeanHMAC(t *testing.T) {
	t.Parallel()
	keys := [][]byte{
		[]byte("k"),
		[]byte("tops3cret"),
		bytes.Repeat([]byte{0xa5}, sha1.BlockSize-1),
		bytes.Repeat([]byte{0x5a}, sha1.BlockSize),
		bytes.Repeat([]byte{0x3c}, sha1.BlockSize+1), // hashed first (RFC 2104 §2)
		bytes.Repeat([]byte("long secret "), 40),
	}
	for _, key := range keys {
		t.Run(fmt.Sprintf("key%d", len(key)), func(t *testing.T) {
			t.Parallel()
			// Every length around the padding boundaries (55/56 octets
			// in the last block) up to several blocks.
			for n := 0; n <= 3*sha1.BlockSize+1; n++ {
				msg := make([]byte, n)
				for i := range msg {
					msg[i] = byte(i*31 + n)
				}
				require.Equal(t, stdHMAC(key, msg), leanOf(t, key, msg), "message of %d octets", n)
			}
		})
	}
	// RFC 2202 §3, test cases 1 and 2 (HMAC-SHA-1).
	assert.Equal(t, "b617318655057264e28bc0b6fb378c8ef146be00",
		fmt.Sprintf("%x", leanOf(t, bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There"))))
	assert.Equal(t, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
		fmt.Sprintf("%x", leanOf(t, []byte("Jefe"), []byte("what do ya want for nothing?"))))
}

func TestSHA1Pad(t *testing.T) {
	t.Parallel()
	for n := 0; n < 3*sha1.BlockSize; n++ {
		p := sha1Pad(make([]byte, n))
		require.Zero(t, (sha1.BlockSize+len(p))%sha1.BlockSize, "n=%d", n)
		require.Equal(t, byte(0x80), p[n])
		// At least the 0x80 and the 8-octet length; less than a block
		// more than that.
		require.GreaterOrEqual(t, len(p)-n, 9)
		require.Less(t, len(p)-n, 9+sha1.BlockSize)
		assert.Equal(t, uint64(sha1.BlockSize+n)*8, beUint64(p[len(p)-8:]))
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// TestLeanSelfTest: a state the lean path cannot use (another layout of
// crypto/sha1's marshaled form would look like this) turns it off.
func TestLeanSelfTest(t *testing.T) {
	t.Parallel()
	keys, lean, err := newMACKeys([][]byte{[]byte("a"), []byte("b")})
	require.NoError(t, err)
	require.True(t, lean)
	bad := append([]macKey(nil), keys...)
	bad[1].outer = append([]byte(nil), keys[1].outer...)
	bad[1].outer[sha1ChainOffset] ^= 1 // a different chaining value
	assert.False(t, leanSelfTest(bad))
	bad[1].outer = bad[1].outer[:10] // refused by UnmarshalBinary
	assert.False(t, leanSelfTest(bad))
	bad[1].outer = nil
	assert.False(t, leanSelfTest(bad))
}

// TestStdHMACPath runs the postsrsd vectors with the lean HMAC off, as
// when its self-test fails: crypto/hmac gives the same addresses.
func TestStdHMACPath(t *testing.T) {
	t.Parallel()
	for _, v := range postsrsdVectors {
		s := newTestSRS(t, func(c *Config) { c.Separator = v.sep[0]; c.HashLength = v.hashLen })
		s.lean = false
		st := s.pool.Get().(*macState)
		require.False(t, st.lean, "the pool hands out states of the standard path")
		s.pool.Put(st)
		got, err := s.Forward(v.in)
		require.NoError(t, err)
		assert.Equal(t, v.out, got, v.name)
		_, err = s.Reverse(got)
		require.NoError(t, err, v.name)
		// And with the old secret, which only verifies.
		old := newTestSRS(t, func(c *Config) {
			c.Separator, c.HashLength = v.sep[0], v.hashLen
			c.Secrets = [][]byte{[]byte("new"), []byte("tops3cret")}
		})
		old.lean = false
		_, err = old.Reverse(got)
		require.NoError(t, err, v.name)
	}
}

func TestEncodeHash(t *testing.T) {
	t.Parallel()
	for i := range 50 {
		var sum [sha1.Size]byte
		copy(sum[:], stdHMAC([]byte{byte(i)}, []byte("x")))
		std := base64.RawStdEncoding.EncodeToString(sum[:])
		url := base64.RawURLEncoding.EncodeToString(sum[:])
		require.Len(t, std, maxHashLength)
		for n := 0; n <= maxHashLength; n++ {
			got := make([]byte, n)
			encodeHash(got, &sum, stdAlphabet)
			require.Equal(t, std[:n], string(got))
			encodeHash(got, &sum, urlAlphabet)
			require.Equal(t, url[:n], string(got))
		}
	}
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte{0}), stdAlphabet[:1]+"A==")
	assert.True(t, strings.HasSuffix(urlAlphabet, "-_"))
}

// FuzzLeanHMAC: the lean HMAC equals crypto/hmac for any key and message.
func FuzzLeanHMAC(f *testing.F) {
	f.Add([]byte("tops3cret"), []byte("jrsender.examplealice"))
	f.Add([]byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{1}, 65), bytes.Repeat([]byte{2}, 56))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		if len(msg) > 4*MaxAddressLength {
			return
		}
		keys, lean, err := newMACKeys([][]byte{key})
		if err != nil {
			t.Fatal(err)
		}
		if !lean {
			t.Fatal("the lean HMAC failed its self-test")
		}
		st := newMACState(1)
		st.lean = true
		var sum [sha1.Size]byte
		if !st.leanSum(&keys[0], sha1Pad(append([]byte(nil), msg...)), &sum) {
			t.Fatal("leanSum refused a state")
		}
		if want := stdHMAC(key, msg); !bytes.Equal(want, sum[:]) {
			t.Fatalf("lean %x, crypto/hmac %x", sum, want)
		}
	})
}

// TestFIPSOnly: in Go's FIPS 140-only mode SHA-1 is refused, and NewSRS
// says so instead of failing later. The mode is set at start-up, so the
// test runs itself in a child process.
func TestFIPSOnly(t *testing.T) {
	if os.Getenv("SMTPSEC_FIPS_CHILD") == "1" {
		_, err := NewSRS(Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("tops3cret")}})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "Secrets" || !errors.Is(err, ErrInvalidConfig) {
			fmt.Printf("FIPS-CHILD unexpected error: %v\n", err)
			os.Exit(1)
		}
		fmt.Println("FIPS-CHILD ok:", err)
		os.Exit(0)
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSOnly$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SMTPSEC_FIPS_CHILD=1", "GODEBUG=fips140=only")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "FIPS-CHILD ok: forward: invalid config: Secrets: HMAC-SHA1 is not available")
}

func TestFoldedAlphabet(t *testing.T) {
	t.Parallel()
	for i := range 64 {
		assert.Equal(t, foldHashByte(stdAlphabet[i]), foldedAlphabet[i], "index %d", i)
		assert.Equal(t, foldHashByte(urlAlphabet[i]), foldedAlphabet[i], "index %d", i)
	}
}

func TestDomainScan(t *testing.T) {
	t.Parallel()
	naive := func(s string) (int, bool, bool) {
		at := strings.LastIndexByte(s, '@')
		if at < 0 {
			return -1, false, false
		}
		h := s[at+1:]
		ascii := true
		for i := 0; i < len(h); i++ {
			ascii = ascii && h[i] < 0x80
		}
		return at, ascii, strings.IndexByte(h, '=') >= 0
	}
	base := "u@ab.cdefghijklmnopq" // a domain of 18 octets: two words and a tail
	for _, c := range []byte{'=', 0x80, 0xff, '@', '<', '>', 0x3c, 0x3e, 0x7f, 0} {
		for i := range len(base) + 1 {
			s := base[:i] + string([]byte{c}) + base[i:]
			at, ascii, eq := scanDomain(s)
			wat, wascii, weq := naive(s)
			require.Equal(t, wat, at, "%q", s)
			if at >= 0 {
				require.Equal(t, wascii, ascii, "%q", s)
				require.Equal(t, weq, eq, "%q", s)
			}
		}
	}
	// Every domain length around the word size, with each marker at every
	// position: the short path, whole words, and the overlapping last word.
	for n := 0; n <= 25; n++ {
		for _, c := range []byte{'=', 0x80, 'z'} {
			for i := range n {
				d := []byte(strings.Repeat("a", n))
				d[i] = c
				s := "user@" + string(d)
				at, ascii, eq := scanDomain(s)
				_, wascii, weq := naive(s)
				require.Equal(t, 4, at, "%q", s)
				require.Equal(t, wascii, ascii, "%q", s)
				require.Equal(t, weq, eq, "%q", s)
			}
		}
	}
	for _, s := range []string{"", "@", "a@", "@b", "a@b@c", "@@@", "no at", "x@" + strings.Repeat("=", 17)} {
		at, _, eq := scanDomain(s)
		wat, _, weq := naive(s)
		assert.Equal(t, wat, at, "%q", s)
		assert.Equal(t, weq, eq, "%q", s)
	}
}
