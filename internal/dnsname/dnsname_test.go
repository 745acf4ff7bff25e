package dnsname_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	label63 := strings.Repeat("a", 63)
	// 4 labels of 63 octets and 3 dots: 255 octets; trim to 253.
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61)
	cases := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"plain", "example.test", "example.test", nil},
		{"trailing dot", "example.test.", "example.test", nil},
		{"upper case", "MX1.Example.TEST.", "mx1.example.test", nil},
		{"root", ".", "", nil},
		{"underscore labels kept", "_dmarc._Domainkey.example.test", "_dmarc._domainkey.example.test", nil},
		{"U-label", "bücher.example.test", "xn--bcher-kva.example.test", nil},
		{"U-label upper case", "BÜCHER.example.test", "xn--bcher-kva.example.test", nil},
		{"A-label upper case", "XN--BCHER-KVA.example.test", "xn--bcher-kva.example.test", nil},
		{"mixed labels", "mail.例え.テスト", "mail.xn--r8jz45g.xn--zckzah", nil},
		{"single label", "localhost", "localhost", nil},
		{"label of 63", label63 + ".test", label63 + ".test", nil},
		{"name of 253", name253, name253, nil},
		{"name of 253 with dot", name253 + ".", name253, nil},
		{"empty", "", "", dnsname.ErrEmpty},
		{"two dots", "example..test", "", dnsname.ErrEmptyLabel},
		{"leading dot", ".example.test", "", dnsname.ErrEmptyLabel},
		{"two trailing dots", "example.test..", "", dnsname.ErrEmptyLabel},
		{"label of 64", label63 + "a.test", "", dnsname.ErrLabelTooLong},
		{"name of 254", name253 + "b", "", dnsname.ErrNameTooLong},
		{"space", "exa mple.test", "", dnsname.ErrInvalidOctets},
		{"tab", "example.test\t", "", dnsname.ErrInvalidOctets},
		{"NUL", "example\x00.test", "", dnsname.ErrInvalidOctets},
		{"DEL", "example\x7f.test", "", dnsname.ErrInvalidOctets},
		{"newline", "example.test\r\n", "", dnsname.ErrInvalidOctets},
		{"invalid UTF-8", "ex\xffample.test", "", dnsname.ErrInvalidUTF8},
		{"IDNA disallowed", "a\u2488.test", "", dnsname.ErrIDNA},
		{"long U-label", strings.Repeat("ü", 60) + ".test", "", dnsname.ErrLabelTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := dnsname.Normalize(tc.in)
			if tc.err != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.err)
				var de *dnsname.Error
				require.ErrorAs(t, err, &de)
				assert.Equal(t, tc.in, de.Name)
				assert.True(t, utf8.ValidString(err.Error()), "error text is valid UTF-8")
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			again, err := dnsname.Normalize(got)
			if got == "" {
				// The root normalises to "", which is not itself a name.
				assert.ErrorIs(t, err, dnsname.ErrEmpty)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, got, again, "idempotent")
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	_, err := dnsname.Normalize("a\u2488.test")
	var de *dnsname.Error
	require.ErrorAs(t, err, &de)
	require.NotNil(t, de.Cause, "the idna error is kept")
	assert.ErrorIs(t, err, de.Cause)
	assert.Contains(t, err.Error(), de.Cause.Error())

	_, err = dnsname.Normalize(strings.Repeat("x", 300))
	assert.LessOrEqual(t, len(err.Error()), 200, "long names are shortened in the message")
}

func TestAbsoluteRelative(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, abs, rel string }{
		{"example.test", "example.test.", "example.test"},
		{"example.test.", "example.test.", "example.test"},
		{".", ".", ""},
		{"", ".", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.abs, dnsname.Absolute(tc.in))
			assert.Equal(t, tc.rel, dnsname.Relative(tc.in))
			assert.Equal(t, tc.abs, dnsname.Absolute(dnsname.Absolute(tc.in)))
		})
	}
}

func TestEqualIsSubdomain(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b     string
		equal    bool
		subdomin bool // a is b or below b
	}{
		{"example.test", "EXAMPLE.test.", true, true},
		{"mx.example.test", "example.test", false, true},
		{"example.test", "mx.example.test", false, false},
		{"badexample.test", "example.test", false, false},
		{"example.test", ".", false, true},
		{"example.test", "", false, true},
		{"a.b", "a.c", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.a+"|"+tc.b, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.equal, dnsname.Equal(tc.a, tc.b))
			assert.Equal(t, tc.equal, dnsname.Equal(tc.b, tc.a), "symmetric")
			assert.Equal(t, tc.subdomin, dnsname.IsSubdomain(tc.a, tc.b))
		})
	}
}

// FuzzNormalize checks that Normalize is idempotent and that its output
// always meets the limits it promises.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"example.test", "Bücher.Example.", ".", "", "a..b", "xn--bcher-kva.test",
		"_dmarc.example.test", "ex\xffample", strings.Repeat("a.", 127), "ǅ.test", "ﬀ.test", "xn--a.test", "Ⅻ.test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := dnsname.Normalize(in)
		if err != nil {
			var de *dnsname.Error
			require.True(t, errors.As(err, &de), "%T", err)
			assert.Equal(t, in, de.Name)
			assert.Empty(t, out)
			return
		}
		if out == "" {
			return // the root
		}
		again, err := dnsname.Normalize(out)
		require.NoError(t, err, "normalised %q to %q, which does not normalise", in, out)
		assert.Equal(t, out, again, "not idempotent for %q", in)
		assert.LessOrEqual(t, len(out), dnsname.MaxName)
		assert.False(t, strings.HasSuffix(out, "."))
		for _, l := range strings.Split(out, ".") {
			assert.NotEmpty(t, l)
			assert.LessOrEqual(t, len(l), dnsname.MaxLabel)
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			assert.True(t, c > ' ' && c < 0x7f, "octet %#x in %q", c, out)
			assert.False(t, 'A' <= c && c <= 'Z', "upper case in %q", out)
		}
		assert.True(t, dnsname.Equal(out, dnsname.Absolute(out)))
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, in := range []string{"Mail.Example.TEST.", "bücher.example.test"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dnsname.Normalize(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
