package forward

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
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
	sum []byte // digest scratch, cap sha1.Size
}

func newMACState(secrets [][]byte) *macState {
	st := &macState{
		h:   make([]hash.Hash, len(secrets)),
		in:  make([]byte, 0, 256),
		sum: make([]byte, 0, sha1.Size),
	}
	for i, k := range secrets {
		st.h[i] = hmac.New(sha1.New, k)
	}
	return st
}

// lowerASCII maps each octet to itself, except 'A'..'Z' to 'a'..'z': the
// C locale's tolower, which libsrs2 applies to the hash input (UTF-8 bytes
// are left alone). The input is public (the address), so a table lookup is
// fine; TestLowerASCII checks it.
const lowerASCII = "" +
	"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f" +
	"\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f" +
	"\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f" +
	"\x40\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" +
	"\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x5b\x5c\x5d\x5e\x5f" +
	"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" +
	"\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f" +
	"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
	"\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
	"\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf" +
	"\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf" +
	"\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf" +
	"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf" +
	"\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef" +
	"\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"

// appendLower appends s lower-cased with lowerASCII.
func appendLower(b []byte, s string) []byte {
	n := len(b)
	b = append(b, s...)
	dst := b[n:]
	for i, c := range dst {
		dst[i] = lowerASCII[c]
	}
	return b
}

// appendField appends one field of the MAC input. In compat mode the fields
// are simply concatenated (libsrs2 srs_hash_create_v). In strict mode each
// is preceded by its length as two big-endian octets, so that no two
// different field lists give the same input; lengths fit because inputs are
// bounded by MaxAddressLength.
func appendField(b []byte, strict bool, s string) []byte {
	if strict {
		b = append(b, byte(len(s)>>8), byte(len(s)))
	}
	return appendLower(b, s)
}

// macInput assembles the MAC input for an SRS0 (stamp, host, user) or SRS1
// (first hop, opaque; c unused) address into st.in.
//
// Compat mode, as libsrs2: lower(a) ‖ lower(b) [‖ lower(c)].
// Strict mode: "SRS0" or "SRS1", then each field as len16 ‖ lower(field).
// The tag keeps an SRS0 hash from verifying an SRS1 layout and vice versa.
func macInput(st *macState, strict bool, kind Kind, a, b, c string) []byte {
	in := st.in[:0]
	if strict {
		in = append(in, 'S', 'R', 'S', '0'+byte(kind))
	}
	in = appendField(in, strict, a)
	in = appendField(in, strict, b)
	if kind == SRS0 {
		in = appendField(in, strict, c)
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

// hashMatches reports whether given matches expected on their first n
// characters, after folding, in time that depends only on n.
func hashMatches(given string, expected *[28]byte, n int) int {
	var g, e [maxHashLength]byte
	for i := 0; i < n; i++ {
		g[i] = foldHashByte(given[i])
		e[i] = foldHashByte(expected[i])
	}
	return subtle.ConstantTimeCompare(g[:n], e[:n])
}
