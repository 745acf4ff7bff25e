package forward

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
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

// macState is the per-goroutine hashing state kept in an SRS's pool: one
// pre-keyed HMAC-SHA1 per secret, and scratch space. A keyed hash.Hash is
// not safe for concurrent use, so each call takes its own from the pool.
type macState struct {
	h   []hash.Hash
	in  []byte // the MAC input being assembled
	out []byte // the result being assembled
	sum []byte // digest scratch, cap sha1.Size
}

func newMACState(secrets [][]byte) *macState {
	st := &macState{
		h:   make([]hash.Hash, len(secrets)),
		in:  make([]byte, 0, 256),
		out: make([]byte, 0, 256),
		sum: make([]byte, 0, sha1.Size),
	}
	for i, k := range secrets {
		st.h[i] = hmac.New(sha1.New, k)
	}
	return st
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
	st.in = in
	return in
}

// digest puts HMAC-SHA1(secret i, in) in base64 into enc, at least the
// first n characters (n <= maxHashLength).
func (st *macState) digest(i int, in []byte, enc *[28]byte, n int, urlSafe bool) {
	h := st.h[i]
	h.Reset()
	h.Write(in)
	st.sum = h.Sum(st.sum[:0])
	// Only the octets behind the first n characters, in whole groups of
	// three, so that no padding is involved.
	src := st.sum[:min(sha1.Size, (n+3)/4*3)]
	if urlSafe {
		base64.URLEncoding.Encode(enc[:], src)
	} else {
		base64.StdEncoding.Encode(enc[:], src)
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
// first n characters, after folding, in time that depends only on n.
func hashMatches(given string, expected *[28]byte, n int) int {
	var diff byte
	for i := 0; i < n && i < len(given) && i < len(expected); i++ {
		diff |= foldHashByte(given[i]) ^ foldHashByte(expected[i])
	}
	return subtle.ConstantTimeByteEq(diff, 0)
}
