package spf

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestQueryName checks the conversion of presentation-form names to the
// raw names resolver.Querier and resolver.Resolver take.
func TestQueryName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "example.com", "example.com", true},
		{"targetName escape", `a\032b%c.example.com`, "a b%c.example.com", true},
		{"miekg escape", `a\ b\"c\\d.example.com.`, `a b"c\d.example.com.`, true},
		{"high octet", `caf\195\169.example`, "café.example", true},
		{"escaped dot", `a\.b.example`, "", false},
		{"escaped dot as DDD", `a\046b.example`, "", false},
		{"lone backslash", `a.example\`, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := queryName(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	// Every name targetName writes comes back as the raw name.
	for _, raw := range []string{"a b.example", `q"x;(y)@z\w.example`, "\x00\x7f\xff.example"} {
		got, ok := queryName(presentationName(raw))
		assert.True(t, ok)
		assert.Equal(t, raw, got)
	}
}
