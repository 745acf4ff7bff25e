package esmtp

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	long := "MAIL FROM:<" + strings.Repeat("a", 480) + "@example.test>"
	tests := []struct {
		name    string
		line    string
		opts    Options
		verb    Verb
		path    string
		params  Params
		wantErr error
	}{
		{name: "plain", line: "MAIL FROM:<a@example.test>\r\n", verb: Mail, path: "a@example.test"},
		{name: "null path", line: "MAIL FROM:<>", verb: Mail, path: ""},
		{name: "verb case", line: "mail from:<a@example.test> requiretls", verb: Mail, path: "a@example.test",
			params: Params{{Keyword: "REQUIRETLS"}}},
		{name: "space after colon", line: "MAIL FROM: <a@example.test>", verb: Mail, path: "a@example.test"},
		{name: "rcpt", line: "RCPT TO:<b@example.test> NOTIFY=FAILURE ORCPT=rfc822;b+40example.test", verb: Rcpt,
			path: "b@example.test", params: Params{
				{Keyword: "NOTIFY", Value: "FAILURE", HasValue: true},
				{Keyword: "ORCPT", Value: "rfc822;b+40example.test", HasValue: true},
			}},
		{name: "several params", line: "MAIL FROM:<a@example.test> SIZE=1000 BODY=8BITMIME REQUIRETLS", verb: Mail,
			path: "a@example.test", params: Params{
				{Keyword: "SIZE", Value: "1000", HasValue: true},
				{Keyword: "BODY", Value: "8BITMIME", HasValue: true},
				{Keyword: "REQUIRETLS"},
			}},
		{name: "quoted local part", line: `MAIL FROM:<"a> b"@example.test> REQUIRETLS`, verb: Mail,
			path: `"a> b"@example.test`, params: Params{{Keyword: "REQUIRETLS"}}},
		{name: "source route", line: "RCPT TO:<@relay.example:b@example.test>", verb: Rcpt, path: "@relay.example:b@example.test"},
		{name: "value kept as sent", line: "MAIL FROM:<> ENVID=AbC+2B", verb: Mail,
			params: Params{{Keyword: "ENVID", Value: "AbC+2B", HasValue: true}}},
		{name: "utf8 path with SMTPUTF8", line: "MAIL FROM:<δ@example.test> SMTPUTF8", opts: Options{UTF8: true},
			verb: Mail, path: "δ@example.test", params: Params{{Keyword: "SMTPUTF8"}}},

		{name: "duplicate", line: "MAIL FROM:<> REQUIRETLS requiretls", wantErr: ErrDuplicate},
		{name: "value on duplicate", line: "MAIL FROM:<> SIZE=1 SIZE=2", wantErr: ErrDuplicate},
		{name: "empty value", line: "MAIL FROM:<> REQUIRETLS=", wantErr: ErrValue},
		{name: "equals in value", line: "MAIL FROM:<> X-A=b=c", wantErr: ErrValue},
		{name: "control in value", line: "MAIL FROM:<> X-A=b\x01", wantErr: ErrValue},
		{name: "utf8 value without SMTPUTF8", line: "MAIL FROM:<> X-A=δ", wantErr: ErrValue},
		{name: "bad utf8 value", line: "MAIL FROM:<> X-A=\xff", opts: Options{UTF8: true}, wantErr: ErrValue},
		{name: "keyword leading dash", line: "MAIL FROM:<> -X", wantErr: ErrKeyword},
		{name: "keyword underscore", line: "MAIL FROM:<> X_Y", wantErr: ErrKeyword},
		{name: "two spaces", line: "MAIL FROM:<>  SIZE=1", wantErr: ErrKeyword},
		{name: "trailing space", line: "MAIL FROM:<> SIZE=1 ", wantErr: ErrKeyword},
		{name: "no brackets", line: "MAIL FROM:a@example.test", wantErr: ErrSyntax},
		{name: "unterminated", line: "MAIL FROM:<a@example.test", wantErr: ErrSyntax},
		{name: "junk after path", line: "MAIL FROM:<a@example.test>SIZE=1", wantErr: ErrSyntax},
		{name: "space in path", line: "MAIL FROM:<a @example.test>", wantErr: ErrSyntax},
		{name: "bare LF inside", line: "MAIL FROM:<a@example.test>\nRSET", wantErr: ErrSyntax},
		{name: "utf8 path without SMTPUTF8", line: "MAIL FROM:<δ@example.test>", wantErr: ErrSyntax},
		{name: "wrong verb", line: "MAIL TO:<a@example.test>", wantErr: ErrSyntax},
		{name: "line too long", line: long + " REQUIRETLS", wantErr: ErrLineTooLong},
		{name: "line fits with REQUIRETLS raise", line: long + " REQUIRETLS", opts: Options{MaxLine: MailLineLimit("REQUIRETLS")},
			verb: Mail, path: strings.Repeat("a", 480) + "@example.test", params: Params{{Keyword: "REQUIRETLS"}}},
		{name: "too many", line: "MAIL FROM:<>" + manyParams(MaxParams+1), opts: Options{MaxLine: 4096}, wantErr: ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCommand(tt.line, tt.opts)
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantErr)
				var se *SyntaxError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, 5, se.Reply().Class())
				assert.Nil(t, c)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.verb, c.Verb)
			assert.Equal(t, tt.path, c.Path)
			assert.Equal(t, tt.params, c.Params)
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(" X")
		b.WriteString(strings.Repeat("A", i+1))
	}
	return b.String()
}

func TestMailLineLimit(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 512, MailLineLimit())
	assert.Equal(t, 523, MailLineLimit("REQUIRETLS"))
	assert.Equal(t, 523, MailLineLimit("requiretls", "REQUIRETLS", "PIPELINING"))
	assert.Equal(t, 549, MailLineLimit("SIZE", "REQUIRETLS"))
}

func TestLineLimitBoundary(t *testing.T) {
	t.Parallel()
	opts := Options{MaxLine: MailLineLimit("REQUIRETLS")}
	prefix := "MAIL FROM:<"
	suffix := "@example.test> REQUIRETLS"
	n := opts.MaxLine - 2 - len(prefix) - len(suffix)
	exact := prefix + strings.Repeat("a", n) + suffix
	require.Len(t, exact+"\r\n", 523)
	_, err := ParseCommand(exact+"\r\n", opts)
	require.NoError(t, err)
	_, err = ParseCommand(prefix+strings.Repeat("a", n+1)+suffix, opts)
	require.ErrorIs(t, err, ErrLineTooLong)
}

func TestFormatCommand(t *testing.T) {
	t.Parallel()
	line, err := FormatCommand(Mail, "a@example.test", Params{{Keyword: "size", Value: "10", HasValue: true}, {Keyword: "REQUIRETLS"}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "MAIL FROM:<a@example.test> SIZE=10 REQUIRETLS\r\n", line)

	bad := []struct {
		name   string
		path   string
		params Params
		want   error
	}{
		{"crlf in path", "a@example.test>\r\nRSET", nil, ErrSyntax},
		{"bracket in path", "a>@example.test", nil, ErrSyntax},
		{"space in value", "", Params{{Keyword: "X", Value: "a b", HasValue: true}}, ErrValue},
		{"value without HasValue", "", Params{{Keyword: "X", Value: "a"}}, ErrValue},
		{"smuggled keyword", "", Params{{Keyword: "X REQUIRETLS"}}, ErrKeyword},
		{"duplicate", "", Params{{Keyword: "X"}, {Keyword: "x"}}, ErrDuplicate},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := FormatCommand(Mail, tt.path, tt.params, Options{})
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestParams(t *testing.T) {
	t.Parallel()
	ps, err := ParseParams("size=1 RequireTLS", Options{})
	require.NoError(t, err)
	assert.True(t, ps.Has("REQUIRETLS"))
	assert.True(t, ps.Has("requiretls"))
	p, ok := ps.Get("SIZE")
	require.True(t, ok)
	assert.Equal(t, "SIZE=1", p.String())
	assert.False(t, ps.Has("BODY"))
	none, err := ParseParams("", Options{})
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestXText(t *testing.T) {
	t.Parallel()
	tests := []struct{ decoded, encoded string }{
		{"", ""},
		{"rfc822;b@example.test", "rfc822;b@example.test"},
		{"a+b=c", "a+2Bb+3Dc"},
		{"a b\r\n", "a+20b+0D+0A"},
		{"\xff", "+FF"},
	}
	for _, tt := range tests {
		t.Run(tt.encoded, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.encoded, EncodeXText(tt.decoded))
			d, err := DecodeXText(tt.encoded)
			require.NoError(t, err)
			assert.Equal(t, tt.decoded, d)
		})
	}
	for _, bad := range []string{"+", "+2", "+2b", "+G0", "a=b", "a b", "\x7f", "δ"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeXText(bad)
			assert.ErrorIs(t, err, ErrXText)
		})
	}
}

func TestSyntaxErrorReply(t *testing.T) {
	t.Parallel()
	_, err := ParseCommand("MAIL FROM:<> A A", Options{})
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "501 5.5.4 Duplicate parameter A\r\n", se.Reply().String())
	assert.Contains(t, se.Error(), "duplicate parameter")
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<a@example.test> REQUIRETLS",
		"MAIL FROM:<> SIZE=10 BODY=8BITMIME",
		"RCPT TO:<b@example.test> NOTIFY=NEVER ORCPT=rfc822;b+40example.test",
		`MAIL FROM:<"x y"@example.test> REQUIRETLS=YES`,
		"mail from: <a@example.test> requiretls REQUIRETLS",
		"MAIL FROM:<δ@example.test> SMTPUTF8",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, line string, utf8OK bool) {
		opts := Options{MaxLine: MailLineLimit("REQUIRETLS"), UTF8: utf8OK}
		c, err := ParseCommand(line, opts)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			return
		}
		if len(c.Params) > MaxParams {
			t.Fatalf("%d params", len(c.Params))
		}
		seen := map[string]bool{}
		for _, p := range c.Params {
			if p.Keyword != strings.ToUpper(p.Keyword) || seen[p.Keyword] {
				t.Fatalf("keyword %q not upper-case or repeated", p.Keyword)
			}
			seen[p.Keyword] = true
		}
		// Round trip: what parsed formats back and parses to the same command.
		out, err := FormatCommand(c.Verb, c.Path, c.Params, Options{MaxLine: 4096, UTF8: utf8OK})
		if err != nil {
			t.Fatalf("format %+v: %v", c, err)
		}
		c2, err := ParseCommand(out, Options{MaxLine: 4096, UTF8: utf8OK})
		if err != nil {
			t.Fatalf("reparse %q: %v", out, err)
		}
		if c2.Path != c.Path || len(c2.Params) != len(c.Params) {
			t.Fatalf("round trip %+v != %+v", c2, c)
		}
		for i := range c.Params {
			if c.Params[i] != c2.Params[i] {
				t.Fatalf("param %d: %+v != %+v", i, c2.Params[i], c.Params[i])
			}
		}
	})
}

func FuzzXText(f *testing.F) {
	f.Add("rfc822;a@example.test")
	f.Add("a+2Bb")
	f.Add("\x00\xff +=")
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeXText(s)
		dec, err := DecodeXText(enc)
		if err != nil || dec != s {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, enc, dec, err)
		}
		if invalidValue(enc, false) >= 0 && enc != "" {
			t.Fatalf("xtext %q is not a valid esmtp-value", enc)
		}
		if d, err := DecodeXText(s); err == nil && EncodeXText(d) != s && !strings.Contains(s, "+") {
			t.Fatalf("decode of plain %q changed it", s)
		}
	})
}

func BenchmarkParseCommand(b *testing.B) {
	b.ReportAllocs()
	opts := Options{MaxLine: MailLineLimit("REQUIRETLS", "SIZE")}
	for b.Loop() {
		if _, err := ParseCommand("MAIL FROM:<sender@example.test> SIZE=12345 BODY=8BITMIME REQUIRETLS\r\n", opts); err != nil {
			b.Fatal(err)
		}
	}
}
