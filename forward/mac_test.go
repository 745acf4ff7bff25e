package forward

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
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

// paths lists the HMAC paths this machine can run, the fastest last.
func paths() []hmacPath {
	p := []hmacPath{pathStd, pathLean}
	if shaniSupported() {
		p = append(p, pathFast)
	}
	return p
}

func (p hmacPath) String() string { return [...]string{"std", "lean", "fast"}[p] }

// hmacOn computes the HMAC of msg under key on one path, through SRS.mac.
func hmacOn(t testing.TB, path hmacPath, key, msg []byte) []byte {
	t.Helper()
	keys, best, err := newMACKeys([][]byte{key})
	require.NoError(t, err)
	require.GreaterOrEqual(t, best, path, "the %v path failed its self-test", path)
	s := &SRS{keys: keys, path: path}
	s.pool.New = func() any { return s.newMACState() }
	var sum [sha1.Size]byte
	s.mac(0, append(make([]byte, 0, len(msg)), msg...), &sum)
	return sum[:]
}

func TestHMACPaths(t *testing.T) {
	t.Parallel()
	keys := [][]byte{
		[]byte("k"),
		[]byte("tops3cret"),
		bytes.Repeat([]byte{0xa5}, sha1.BlockSize-1),
		bytes.Repeat([]byte{0x5a}, sha1.BlockSize),
		bytes.Repeat([]byte{0x3c}, sha1.BlockSize+1), // hashed first (RFC 2104 §2)
		bytes.Repeat([]byte("long secret "), 40),
	}
	for _, path := range paths() {
		for _, key := range keys {
			t.Run(fmt.Sprintf("%v/key%d", path, len(key)), func(t *testing.T) {
				t.Parallel()
				// Every length around the padding boundaries (55/56
				// octets in the last block) up to several blocks.
				for n := 0; n <= 3*sha1.BlockSize+1; n++ {
					msg := make([]byte, n)
					for i := range msg {
						msg[i] = byte(i*31 + n)
					}
					require.Equal(t, stdHMAC(key, msg), hmacOn(t, path, key, msg), "message of %d octets", n)
				}
			})
		}
		// RFC 2202 §3, test cases 1 and 2 (HMAC-SHA-1).
		assert.Equal(t, "b617318655057264e28bc0b6fb378c8ef146be00",
			fmt.Sprintf("%x", hmacOn(t, path, bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There"))), path)
		assert.Equal(t, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
			fmt.Sprintf("%x", hmacOn(t, path, []byte("Jefe"), []byte("what do ya want for nothing?"))), path)
	}
}

// TestBlockSHANI checks the assembly block function against crypto/sha1
// for messages of 0 to 6 blocks, and that it ignores a partial block.
func TestBlockSHANI(t *testing.T) {
	t.Parallel()
	if !shaniSupported() {
		t.Skip("this CPU lacks the SHA extensions; the fast path is off and TestHMACPaths covers the others")
	}
	for n := 0; n < 6*sha1.BlockSize; n++ {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*13 + n)
		}
		// Padded as for a message alone (no key block before it).
		p := append([]byte(nil), msg...)
		p = append(p, 0x80)
		for len(p)%sha1.BlockSize != sha1.BlockSize-8 {
			p = append(p, 0)
		}
		p = binary.BigEndian.AppendUint64(p, uint64(n)*8)
		h := sha1IV()
		blockSHANI(&h, append(p, 1, 2, 3)) // a partial block, ignored
		var got [sha1.Size]byte
		putChain(got[:], &h)
		require.Equal(t, sha1.Sum(msg), got, "message of %d octets", n)
	}
	h := sha1IV()
	blockSHANI(&h, make([]byte, sha1.BlockSize-1))
	assert.Equal(t, sha1IV(), h, "less than a block changes nothing")
}

// TestNewSRSPath: NewSRS takes the fast path where the CPU has the SHA
// extensions, else the lean one.
func TestNewSRSPath(t *testing.T) {
	t.Parallel()
	want := pathLean
	if shaniSupported() {
		want = pathFast
	}
	assert.Equal(t, want, newTestSRS(t, nil).path)
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

// TestSelfTest: a key state a path cannot use (another layout of
// crypto/sha1's marshaled form, or a faulty block function, would look
// like this) turns that path off.
func TestSelfTest(t *testing.T) {
	t.Parallel()
	keys, _, err := newMACKeys([][]byte{[]byte("a"), []byte("b")})
	require.NoError(t, err)
	require.True(t, selfTest(keys, pathLean))
	assert.False(t, selfTest(keys, pathStd), "std is the reference, not tested")
	bad := append([]macKey(nil), keys...)
	bad[1].outer = append([]byte(nil), keys[1].outer...)
	bad[1].outer[sha1ChainOffset] ^= 1 // a different chaining value
	assert.False(t, selfTest(bad, pathLean))
	bad[1].outer = bad[1].outer[:10] // refused by UnmarshalBinary
	assert.False(t, selfTest(bad, pathLean))
	bad[1].outer = nil
	assert.False(t, selfTest(bad, pathLean))
	if shaniSupported() {
		require.True(t, selfTest(keys, pathFast))
		bad = append([]macKey(nil), keys...)
		bad[0].innerH[4]++
		assert.False(t, selfTest(bad, pathFast))
	}
}

// TestPathsGiveVectors runs the postsrsd vectors on every path, as when a
// faster path fails its self-test, with rotation: crypto/hmac and the
// faster paths give the same addresses.
func TestPathsGiveVectors(t *testing.T) {
	t.Parallel()
	for _, path := range paths() {
		for _, v := range postsrsdVectors {
			s := newTestSRS(t, func(c *Config) { c.Separator = v.sep[0]; c.HashLength = v.hashLen })
			s.path = path
			got, err := s.Forward(v.in)
			require.NoError(t, err)
			assert.Equal(t, v.out, got, "%v %s", path, v.name)
			_, err = s.Reverse(got)
			require.NoError(t, err, "%v %s", path, v.name)
			// And with the old secret, which only verifies.
			old := newTestSRS(t, func(c *Config) {
				c.Separator, c.HashLength = v.sep[0], v.hashLen
				c.Secrets = [][]byte{[]byte("new"), []byte("tops3cret")}
			})
			old.path = path
			_, err = old.Reverse(got)
			require.NoError(t, err, "%v %s", path, v.name)
		}
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

// FuzzHMAC: every path gives crypto/hmac's result for any key and message.
func FuzzHMAC(f *testing.F) {
	f.Add([]byte("tops3cret"), []byte("jrsender.examplealice"))
	f.Add([]byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{1}, 65), bytes.Repeat([]byte{2}, 56))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		if len(msg) > 4*MaxAddressLength {
			return
		}
		want := stdHMAC(key, msg)
		for _, path := range paths() {
			if got := hmacOn(t, path, key, msg); !bytes.Equal(want, got) {
				t.Fatalf("%v path %x, crypto/hmac %x", path, got, want)
			}
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
	if puregoBuild {
		t.Skip("Go refuses FIPS 140 mode in builds with the purego tag")
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
