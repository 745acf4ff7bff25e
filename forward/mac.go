package forward

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"hash"
	"time"
)

// maxHashLength is the number of base64 characters a SHA-1 digest yields
// without padding: 20 octets are 160 bits, 26 full sextets and 4 bits.
const maxHashLength = 27

// stampAlphabet is RFC 4648's base32 alphabet, upper case, as libsrs2's
// SRS_TIME_BASECHARS.
const stampAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// stampSlots is the number of distinct timestamps: two base32 characters.
const stampSlots = 1024

// dayNumber returns the UTC day number of t (days since 1970-01-01), rounded
// towards minus infinity.
func dayNumber(t time.Time) int64 {
	u := t.Unix()
	d := u / 86400
	if u%86400 < 0 {
		d--
	}
	return d
}

// encodeStamp returns the libsrs2 timestamp of a day: day mod 1024 as two
// base32 characters, high five bits first.
func encodeStamp(day int64) [2]byte {
	return [2]byte{stampAlphabet[(day>>5)&31], stampAlphabet[day&31]}
}

// decodeStamp returns the day mod 1024 encoded by a timestamp, accepting
// either case (libsrs2 upper-cases before its lookup).
func decodeStamp(s string) (int, bool) {
	if len(s) != 2 {
		return 0, false
	}
	v := 0
	for i := 0; i < 2; i++ {
		c := s[i]
		var d int
		switch {
		case 'A' <= c && c <= 'Z':
			d = int(c - 'A')
		case 'a' <= c && c <= 'z':
			d = int(c - 'a')
		case '2' <= c && c <= '7':
			d = int(c-'2') + 26
		default:
			return 0, false
		}
		v = v<<5 | d
	}
	return v, true
}

// The HMAC (RFC 2104, HMAC-SHA1) has three implementations, chosen once
// by NewSRS, and all give the same result:
//
//   - fast: on amd64 CPUs with the SHA extensions, SHA-1 blocks hashed by
//     this package's blockSHANI from the pre-keyed chaining values, with
//     every buffer on the stack;
//   - lean: crypto/sha1 restored from the pre-keyed states through its
//     marshaled form, with the padding done here (other CPUs);
//   - std: crypto/hmac, if crypto/sha1's marshaled form ever changes.
//
// NewSRS checks the fast and lean paths against crypto/hmac for every
// secret (selfTest) before it uses them, so a fault can only make it fall
// back to a slower path, never give a wrong hash.

// sha1IV returns SHA-1's initial chaining value, FIPS 180-4 §5.3.1.
func sha1IV() [5]uint32 {
	return [5]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}
}

// Stack buffers of the hot paths: the MAC input with its padding, and the
// address being assembled. Longer ones move to the heap (one more
// allocation).
const (
	macBufSize = 256
	outBufSize = 256
)

// macKey is one secret, pre-keyed as FIPS 198-1 §6 allows ("the
// intermediate results of the compression function on the B-byte blocks
// (K0 ⊕ ipad) and (K0 ⊕ opad) can be precomputed once"): the SHA-1
// chaining values after those two blocks, for the fast path, and the
// states of crypto/sha1 after them in its marshaled form, for the lean one.
type macKey struct {
	secret         []byte
	innerH, outerH [5]uint32
	inner, outer   []byte
}

// sha1State is the interface of crypto/sha1's digest that the lean HMAC
// uses: restore a state, hash whole blocks, read the state back.
type sha1State interface {
	hash.Hash
	encoding.BinaryAppender
	encoding.BinaryUnmarshaler
}

// sha1Marshaled is the length of crypto/sha1's marshaled state and
// sha1ChainOffset the offset of the chaining value H0..H4 (big-endian) in
// it: a four-octet magic, then the state.
const (
	sha1Marshaled   = 4 + sha1.Size + sha1.BlockSize + 8
	sha1ChainOffset = 4
)

// hmacPath tells which implementation an SRS uses.
type hmacPath uint8

const (
	pathStd hmacPath = iota
	pathLean
	pathFast
)

// newMACKeys pre-keys every secret and returns the fastest path that
// agrees with crypto/hmac for all of them. It fails when SHA-1 is not
// available (Go's FIPS 140-only mode refuses it).
func newMACKeys(secrets [][]byte) ([]macKey, hmacPath, error) {
	if _, err := sha1.New().Write(nil); err != nil {
		return nil, pathStd, err
	}
	d, marshals := sha1.New().(sha1State)
	fast := shaniSupported()
	keys := make([]macKey, len(secrets))
	for i, secret := range secrets {
		k := &keys[i]
		k.secret = secret
		// RFC 2104 §2: a key longer than the block is hashed first; a
		// shorter one is padded with zeros.
		var k0 [sha1.BlockSize]byte
		if len(secret) > sha1.BlockSize {
			sum := sha1.Sum(secret)
			copy(k0[:], sum[:])
		} else {
			copy(k0[:], secret)
		}
		ipad, opad := k0, k0
		for j := range k0 {
			ipad[j] ^= 0x36
			opad[j] ^= 0x5c
		}
		if fast {
			k.innerH, k.outerH = sha1IV(), sha1IV()
			blockSHANI(&k.innerH, ipad[:])
			blockSHANI(&k.outerH, opad[:])
		}
		if marshals {
			k.inner = marshaledAfter(d, &ipad)
			k.outer = marshaledAfter(d, &opad)
		}
	}
	switch {
	case fast && selfTest(keys, pathFast):
		return keys, pathFast, nil
	case marshals && selfTest(keys, pathLean):
		return keys, pathLean, nil
	}
	return keys, pathStd, nil
}

// marshaledAfter returns crypto/sha1's marshaled state after one block.
func marshaledAfter(d sha1State, block *[sha1.BlockSize]byte) []byte {
	d.Reset()
	d.Write(block[:])
	st, err := d.AppendBinary(nil)
	if err != nil {
		return nil
	}
	return st
}

// selfTest compares path with crypto/hmac for every key, over messages of
// every padding shape (one or two final blocks, several blocks).
func selfTest(keys []macKey, path hmacPath) bool {
	st := newMACState(len(keys))
	var got [sha1.Size]byte
	msg := make([]byte, 0, 256)
	for _, n := range []int{0, 21, 55, 56, 63, 64, 119, 120, 200} {
		msg = msg[:0]
		for i := range n {
			msg = append(msg, byte(i*7+n))
		}
		for i := range keys {
			k := &keys[i]
			switch path {
			case pathFast:
				fastSum(k, sha1Pad(msg), &got)
			case pathLean:
				if k.inner == nil || k.outer == nil || !st.leanSum(k, sha1Pad(append(st.in[:0], msg...)), &got) {
					return false
				}
			default:
				return false
			}
			h := hmac.New(sha1.New, k.secret)
			h.Write(msg)
			if !hmac.Equal(h.Sum(nil), got[:]) {
				return false
			}
		}
	}
	return true
}

// mac puts HMAC-SHA1 under secret i of msg into sum. It may write padding
// into msg's spare capacity. On the fast path nothing leaves the stack;
// the other paths take a hashing state from the pool.
func (s *SRS) mac(i int, msg []byte, sum *[sha1.Size]byte) {
	if s.path == pathFast {
		fastSum(&s.keys[i], sha1Pad(msg), sum)
		return
	}
	st := s.pool.Get().(*macState)
	defer s.pool.Put(st)
	// Copied: msg, often on the caller's stack, must not reach an
	// interface method, which would move it to the heap.
	in := append(st.in[:0], msg...)
	if s.path == pathLean {
		in = sha1Pad(in)
		keepBuf(&st.in, in)
		if st.leanSum(&s.keys[i], in, sum) {
			return
		}
	}
	keepBuf(&st.in, in)
	st.stdSum(i, &s.keys[i], in[:len(msg)], sum)
}

// fastSum puts HMAC-SHA1 under k of the message padded by sha1Pad into
// sum: one blockSHANI call from the inner chaining value over the padded
// message, one from the outer over the inner digest's single block.
func fastSum(k *macKey, padded []byte, sum *[sha1.Size]byte) {
	h := k.innerH
	blockSHANI(&h, padded)
	var block [sha1.BlockSize]byte
	putChain(block[:sha1.Size], &h)
	// The outer message is the 20-octet inner digest after the key block:
	// its padding (FIPS 180-4 §5.1.1) never changes.
	block[sha1.Size] = 0x80
	binary.BigEndian.PutUint64(block[sha1.BlockSize-8:], (sha1.BlockSize+sha1.Size)*8)
	h = k.outerH
	blockSHANI(&h, block[:])
	putChain(sum[:], &h)
}

// putChain writes a chaining value as the 20-octet digest (big-endian).
func putChain(dst []byte, h *[5]uint32) {
	_ = dst[sha1.Size-1]
	for i, v := range h {
		binary.BigEndian.PutUint32(dst[4*i:], v)
	}
}

// macState is the hashing state of the lean and std paths, kept in an
// SRS's pool: a crypto/sha1 digest, restored from a key's states for each
// HMAC, and scratch space. A hash is not safe for concurrent use, so each
// call takes its own from the pool.
type macState struct {
	d     sha1State            // the lean HMAC's digest
	std   []hash.Hash          // crypto/hmac per secret, made on first use
	in    []byte               // the MAC input, padded on the lean path
	raw   []byte               // a marshaled SHA-1 state
	block [sha1.BlockSize]byte // the outer hash's one block
}

func newMACState(nkeys int) *macState {
	st := &macState{
		in:  make([]byte, 0, 256),
		raw: make([]byte, 0, sha1Marshaled),
		std: make([]hash.Hash, nkeys),
	}
	st.d, _ = sha1.New().(sha1State)
	st.block[sha1.Size] = 0x80
	binary.BigEndian.PutUint64(st.block[sha1.BlockSize-8:], (sha1.BlockSize+sha1.Size)*8)
	return st
}

// sha1Pad appends to p the SHA-1 padding (FIPS 180-4 §5.1.1) for a message
// that is p after the 64-octet key block: 0x80, zeros, and the length in
// bits, so that it ends on a block boundary.
func sha1Pad(p []byte) []byte {
	bits := uint64(sha1.BlockSize+len(p)) * 8
	p = append(p, 0x80)
	p = append(p, make([]byte, (2*sha1.BlockSize-8-len(p)%sha1.BlockSize)%sha1.BlockSize)...)
	return binary.BigEndian.AppendUint64(p, bits)
}

// leanSum puts HMAC-SHA1 under k of the message padded by sha1Pad into
// sum: crypto/hmac's computation without its per-call overhead. The inner
// and outer hashes start from the pre-keyed states, and their last blocks
// are padded here, so each hash is one restore, one Write of whole blocks
// and one read of the state. It reports false if crypto/sha1 refuses a
// state.
func (st *macState) leanSum(k *macKey, padded []byte, sum *[sha1.Size]byte) bool {
	if st.d.UnmarshalBinary(k.inner) != nil {
		return false
	}
	st.d.Write(padded)
	raw, err := st.d.AppendBinary(st.raw[:0])
	if err != nil || len(raw) != sha1Marshaled {
		return false
	}
	copy(st.block[:sha1.Size], raw[sha1ChainOffset:])
	if st.d.UnmarshalBinary(k.outer) != nil {
		return false
	}
	st.d.Write(st.block[:])
	// raw has the capacity of a state: nothing to keep.
	raw, err = st.d.AppendBinary(raw[:0])
	if err != nil || len(raw) != sha1Marshaled {
		return false
	}
	copy(sum[:], raw[sha1ChainOffset:])
	return true
}

// stdSum is HMAC-SHA1 through crypto/hmac; msg is the message without
// padding.
func (st *macState) stdSum(i int, k *macKey, msg []byte, sum *[sha1.Size]byte) {
	h := st.std[i]
	if h == nil {
		h = hmac.New(sha1.New, k.secret)
		st.std[i] = h
	}
	h.Reset()
	h.Write(msg)
	// Through st.raw: sum would escape to the heap through the interface.
	copy(sum[:], h.Sum(st.raw[:0]))
}

// keepBuf makes b the scratch buffer *p when appending to *p had to grow
// it. Storing it on every call would cost a GC write barrier while the
// collector runs.
func keepBuf(p *[]byte, b []byte) {
	if cap(b) != cap(*p) {
		*p = b[:0]
	}
}

// lowerInPlace lower-cases the ASCII letters of p, as libsrs2 does with
// the C locale's tolower: octets >= 0x80 (UTF-8) are left alone. It works
// on eight octets at a time: for each octet below 0x80, adding 0x80-'A'
// sets its high bit when it is >= 'A', adding 0x80-'Z'-1 when it is > 'Z';
// the difference of the two, shifted to 0x20, is added. When p's capacity
// allows, the last word runs past len(p) over scratch space, instead of a
// loop over the remaining octets.
func lowerInPlace(p []byte) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	if whole := (len(p) + 7) &^ 7; whole <= cap(p) {
		p = p[:whole]
	}
	for len(p) >= 8 {
		w := binary.LittleEndian.Uint64(p)
		low := w &^ high // no carry between octets
		upper := (low + (0x80-'A')*ones) &^ (low + (0x80-'Z'-1)*ones) &^ w & high
		binary.LittleEndian.PutUint64(p, w|upper>>2)
		p = p[8:]
	}
	for i, c := range p {
		if c-'A' < 26 {
			p[i] = c + 'a' - 'A'
		}
	}
}

// appendField appends one field of the strict-mode MAC input: its length
// as two big-endian octets, then the field lower-cased. Lengths fit because
// inputs are bounded by MaxAddressLength.
func appendField(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	n := len(b)
	b = append(b, s...)
	lowerInPlace(b[n:])
	return b
}

// appendMACInput appends the MAC input for an SRS0 (stamp, host, user) or
// SRS1 (first hop, opaque; c unused) address to dst.
//
// Compat mode, as libsrs2: lower(a) ‖ lower(b) [‖ lower(c)], with no
// delimiters (see the package documentation for why that is weak).
// Strict mode: "SRS0" or "SRS1", then each field as len16 ‖ lower(field),
// so that no two field lists give the same input. The tag keeps an SRS0
// hash from verifying an SRS1 layout and vice versa.
func appendMACInput(dst []byte, strict bool, kind Kind, a, b, c string) []byte {
	if strict {
		dst = append(dst, 'S', 'R', 'S', '0'+byte(kind))
		dst = appendField(dst, a)
		dst = appendField(dst, b)
		if kind == SRS0 {
			dst = appendField(dst, c)
		}
		return dst
	}
	n := len(dst)
	dst = append(dst, a...)
	dst = append(dst, b...)
	if kind == SRS0 {
		dst = append(dst, c...)
	}
	lowerInPlace(dst[n:])
	return dst
}

// Base64 alphabets (RFC 4648 §4 and §5), and the standard one mapped
// through foldHashByte, in which Reverse computes the expected hash so that
// only the given hash needs folding.
const (
	stdAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	urlAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	foldedAlphabet = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// encodeHash writes the first len(dst) (at most maxHashLength) characters
// of the base64 form of sum into dst: each group of three octets gives four
// characters, and the last, short group is padded with zero bits, as
// base64 encoders do.
func encodeHash(dst []byte, sum *[sha1.Size]byte, alphabet string) {
	for i := 0; i < len(dst); i += 4 {
		j := i / 4 * 3
		v := uint(sum[j])<<16 | uint(sum[j+1])<<8
		if j+2 < sha1.Size {
			v |= uint(sum[j+2])
		}
		for k := 0; k < 4 && i+k < len(dst); k++ {
			dst[i+k] = alphabet[v>>(18-6*k)&63]
		}
	}
}

// foldHashByte maps a hash character to its comparison class without
// branching on its value: ASCII upper case to lower case (postsrsd compares
// case-insensitively, as MTAs may change the case of a local part), '-' to
// '+' and '_' to '/' (base64url to standard base64, as postsrsd 2.x).
func foldHashByte(c byte) byte {
	x := int32(c)
	// notUpper is all ones unless 'A' <= x <= 'Z' (then one of the
	// differences is negative, and its sign spreads by the shift).
	notUpper := ((x - 'A') | ('Z' - x)) >> 31
	x += ^notUpper & ('a' - 'A')
	// eq is all ones when x equals the character, via (0 - 1) >> 31.
	eqDash := ((x ^ '-') - 1) >> 31
	x ^= eqDash & ('-' ^ '+')
	eqUnderscore := ((x ^ '_') - 1) >> 31
	x ^= eqUnderscore & ('_' ^ '/')
	return byte(x)
}

// hashMatches reports (as 1 or 0) whether given matches expected on their
// first n characters, in time that depends only on n. expected is in
// foldedAlphabet; given is folded here.
func hashMatches(given string, expected *[maxHashLength]byte, n int) int {
	var diff byte
	for i := 0; i < n && i < len(given) && i < len(expected); i++ {
		diff |= foldHashByte(given[i]) ^ expected[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0)
}
