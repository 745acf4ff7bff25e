package requiretls

import (
	"errors"
	"strings"
	"testing"

	"github.com/smtpsec/smtpsec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerSession(t *testing.T) {
	t.Parallel()
	assert.False(t, ServerSession{}.Advertise())
	assert.True(t, ServerSession{TLS: true}.Advertise())
	assert.Equal(t, 512, ServerSession{}.MailLineLimit())
	assert.Equal(t, 523, ServerSession{TLS: true}.MailLineLimit())
	assert.Equal(t, 549, ServerSession{TLS: true, Extensions: []string{"SIZE"}}.MailLineLimit())
}

func TestParseMailFrom(t *testing.T) {
	t.Parallel()
	plain := ServerSession{}
	tls := ServerSession{TLS: true}
	long := "MAIL FROM:<" + strings.Repeat("a", 485) + "@example.test>"
	tests := []struct {
		name       string
		s          ServerSession
		line       string
		requireTLS bool
		path       string
		reply      string // wire form of the expected refusal
		cause      error
	}{
		{name: "tls, parameter", s: tls, line: "MAIL FROM:<alice@example.test> REQUIRETLS\r\n", requireTLS: true, path: "alice@example.test"},
		{name: "tls, lower case", s: tls, line: "mail from:<alice@example.test> requiretls", requireTLS: true, path: "alice@example.test"},
		{name: "tls, no parameter", s: tls, line: "MAIL FROM:<alice@example.test> SIZE=10", path: "alice@example.test"},
		{name: "tls, null sender", s: tls, line: "MAIL FROM:<> REQUIRETLS", requireTLS: true},
		{name: "plaintext, no parameter", s: plain, line: "MAIL FROM:<alice@example.test>", path: "alice@example.test"},
		{name: "plaintext, parameter", s: plain, line: "MAIL FROM:<alice@example.test> REQUIRETLS",
			reply: "555 5.5.4 Unsupported option: REQUIRETLS\r\n", cause: ErrNoTLS},
		{name: "plaintext, parameter with value", s: plain, line: "MAIL FROM:<alice@example.test> REQUIRETLS=YES",
			reply: "555 5.5.4 Unsupported option: REQUIRETLS=YES\r\n", cause: ErrNoTLS},
		{name: "tls, value", s: tls, line: "MAIL FROM:<alice@example.test> REQUIRETLS=YES",
			reply: "555 5.5.4 Unsupported option: REQUIRETLS=YES\r\n", cause: ErrParamValue},
		{name: "tls, duplicate", s: tls, line: "MAIL FROM:<alice@example.test> REQUIRETLS RequireTLS",
			reply: "501 5.5.4 Duplicate parameter REQUIRETLS\r\n"},
		{name: "tls, line at the raised limit", s: tls, line: long + " REQUIRETLS", requireTLS: true,
			path: strings.Repeat("a", 485) + "@example.test"},
		{name: "plaintext, same line too long", s: plain, line: long + " REQUIRETLS",
			reply: "500 5.5.2 Line too long\r\n"},
		{name: "rcpt is not mail", s: tls, line: "RCPT TO:<bob@example.test>",
			reply: "501 5.5.2 Syntax error in command\r\n", cause: ErrNotMail},
		{name: "garbage", s: tls, line: "MAIL FROM alice",
			reply: "501 5.5.2 Syntax error in command\r\n"},
		{name: "utf8 with SMTPUTF8 offered", s: ServerSession{TLS: true, Extensions: []string{"smtputf8"}},
			line: "MAIL FROM:<ålice@example.test> SMTPUTF8 REQUIRETLS", requireTLS: true, path: "ålice@example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Len(t, long+" REQUIRETLS\r\n", 523)
			m, err := tt.s.ParseMailFrom(tt.line)
			if tt.reply != "" {
				var re *smtpsec.ReplyError
				require.True(t, errors.As(err, &re), "error %v is a ReplyError", err)
				assert.Equal(t, tt.reply, re.Reply.String())
				if tt.cause != nil {
					assert.ErrorIs(t, err, tt.cause)
				}
				assert.Nil(t, m)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.requireTLS, m.RequireTLS)
			assert.Equal(t, tt.path, m.ReversePath)
		})
	}
}

func TestCheckParam(t *testing.T) {
	t.Parallel()
	assert.NoError(t, ServerSession{}.CheckParam(Param{Keyword: "SIZE", Value: "1", HasValue: true}))
	assert.NoError(t, ServerSession{TLS: true}.CheckParam(Param{Keyword: "requiretls"}))
	assert.ErrorIs(t, ServerSession{}.CheckParam(Param{Keyword: "REQUIRETLS"}), ErrNoTLS)
	assert.ErrorIs(t, ServerSession{TLS: true}.CheckParam(Param{Keyword: "REQUIRETLS", HasValue: true}), ErrParamValue)
}

func FuzzParseMailFrom(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<alice@example.test> REQUIRETLS",
		"MAIL FROM:<> REQUIRETLS=YES",
		"mail from: <a@example.test> SIZE=1 requiretls",
		"MAIL FROM:<a@example.test> REQUIRETLS REQUIRETLS",
		"RCPT TO:<b@example.test>",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, line string, tlsOn bool) {
		s := ServerSession{TLS: tlsOn, Extensions: []string{"SIZE", "SMTPUTF8"}}
		m, err := s.ParseMailFrom(line)
		if err != nil {
			var re *smtpsec.ReplyError
			if !errors.As(err, &re) || !re.Permanent() {
				t.Fatalf("error %v is not a permanent ReplyError", err)
			}
			return
		}
		if m.RequireTLS && !tlsOn {
			t.Fatal("REQUIRETLS accepted without TLS")
		}
		p, has := Params(m.Params).get(Keyword)
		if has != m.RequireTLS || (has && p.HasValue) {
			t.Fatalf("RequireTLS %v but parameter %+v", m.RequireTLS, p)
		}
		if len(line) > s.MailLineLimit() {
			t.Fatalf("line of %d octets accepted, limit %d", len(line), s.MailLineLimit())
		}
	})
}

// Params is a test helper type for lookups.
type Params []Param

func (ps Params) get(kw string) (Param, bool) {
	for _, p := range ps {
		if strings.EqualFold(p.Keyword, kw) {
			return p, true
		}
	}
	return Param{}, false
}

func BenchmarkParseMailFrom(b *testing.B) {
	b.ReportAllocs()
	s := ServerSession{TLS: true, Extensions: []string{"SIZE"}}
	for b.Loop() {
		if _, err := s.ParseMailFrom("MAIL FROM:<alice@example.test> SIZE=12345 REQUIRETLS\r\n"); err != nil {
			b.Fatal(err)
		}
	}
}
