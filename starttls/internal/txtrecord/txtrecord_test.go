package txtrecord

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
)

var (
	errNoRecord = errors.New("no record")
	errMultiple = errors.New("multiple records")
	errSyntax   = errors.New("syntax")
	errDNS      = errors.New("dns")
	testKinds   = Kinds{NoRecord: errNoRecord, MultipleRecords: errMultiple, RecordSyntax: errSyntax, DNS: errDNS}
)

func isTestRecord(s string) bool { return strings.HasPrefix(s, "v=T1") }

func parseTest(s string) (*string, error) {
	if strings.Contains(s, "bad") {
		return nil, errors.New("bad field")
	}
	return &s, nil
}

func TestLookup(t *testing.T) {
	t.Parallel()
	z, err := resolver.ParseZone(strings.NewReader(`$TTL 300
one.test.  TXT "v=T1; a=b"
one.test.  TXT "v=spf1 -all"
two.test.  TXT "v=T1; a=b"
two.test.  TXT "v=T1; a=c"
bad.test.  TXT "v=T1; bad"
other.test. TXT "v=spf1 -all"
`), ".")
	require.NoError(t, err)
	require.NoError(t, z.SetFailure("fail.test.", dns.TypeTXT, resolver.FailServFail))
	tests := []struct {
		name      string
		want      string
		kind      error
		withCause bool
	}{
		{name: "one.test.", want: "v=T1; a=b"},
		{name: "two.test.", kind: errMultiple},
		{name: "bad.test.", kind: errSyntax, withCause: true},
		{name: "other.test.", kind: errNoRecord},
		{name: "none.test.", kind: errNoRecord, withCause: true},
		{name: "fail.test.", kind: errDNS, withCause: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, kind, cause := Lookup(context.Background(), z, tt.name, isTestRecord, parseTest, testKinds)
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.withCause, cause != nil, "cause: %v", cause)
			if tt.kind != nil {
				assert.Nil(t, rec)
				return
			}
			require.NotNil(t, rec)
			assert.Equal(t, tt.want, *rec)
		})
	}
}

func TestLookupErrorText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `no record for "example.test"`, LookupErrorText(errNoRecord, "example.test", nil))
	assert.Equal(t, `dns for "example.test": timeout`, LookupErrorText(errDNS, "example.test", errors.New("timeout")))
}

func TestUnwrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	assert.Equal(t, []error{errDNS}, Unwrap(errDNS, nil))
	assert.Equal(t, []error{errDNS, cause}, Unwrap(errDNS, cause))
}

func TestExtGrammar(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a", "Z9", "x_y-z.w", strings.Repeat("a", 32)} {
		assert.True(t, IsExtName(s), "%q", s)
	}
	for _, s := range []string{"", "_a", "-a", ".a", "a b", "a=b", "é", strings.Repeat("a", 33)} {
		assert.False(t, IsExtName(s), "%q", s)
	}
	for _, s := range []string{"x", "!~", "a:b<c>d"} {
		assert.True(t, IsExtValue(s), "%q", s)
	}
	for _, s := range []string{"", "a;b", "a=b", "a b", "a\tb", "\x7f", "é"} {
		assert.False(t, IsExtValue(s), "%q", s)
	}
}
