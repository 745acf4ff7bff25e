package sender_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/sender"
)

func TestAuthResultsFormat(t *testing.T) {
	t.Parallel()
	a := &sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
		{Method: "iprev", Result: "pass", Comment: "mail.example.com", Props: []sender.Property{{Type: "policy", Name: "iprev", Value: "192.0.2.11"}}},
		{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp", Name: "mailfrom", Value: "alice@example.com"}}},
		{Method: "dkim", Result: "pass", Props: []sender.Property{{Type: "header", Name: "d", Value: "example.com"}, {Type: "header", Name: "s", Value: "sel"}}},
		{Method: "dmarc", Result: "fail", Reason: "trusted_forwarder", Comment: "p=reject dis=accept", Props: []sender.Property{{Type: "header", Name: "from", Value: "example.com"}}},
	}}
	f, err := a.Field()
	require.NoError(t, err)
	assert.Equal(t, "Authentication-Results: mx.example.org;\r\n"+
		"\tiprev=pass (mail.example.com) policy.iprev=192.0.2.11;\r\n"+
		"\tspf=pass smtp.mailfrom=alice@example.com;\r\n"+
		"\tdkim=pass header.d=example.com header.s=sel;\r\n"+
		"\tdmarc=fail (p=reject dis=accept) reason=trusted_forwarder\r\n"+
		"\theader.from=example.com\r\n", f)

	none := &sender.AuthResults{AuthservID: "mx.example.org", Version: 1}
	v, err := none.Format()
	require.NoError(t, err)
	assert.Equal(t, "mx.example.org 1; none", v)
}

func TestAuthResultsInjection(t *testing.T) {
	t.Parallel()
	hostile := []string{
		"evil.example; dkim=pass header.d=bank.example",
		"evil.example\r\nX-Injected: yes",
		"x\" ; spf=pass",
		"(comment) dmarc=pass",
		"a\\\"b",
		"\x00\x7f\xff",
		"ünïcödé.example",
		"",
	}
	for _, h := range hostile {
		a := &sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
			{Method: "spf", Result: "fail", Reason: h, Comment: h, Props: []sender.Property{{Type: "smtp", Name: "helo", Value: h}}},
		}}
		f, err := a.Field()
		require.NoError(t, err)
		assertSafeField(t, f)
		// Reading it back gives one method with the (sanitised) value.
		got, err := sender.ParseAuthResults(f)
		require.NoError(t, err, "%q", f)
		require.Len(t, got.Results, 1, "%q", f)
		assert.Equal(t, "spf", got.Results[0].Method)
		v, _ := got.Results[0].Prop("smtp", "helo")
		assert.Equal(t, sanitizedForTest(h), v)
	}
	// Invalid method and property names are refused, not written.
	for _, m := range []sender.MethodResult{
		{Method: "spf; dkim", Result: "pass"},
		{Method: "spf", Result: "pass pass"},
		{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp x", Name: "a", Value: "b"}}},
		{Method: "", Result: "pass"},
	} {
		_, err := (&sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{m}}).Format()
		assert.ErrorIs(t, err, sender.ErrInvalidToken)
	}
	_, err := (&sender.AuthResults{}).Format()
	assert.ErrorIs(t, err, sender.ErrInvalidToken)
}

func sanitizedForTest(s string) string {
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// assertSafeField checks that f is one header field: every CR is part of a
// CRLF followed by white space (a fold), except the final CRLF.
func assertSafeField(t testing.TB, f string) {
	t.Helper()
	body := strings.TrimSuffix(f, "\r\n")
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\r':
			require.True(t, i+2 < len(body) && body[i+1] == '\n' && (body[i+2] == ' ' || body[i+2] == '\t'), "bare CR or unfolded CRLF at %d in %q", i, f)
		case '\n':
			require.True(t, i > 0 && body[i-1] == '\r', "bare LF at %d in %q", i, f)
		default:
			require.False(t, body[i] < 0x20 && body[i] != '\t' || body[i] == 0x7f, "control character at %d in %q", i, f)
		}
	}
	require.True(t, utf8.ValidString(f))
}

func TestParseAuthResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want *sender.AuthResults
	}{
		{"RFC 8601 B.2 none", "example.org 1; none", &sender.AuthResults{AuthservID: "example.org", Version: 1}},
		{"RFC 8601 B.3 spf", "Authentication-Results: example.com;\r\n spf=pass smtp.mailfrom=example.net",
			&sender.AuthResults{AuthservID: "example.com", Results: []sender.MethodResult{
				{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp", Name: "mailfrom", Value: "example.net"}}}}}},
		{"RFC 8601 B.4 auth and comments", `example.com;
          auth=pass (cram-md5) smtp.auth=sender@example.net;
          spf=pass smtp.mailfrom=example.net`,
			&sender.AuthResults{AuthservID: "example.com", Results: []sender.MethodResult{
				{Method: "auth", Result: "pass", Comment: "cram-md5", Props: []sender.Property{{Type: "smtp", Name: "auth", Value: "sender@example.net"}}},
				{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp", Name: "mailfrom", Value: "example.net"}}}}}},
		{"RFC 8601 B.6 versions and reason", `example.com;
              dkim=pass (good signature) header.d=mail-router.example.net;
              dkim/1=fail (bad signature) reason="body hash mismatch" header.d=newyork.example.com`,
			&sender.AuthResults{AuthservID: "example.com", Results: []sender.MethodResult{
				{Method: "dkim", Result: "pass", Comment: "good signature", Props: []sender.Property{{Type: "header", Name: "d", Value: "mail-router.example.net"}}},
				{Method: "dkim", Version: 1, Result: "fail", Comment: "bad signature", Reason: "body hash mismatch", Props: []sender.Property{{Type: "header", Name: "d", Value: "newyork.example.com"}}}}}},
		{"nested comments and quoted id", `"mx (1).example.org" (the (inner) comment) ; spf = fail (a\)b) smtp.helo="we;ird"`,
			&sender.AuthResults{AuthservID: "mx (1).example.org", Results: []sender.MethodResult{
				{Method: "spf", Result: "fail", Comment: "a)b", Props: []sender.Property{{Type: "smtp", Name: "helo", Value: "we;ird"}}}}}},
		{"quoted local part", `mx.example.org; spf=pass smtp.mailfrom="a b"@example.com`,
			&sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
				{Method: "spf", Result: "pass", Props: []sender.Property{{Type: "smtp", Name: "mailfrom", Value: "a b@example.com"}}}}}},
		{"ipv6 unquoted and trailing semicolon", `mx.example.org; iprev=pass policy.iprev=2001:db8::1;`,
			&sender.AuthResults{AuthservID: "mx.example.org", Results: []sender.MethodResult{
				{Method: "iprev", Result: "pass", Props: []sender.Property{{Type: "policy", Name: "iprev", Value: "2001:db8::1"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sender.ParseAuthResults(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []string{
		"", "mx.example.org", "mx.example.org spf=pass", "mx.example.org; spf", "mx.example.org; spf=",
		"mx.example.org; spf=pass (unterminated", `mx.example.org; spf=pass smtp.mailfrom="unterminated`,
		"mx.example.org; spf=pass smtp", "mx.example.org; spf=pass smtp.mailfrom", "(only a comment)",
		"mx.example.org; =pass", strings.Repeat("x", 70000),
	} {
		_, err := sender.ParseAuthResults(bad)
		assert.ErrorIs(t, err, sender.ErrAuthResSyntax, "%q", bad)
	}
}

func TestAuthservIDAndRemoval(t *testing.T) {
	t.Parallel()
	fields := []string{
		"mx.example.org; spf=pass smtp.mailfrom=example.com", // ours: forged
		"MX.EXAMPLE.ORG; dmarc=pass",                         // ours, other case
		"backup.example.org; spf=pass smtp.mailfrom=a@example.com",
		"mx.google.example; spf=pass smtp.mailfrom=x@example.net", // foreign: stays
		"(no id at all)",
		"mx.example.org this does not parse",
	}
	id, ok := sender.AuthservID(fields[5])
	assert.True(t, ok)
	assert.Equal(t, "mx.example.org", id)
	own := []string{"mx.example.org", "backup.example.org"}
	assert.Equal(t, []int{0, 1, 2, 4, 5}, sender.RemovableAuthResults(fields, own, nil))
	assert.Equal(t, []int{0, 1, 4, 5}, sender.RemovableAuthResults(fields, own, []string{"backup.example.org"}))
	assert.Empty(t, sender.RemovableAuthResults(fields[3:4], own, nil))
}

func FuzzAuthResultsRoundTrip(f *testing.F) {
	f.Add("mx.example.org", "spf", "pass", "", "", "smtp", "mailfrom", "alice@example.com")
	f.Add("mx (1).example.org", "dkim", "fail", "body hash mismatch", "bad (sig)", "header", "d", "example.com")
	f.Add("id", "dmarc", "fail", "trusted_forwarder", "p=reject", "header", "from", "a\"b\\c")
	f.Add("x", "iprev", "pass", "", "", "policy", "iprev", "2001:db8::1")
	f.Add("x\r\ny", "spf", "none", "\x00", ")", "smtp", "helo", "evil; dkim=pass")
	f.Fuzz(func(t *testing.T, id, method, result, reason, comment, ptype, prop, value string) {
		a := &sender.AuthResults{AuthservID: id, Results: []sender.MethodResult{{
			Method: method, Result: result, Reason: reason, Comment: comment,
			Props: []sender.Property{{Type: ptype, Name: prop, Value: value}},
		}}}
		field, err := a.Field()
		if err != nil {
			require.ErrorIs(t, err, sender.ErrInvalidToken)
			return
		}
		// The builder never emits a raw CR or LF, nor control characters.
		assertSafeField(t, field)
		got, err := sender.ParseAuthResults(field)
		require.NoError(t, err, "%q", field)
		// Round trip: what the builder wrote is what the parser reads,
		// after the builder's sanitising of values and comments.
		want := &sender.AuthResults{AuthservID: sanitizedForTest(id), Results: []sender.MethodResult{{
			Method: method, Result: result, Reason: sanitizedForTest(reason), Comment: sanitizedForTest(comment),
			Props: []sender.Property{{Type: ptype, Name: prop, Value: sanitizedForTest(value)}},
		}}}
		require.Equal(t, want, got, "%q", field)
	})
}

func FuzzParseAuthResults(f *testing.F) {
	for _, s := range []string{
		"example.org 1; none",
		"example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net",
		`"mx (1).example.org" (c (n)) ; spf = fail (a\)b) smtp.helo="we;ird"`,
		`mx.example.org; dkim/1=fail reason="x" header.d=a.example`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := sender.ParseAuthResults(s)
		if err != nil {
			require.ErrorIs(t, err, sender.ErrAuthResSyntax)
			return
		}
		require.NotEmpty(t, a.AuthservID)
		id, ok := sender.AuthservID(s)
		require.True(t, ok)
		require.Equal(t, a.AuthservID, id)
		// Whatever was read can be written safely; when its tokens are
		// strict keywords, it reads back the same.
		field, err := a.Field()
		if err != nil {
			require.ErrorIs(t, err, sender.ErrInvalidToken)
			return
		}
		assertSafeField(t, field)
		again, err := sender.ParseAuthResults(field)
		require.NoError(t, err, "%q", field)
		require.Len(t, again.Results, len(a.Results))
	})
}
