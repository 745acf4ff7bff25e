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

// macKey is one secret, pre-keyed as FIPS 198-1 §6 allows ("the
// intermediate results of the compression function on the B-byte blocks
// (K0 ⊕ ipad) and (K0 ⊕ opad) can be precomputed once"): the SHA-1 states
// after those two blocks, in crypto/sha1's marshaled form, which is how a
// state can be restored through the standard library's API.
type macKey struct {
	secret       []byte
	inner, outer []byte
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
// it: a four-octet magic, then the state. The self-test of newMACKeys
// checks both against crypto/hmac before the lean path is used.
const (
	sha1Marshaled   = 4 + sha1.Size + sha1.BlockSize + 8
	sha1ChainOffset = 4
)

// newMACKeys pre-keys every secret and reports whether the lean HMAC
// agrees with crypto/hmac for all of them. It fails when SHA-1 is not
// available (Go's FIPS 140-only mode refuses it).
func newMACKeys(secrets [][]byte) (keys []macKey, lean bool, err error) {
	d, ok := sha1.New().(sha1State)
	if _, err := sha1.New().Write(nil); err != nil {
		return nil, false, err
	}
	keys = make([]macKey, len(secrets))
	for i, secret := range secrets {
		keys[i].secret = secret
		if !ok {
			continue
		}
		// RFC 2104 §2: a key longer than the block is hashed first; a
		// shorter one is padded with zeros.
		var k0 [sha1.BlockSize]byte
		if len(secret) > sha1.BlockSize {
			sum := sha1.Sum(secret)
			copy(k0[:], sum[:])
		} else {
			copy(k0[:], secret)
		}
		keys[i].inner = padState(d, &k0, 0x36)
		keys[i].outer = padState(d, &k0, 0x5c)
	}
	return keys, ok && leanSelfTest(keys), nil
}

// padState returns the marshaled SHA-1 state after the block k0 XOR pad.
func padState(d sha1State, k0 *[sha1.BlockSize]byte, pad byte) []byte {
	var block [sha1.BlockSize]byte
	for i, c := range k0 {
		block[i] = c ^ pad
	}
	d.Reset()
	d.Write(block[:])
	st, err := d.AppendBinary(nil)
	if err != nil {
		return nil
	}
	return st
}

// leanSelfTest compares the lean HMAC with crypto/hmac for every key, over
// messages of every padding shape (one or two final blocks, several
// blocks), so that a change of crypto/sha1's marshaled form can only turn
// the lean path off, never give a wrong hash.
func leanSelfTest(keys []macKey) bool {
	st := newMACState(len(keys))
	st.lean = true
	var got [sha1.Size]byte
	msg := make([]byte, 0, 200)
	for _, n := range []int{0, 21, 55, 56, 63, 64, 119, 120, 200} {
		msg = msg[:0]
		for i := range n {
			msg = append(msg, byte(i*7+n))
		}
		for i := range keys {
			k := &keys[i]
			if k.inner == nil || k.outer == nil {
				return false
			}
			padded := sha1Pad(append(st.in[:0], msg...))
			if !st.leanSum(k, padded, &got) {
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

// macState is the per-goroutine hashing state kept in an SRS's pool: a
// SHA-1 digest, restored from a key's pre-computed states for each HMAC,
// and scratch space. A hash is not safe for concurrent use, so each call
// takes its own from the pool.
type macState struct {
	lean  bool                 // use d; else std
	d     sha1State            // the lean HMAC's digest
	std   []hash.Hash          // crypto/hmac per secret, when lean is false
	in    []byte               // the MAC input being assembled, then padded
	out   []byte               // the result being assembled
	raw   []byte               // a marshaled SHA-1 state
	block [sha1.BlockSize]byte // the outer hash's one block
}

func newMACState(nkeys int) *macState {
	st := &macState{
		in:  make([]byte, 0, 256),
		out: make([]byte, 0, 256),
		raw: make([]byte, 0, sha1Marshaled),
		std: make([]hash.Hash, nkeys),
	}
	st.d, _ = sha1.New().(sha1State)
	// The outer message is the 20-octet inner digest after the key block:
	// its padding (FIPS 180-4 §5.1.1) never changes.
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
// sum. It is crypto/hmac's computation without its per-call overhead: the
// inner and outer hashes start from the pre-keyed states, and their last
// blocks are padded here, so each hash is one restore, one Write of whole
// blocks and one read of the state. It reports false if crypto/sha1
// refuses a state (then the caller uses crypto/hmac).
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

// stdSum is leanSum through crypto/hmac, for when the lean path is off;
// msg is the message without padding.
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

// macInput assembles the MAC input for an SRS0 (stamp, host, user) or SRS1
// (first hop, opaque; c unused) address into st.in.
//
// Compat mode, as libsrs2: lower(a) ‖ lower(b) [‖ lower(c)], with no
// delimiters (see the package documentation for why that is weak).
// Strict mode: "SRS0" or "SRS1", then each field as len16 ‖ lower(field),
// so that no two field lists give the same input. The tag keeps an SRS0
// hash from verifying an SRS1 layout and vice versa.
func macInput(st *macState, strict bool, kind Kind, a, b, c string) []byte {
	in := st.in[:0]
	if strict {
		in = append(in, 'S', 'R', 'S', '0'+byte(kind))
		in = appendField(in, a)
		in = appendField(in, b)
		if kind == SRS0 {
			in = appendField(in, c)
		}
	} else {
		in = append(in, a...)
		in = append(in, b...)
		if kind == SRS0 {
			in = append(in, c...)
		}
		lowerInPlace(in)
	}
	keepBuf(&st.in, in)
	return in
}

// keepBuf makes b the scratch buffer *p when appending to *p had to grow
// it. Storing it on every call would cost a GC write barrier while the
// collector runs.
func keepBuf(p *[]byte, b []byte) {
	if cap(b) != cap(*p) {
		*p = b[:0]
	}
}

// macPad prepares the MAC input in st.in for macSum: padded for the lean
// path, as it is for crypto/hmac.
func (st *macState) macPad(in []byte) []byte {
	if st.lean {
		in = sha1Pad(in)
		keepBuf(&st.in, in)
	}
	return in
}

// macSum puts HMAC-SHA1 under secret i of the input prepared by macPad
// into sum; msgLen is the input's length before padding.
func (st *macState) macSum(keys []macKey, i int, in []byte, msgLen int, sum *[sha1.Size]byte) {
	if st.lean && st.leanSum(&keys[i], in, sum) {
		return
	}
	st.stdSum(i, &keys[i], in[:msgLen], sum)
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
