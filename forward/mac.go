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

// appendLower appends s with ASCII letters lower-cased, as libsrs2 does
// with the C locale's tolower: bytes >= 0x80 are left alone.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
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

// digest returns HMAC-SHA1(secret i, in) as base64 in enc, all 27
// significant characters.
func (st *macState) digest(i int, in []byte, enc *[28]byte, urlSafe bool) {
	h := st.h[i]
	h.Reset()
	h.Write(in)
	st.sum = h.Sum(st.sum[:0])
	if urlSafe {
		base64.URLEncoding.Encode(enc[:], st.sum)
	} else {
		base64.StdEncoding.Encode(enc[:], st.sum)
	}
}

// foldHashByte maps a hash character to its comparison class without
// branching on its value: ASCII upper case to lower case (postsrsd compares
// case-insensitively, as MTAs may change the case of a local part), '-' to
// '+' and '_' to '/' (base64url to standard base64, as postsrsd 2.x).
func foldHashByte(c byte) byte {
	x := int32(c)
	// upper is 1 when 'A' <= x <= 'Z': both differences are then
	// non-negative, and their sign bits zero.
	upper := 1 ^ (uint32(x-'A')>>31 | uint32('Z'-x)>>31)
	x += int32(upper) * ('a' - 'A')
	x = int32(subtle.ConstantTimeSelect(subtle.ConstantTimeByteEq(byte(x), '-'), '+', int(x)))
	x = int32(subtle.ConstantTimeSelect(subtle.ConstantTimeByteEq(byte(x), '_'), '/', int(x)))
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
