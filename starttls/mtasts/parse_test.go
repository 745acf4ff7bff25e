package mtasts

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, txt string
		id        string
		ext       []Extension
		ok        bool
	}{
		{"minimal", "v=STSv1; id=20160831085700Z", "20160831085700Z", nil, true},
		{"no space", "v=STSv1;id=abc", "abc", nil, true},
		{"trailing sep", "v=STSv1; id=abc;", "abc", nil, true},
		{"trailing sep and space", "v=STSv1; id=abc ; ", "abc", nil, true},
		{"tabs", "v=STSv1\t;\tid=abc", "abc", nil, true},
		{"extension", "v=STSv1; id=1; ext_1.a-b=val/ue", "1", []Extension{{"ext_1.a-b", "val/ue"}}, true},
		{"32 char id", "v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), nil, true},
		{"33 char id", "v=STSv1; id=" + strings.Repeat("a", 33), "", nil, false},
		{"empty id", "v=STSv1; id=", "", nil, false},
		{"id with dash", "v=STSv1; id=a-b", "", nil, false},
		{"no id", "v=STSv1;", "", nil, false},
		{"version only", "v=STSv1", "", nil, false},
		{"two ids", "v=STSv1; id=a; id=b", "", nil, false},
		{"version not first", "id=a; v=STSv1", "", nil, false},
		{"version case", "v=stsv1; id=a", "", nil, false},
		{"id case", "v=STSv1; ID=a", "", nil, false},
		{"other version", "v=STSv2; id=a", "", nil, false},
		{"version prefix", "v=STSv10; id=a", "", nil, false},
		{"leading space", " v=STSv1; id=a", "", nil, false},
		{"junk after version", "v=STSv1 x; id=a", "", nil, false},
		{"space before first sep", "v=STSv1 ; id=a", "a", nil, true},
		{"empty field", "v=STSv1;; id=a", "", nil, false},
		{"ext without value", "v=STSv1; id=a; x=", "", nil, false},
		{"ext bad name", "v=STSv1; id=a; _x=1", "", nil, false},
		{"ext value with space", "v=STSv1; id=a; x=1 2", "", nil, false},
		{"field without =", "v=STSv1; id=a; x", "", nil, false},
		{"repeated version", "v=STSv1; id=a; v=STSv1", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRecord(tt.txt)
			if !tt.ok {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrRecordSyntax)
				var se *SyntaxError
				assert.ErrorAs(t, err, &se)
				assert.Nil(t, r)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.id, r.ID)
			assert.Equal(t, tt.ext, r.Extensions)
			// The canonical form parses to the same record.
			r2, err := ParseRecord(r.String())
			require.NoError(t, err)
			assert.Equal(t, r, r2)
		})
	}
}

const examplePolicy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	week := 604800 * time.Second
	tests := []struct {
		name, text string
		want       *Policy
	}{
		{"RFC example CRLF", examplePolicy, &Policy{Mode: Enforce, MaxAge: week,
			MX: []string{"mail.example.com", "*.example.net", "backupmx.example.com"}}},
		{"LF", "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n",
			&Policy{Mode: Testing, MaxAge: 24 * time.Hour, MX: []string{"mx.example.org"}}},
		{"no final newline", "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400",
			&Policy{Mode: Testing, MaxAge: 24 * time.Hour, MX: []string{"mx.example.org"}}},
		{"none without mx", "version: STSv1\nmode: none\nmax_age: 0\n", &Policy{Mode: None}},
		{"first value wins", "version: STSv1\nmode: testing\nmode: enforce\nmax_age: 1\nmax_age: 2\nmx: a.example\n",
			&Policy{Mode: Testing, MaxAge: time.Second, MX: []string{"a.example"}}},
		{"later version ignored", "version: STSv1\nversion: STSv9\nmode: none\nmax_age: 5\n",
			&Policy{Mode: None, MaxAge: 5 * time.Second}},
		{"trailing dot in mx", "version: STSv1\nmode: enforce\nmx: mx.example.com.\nmax_age: 31557600\n", nil},
		{"field names are case-sensitive", "Version: STSv1\nmode: none\nmax_age: 1\n", nil},
		{"mode is case-sensitive", "version: STSv1\nmode: Enforce\nmx: mx.example.com\nmax_age: 1\n", nil},
		{"version is case-sensitive", "version: stsv1\nmode: none\nmax_age: 1\n", nil},
		{"spaces and mx case", "version:STSv1  \nmode:\tenforce\nmx:   MX.Example.COM\nmax_age: 31557600\n",
			&Policy{Mode: Enforce, MaxAge: MaxMaxAge, MX: []string{"mx.example.com"}}},
		{"extensions kept and junk ignored", "version: STSv1\nmode: none\nmax_age: 9\nfoo: bar baz\n_bad: x\n",
			&Policy{Mode: None, MaxAge: 9 * time.Second, Extensions: []Extension{{"foo", "bar baz"}}}},
		{"blank lines", "\nversion: STSv1\n\r\nmode: none\nmax_age: 9\n\n", &Policy{Mode: None, MaxAge: 9 * time.Second}},
		{"IDN mx", "version: STSv1\nmode: enforce\nmx: mx.bücher.example\nmax_age: 9\n",
			&Policy{Mode: Enforce, MaxAge: 9 * time.Second, MX: []string{"mx.xn--bcher-kva.example"}}},
		{"max_age too big", "version: STSv1\nmode: none\nmax_age: 31557601\n", nil},
		{"max_age 11 digits", "version: STSv1\nmode: none\nmax_age: 00000000001\n", nil},
		{"max_age negative", "version: STSv1\nmode: none\nmax_age: -1\n", nil},
		{"max_age empty", "version: STSv1\nmode: none\nmax_age:\n", nil},
		{"no version", "mode: none\nmax_age: 1\n", nil},
		{"bad version", "version: STSv2\nmode: none\nmax_age: 1\n", nil},
		{"no mode", "version: STSv1\nmax_age: 1\n", nil},
		{"bad mode", "version: STSv1\nmode: strict\nmax_age: 1\n", nil},
		{"no max_age", "version: STSv1\nmode: none\n", nil},
		{"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n", nil},
		{"wildcard in middle", "version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n", nil},
		{"partial wildcard", "version: STSv1\nmode: enforce\nmx: m*.example\nmax_age: 1\n", nil},
		{"bare wildcard", "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", nil},
		{"double wildcard", "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", nil},
		{"underscore mx", "version: STSv1\nmode: enforce\nmx: _x.example\nmax_age: 1\n", nil},
		{"line without colon", "version: STSv1\nmode: none\nmax_age: 1\ngarbage\n", nil},
		{"bare CR inside", "version: STSv1\rmode: none\nmax_age: 1\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParsePolicy(tt.text)
			if tt.want == nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrPolicySyntax)
				var se *SyntaxError
				assert.ErrorAs(t, err, &se)
				assert.Nil(t, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
			p2, err := ParsePolicy(p.String())
			require.NoError(t, err)
			assert.Equal(t, p, p2)
		})
	}
}

func TestPolicyMatch(t *testing.T) {
	t.Parallel()
	p := &Policy{Mode: Enforce, MX: []string{"mail.example.com", "*.example.net"}}
	tests := []struct {
		host string
		want bool
	}{
		{"mail.example.com", true},
		{"MAIL.Example.COM.", true},
		{"mail.example.com.evil.test", false},
		{"x.mail.example.com", false},
		{"example.com", false},
		{"mx1.example.net", true},
		{"MX1.EXAMPLE.NET.", true},
		{"example.net", false},
		{"a.b.example.net", false},
		{".example.net", false},
		{"", false},
		{"mx1.example.net..", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, p.Match(tt.host))
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=STSv1; id=20160831085700Z;", "v=STSv1;id=a;x=y", "v=STSv1", "v=STSv1; id=a; e=\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		if err != nil {
			if r != nil || !strings.Contains(err.Error(), "mtasts:") {
				t.Fatalf("bad error result: %v %v", r, err)
			}
			return
		}
		// Property: a valid record has a 1-32 alphanumeric id and its
		// canonical form parses back to the same record.
		if len(r.ID) < 1 || len(r.ID) > 32 || !isAlnum(r.ID) {
			t.Fatalf("invalid id accepted: %q", r.ID)
		}
		r2, err := ParseRecord(r.String())
		if err != nil || r2.ID != r.ID || len(r2.Extensions) != len(r.Extensions) {
			t.Fatalf("round trip of %q: %v %v", r.String(), r2, err)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{examplePolicy, "version: STSv1\nmode: none\nmax_age: 0\n",
		"version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 31557600\nx: y\n", "mx: a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParsePolicy(text)
		if err != nil {
			if p != nil {
				t.Fatal("policy with error")
			}
			return
		}
		if p.MaxAge < 0 || p.MaxAge > MaxMaxAge {
			t.Fatalf("max_age out of range: %v", p.MaxAge)
		}
		if p.Mode != None && len(p.MX) == 0 {
			t.Fatal("no mx outside mode none")
		}
		for _, mx := range p.MX {
			// Every pattern matches a host built from it.
			host := strings.Replace(mx, "*", "x", 1)
			if !p.Match(host) {
				t.Fatalf("pattern %q does not match %q", mx, host)
			}
		}
		p2, err := ParsePolicy(p.String())
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, p.String())
		}
		if p2.String() != p.String() {
			t.Fatalf("round trip changed the policy:\n%s\n%s", p.String(), p2.String())
		}
	})
}
