package resolver

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuestionMatches checks that a response's question is compared as a
// name, not as text: servers spell escapes and case as they like.
func TestQuestionMatches(t *testing.T) {
	t.Parallel()
	key, err := canonicalName("a b.example")
	require.NoError(t, err)
	require.Equal(t, `a\ b.example.`, key)
	cases := []struct {
		name, question string
		match          bool
	}{
		{"same", `a\ b.example.`, true},
		{"decimal escape", `a\032b.example.`, true},
		{"case and escapes", `A\032B.EXAMPLE.`, true},
		{"escaped letters", `\097\ \098.example.`, true},
		{"other name", `a\033b.example.`, false},
		{"escaped dot is one label", `a\.b.example.`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := new(dns.Msg)
			m.SetQuestion(tc.question, dns.TypeTXT)
			m.Response = true
			assert.Equal(t, tc.match, questionMatches(m, key, dns.TypeTXT))
			assert.False(t, questionMatches(m, key, dns.TypeA), "type must match")
		})
	}
	dotted, err := presentationKey(`a\.b.example.`)
	require.NoError(t, err)
	two, err := canonicalName("a.b.example")
	require.NoError(t, err)
	assert.NotEqual(t, dotted, two)
	assert.Equal(t, "b.example.", parentName(two))
	assert.Equal(t, "example.", parentName(dotted))
}

// TestUnescapeString checks the decoding of miekg/dns character-strings.
func TestUnescapeString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:               "plain",
		`say \"hi\"`:          `say "hi"`,
		`back\\slash`:         `back\slash`,
		`caf\195\169`:         "café",
		`\000\255`:            "\x00\xff",
		`semi\;colon`:         "semi;colon",
		`short\12`:            "short12",
		`lone\`:               "lone",
		`\0123`:               "\x0c3",
		`\256 wraps as miekg`: "\x00 wraps as miekg",
	} {
		assert.Equal(t, want, unescapeString(in), in)
	}
	assert.Equal(t, "a\"b;c", JoinTXT([]string{`a\"`, `b\;c`}))
	assert.Equal(t, "abc", JoinTXT([]string{"a", "bc"}))
}

// FuzzCanonicalName checks, for any raw name, that the fast path agrees
// with the wire path, that the key is a fixed point of presentationKey,
// and that the key packs to at most 255 octets with labels of 1 to 63.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"example.test", "Example.TEST.", "a b.example", `a\b.example`, "a.b..c",
		"café.example", "foo:bar%x.example", "$x.example", "a\x00b.example", "\xff.example", ".", "",
		strings.Repeat("a.", 127) + "a", `q"x;(y)@z.example`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		key, err := canonicalName(raw)
		if err != nil {
			return
		}
		again, err := presentationKey(key)
		require.NoError(t, err, "key %q of %q", key, raw)
		assert.Equal(t, key, again, "raw %q", raw)
		var buf [300]byte
		n, err := dns.PackDomainName(key, buf[:], 0, nil, false)
		require.NoError(t, err)
		assert.LessOrEqual(t, n, 255)
		if plain, _ := plainName(strings.TrimSuffix(raw, ".")); plain && raw != "." {
			// The fast path must give what the wire path gives.
			wire := make([]byte, 0, 256)
			for l := range strings.SplitSeq(strings.TrimSuffix(raw, "."), ".") {
				wire = append(wire, byte(len(l)))
				wire = append(wire, l...)
			}
			slow, err := wireKey(raw, append(wire, 0))
			require.NoError(t, err)
			assert.Equal(t, slow, key, "raw %q", raw)
		}
		for i := 0; i < len(key); i++ {
			assert.False(t, 'A' <= key[i] && key[i] <= 'Z', "upper case in key %q", key)
		}
	})
}
