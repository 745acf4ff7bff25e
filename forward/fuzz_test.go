package forward

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fuzzSeeds = []string{
	"SRS0=P338=JR=example.com=user@fwd.example",
	"srs0+abcd=jr=example.com=first.last=x",
	"SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example",
	"SRS1-x=h=",
	"SRS0=h=JR=host",
	"SRS0=",
	`SRS0=gD6l=JR=b"@example.com="a@fwd.example`,
	"user@example.com",
	"SRS2=a=b=c=d@e",
	"SRS0=\xff\xfe=JR=\x00=@",
}

// FuzzParse checks that Parse never panics, that its errors are the
// documented ones, and that a parsed address prints back to itself (tag
// upper-cased) and parses to the same fields.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := Parse(in)
		if err != nil {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.True(t, errors.Is(err, ErrNotSRS) || errors.Is(err, ErrMalformed) ||
				errors.Is(err, ErrBadTimestamp) || errors.Is(err, ErrTooLong), "unexpected error %v", err)
			return
		}
		require.True(t, a.Kind == SRS0 || a.Kind == SRS1)
		require.True(t, isSeparator(a.Separator))
		require.NotContains(t, a.Hash, "=")
		require.NotContains(t, a.Domain, "@")
		if a.Kind == SRS0 {
			require.NotContains(t, a.Host, "=")
			_, ok := decodeStamp(a.Timestamp)
			require.True(t, ok)
		} else {
			require.NotContains(t, a.FirstHop, "=")
		}
		out := a.String()
		want := strings.ToUpper(in[:4]) + in[4:]
		if a.Domain == "" && strings.Count(in, "@") == 1 {
			want = strings.TrimSuffix(want, "@") // String omits an empty domain
		}
		require.Equal(t, want, out)
		b, err := Parse(out)
		require.NoError(t, err)
		require.Equal(t, a, b)
	})
}

// plainSender builds a sender from fuzz input that Forward must rewrite
// into SRS0 and Reverse must restore: a local part that is no SRS tag, a
// domain with neither '@' nor '=', not the SRS domain.
func plainSender(local, host string) (string, bool) {
	if strings.ContainsAny(host, "@=") || len(local)+len(host) > 900 {
		return "", false
	}
	if _, tagged := tagKind(local); tagged || isBareSRS0(local) {
		return "", false
	}
	if asciiEqualFold(hostForm(host), "fwd.example") {
		return "", false
	}
	return local + "@" + host, true
}

// FuzzRoundTrip checks Reverse(Forward(x)) == x for plain senders in both
// MAC modes, with the other mode refusing the address.
func FuzzRoundTrip(f *testing.F) {
	f.Add("alice", "sender.example")
	f.Add("first.last=x", "example.org")
	f.Add(`"a@b"`, "example.com")
	f.Add("m\u00fc", "m\u00fcnchen.example")
	f.Add("", "")
	f.Add("user", "[IPv6:2001:db8::1]")
	f.Add("SRS0xyz", "example.com.")
	modes := map[bool]*SRS{
		false: newTestSRS(f, func(c *Config) { c.HashLength = 27 }),
		true:  newTestSRS(f, func(c *Config) { c.StrictMAC = true; c.HashLength = 27 }),
	}
	f.Fuzz(func(t *testing.T, local, host string) {
		sender, ok := plainSender(local, host)
		if !ok {
			return
		}
		for _, strict := range []bool{false, true} {
			s, other := modes[strict], modes[!strict]
			out, err := s.Forward(sender)
			require.NoError(t, err, "strict=%v", strict)
			require.True(t, strings.HasPrefix(out, "SRS0="), out)
			require.True(t, strings.HasSuffix(out, "@fwd.example"), out)
			back, err := s.Reverse(out)
			require.NoError(t, err, "strict=%v %q", strict, out)
			require.Equal(t, sender, back)
			_, err = other.Reverse(out)
			require.ErrorIs(t, err, ErrHashInvalid)
			_, err = s.Forward(out)
			require.ErrorIs(t, err, ErrAlreadyRewritten)
		}
	})
}

// equivalentHashByte reports whether a and b compare equal inside a hash.
func equivalentHashByte(a, b byte) bool { return foldHashByte(a) == foldHashByte(b) }

// FuzzReverse checks that Reverse never panics on any input, and that it
// never accepts an address minted by Forward with one octet replaced
// (other than by a case or alphabet equivalent inside the hash, or a
// change of the separator after the tag, neither of which is covered by
// the hash by design).
func FuzzReverse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "user@example.com", 3, byte('x'), false)
	}
	f.Add("", "SRS0=abcd=AB=orig.example=bob@hop1.example", 20, byte('='), true)
	f.Add("", "SRS1=wxyz=hop1.example==abcd=AB=orig.example=bob@hop2.example", 30, byte('A'), false)
	modes := map[bool]*SRS{
		false: newTestSRS(f, func(c *Config) { c.HashLength = 27 }),
		true:  newTestSRS(f, func(c *Config) { c.StrictMAC = true; c.HashLength = 27 }),
	}
	f.Fuzz(func(t *testing.T, raw, sender string, pos int, repl byte, strict bool) {
		s := modes[strict]
		if out, err := s.Reverse(raw); err == nil {
			assert.NotEmpty(t, out)
		}

		minted, err := s.Forward(sender)
		if err != nil || minted == sender {
			return
		}
		local := minted[:strings.LastIndexByte(minted, '@')]
		if pos < 0 {
			pos = -pos
		}
		pos %= len(local)
		if pos == 4 || local[pos] == repl {
			return // the separator after the tag is not covered
		}
		a, err := Parse(minted)
		require.NoError(t, err)
		hashStart := 5
		hashEnd := hashStart + len(a.Hash)
		if pos >= hashStart && pos < hashEnd && equivalentHashByte(local[pos], repl) {
			return
		}
		if pos < 4 && (local[pos]|0x20) == (repl|0x20) {
			return // the tag is case-insensitive
		}
		if pos >= hashEnd && 'A' <= (repl&^0x20) && (repl&^0x20) <= 'Z' && (local[pos]|0x20) == (repl|0x20) {
			return // fields are hashed lower-cased, by design
		}
		tampered := local[:pos] + string([]byte{repl}) + local[pos+1:] + "@fwd.example"
		got, err := s.Reverse(tampered)
		require.Error(t, err, "tampered %q (from %q) accepted as %q", tampered, minted, got)
	})
}
