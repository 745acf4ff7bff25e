package smtpwire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
)

func TestReadReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want smtpsec.Reply
		err  error
	}{
		{"single", "220 mx.example.test ESMTP\r\n", smtpsec.Reply{Code: 220, Text: "mx.example.test ESMTP"}, nil},
		{"bare code", "250\r\n", smtpsec.Reply{Code: 250}, nil},
		{"enhanced", "550 5.7.1 no\r\n", smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 1}, Text: "no"}, nil},
		{"enhanced only", "250 2.0.0\r\n", smtpsec.Reply{Code: 250, Enhanced: smtpsec.Enhanced(0, 0), Text: ""}, nil},
		{"enhanced class mismatch", "550 4.7.1 no\r\n", smtpsec.Reply{Code: 550, Text: "4.7.1 no"}, nil},
		{"enhanced needs space", "550 5.7.1x\r\n", smtpsec.Reply{Code: 550, Text: "5.7.1x"}, nil},
		{"3xx keeps text", "354 2.0.0 go\r\n", smtpsec.Reply{Code: 354, Text: "2.0.0 go"}, nil},
		{"multi", "250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n", smtpsec.Reply{Code: 250, Text: "mx.example.test\nPIPELINING\nSTARTTLS"}, nil},
		{"multi enhanced", "550-5.7.1 a\r\n550 5.7.1 b\r\n", smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 1}, Text: "a\nb"}, nil},
		{"empty continuation", "250-\r\n250 x\r\n", smtpsec.Reply{Code: 250, Text: "\nx"}, nil},
		{"code changes", "250-a\r\n251 b\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"bad separator", "250*a\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"short", "25\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"code out of range", "199 a\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"code 600", "600 a\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"letters", "2x0 a\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"bare LF", "220 a\n", smtpsec.Reply{}, smtpwire.ErrBareLineEnding},
		{"bare CR inside", "220 a\rb\r\n", smtpsec.Reply{}, smtpwire.ErrBareLineEnding},
		{"control character", "220 a\x1bb\r\n", smtpsec.Reply{}, smtpwire.ErrSyntax},
		{"tab allowed", "220 a\tb\r\n", smtpsec.Reply{Code: 220, Text: "a\tb"}, nil},
		{"EOF", "", smtpsec.Reply{}, io.EOF},
		{"EOF mid line", "220 a", smtpsec.Reply{}, io.ErrUnexpectedEOF},
		{"EOF mid reply", "250-a\r\n", smtpsec.Reply{}, io.ErrUnexpectedEOF},
		{"long line", "220 " + strings.Repeat("a", 3000) + "\r\n", smtpsec.Reply{}, smtpwire.ErrLineTooLong},
		{"too many lines", strings.Repeat("250-a\r\n", 100) + "250 b\r\n", smtpsec.Reply{}, smtpwire.ErrTooManyLines},
		{"max lines", strings.Repeat("250-a\r\n", 99) + "250 b\r\n", smtpsec.Reply{Code: 250, Text: strings.Repeat("a\n", 99) + "b"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := smtpwire.NewReader(strings.NewReader(tc.in), smtpwire.Limits{})
			got, err := r.ReadReply()
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReplyTooLarge(t *testing.T) {
	t.Parallel()
	line := "250-" + strings.Repeat("a", 1000) + "\r\n"
	r := smtpwire.NewReader(strings.NewReader(strings.Repeat(line, 90)), smtpwire.Limits{})
	_, err := r.ReadReply()
	require.ErrorIs(t, err, smtpwire.ErrReplyTooLarge)
}

// A reader that never ends: a 64 MiB line must fail after the line limit,
// not allocate.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

func TestHugeLine(t *testing.T) {
	t.Parallel()
	r := smtpwire.NewReader(io.MultiReader(strings.NewReader("220 "), endless{'a'}), smtpwire.Limits{MaxLineLength: 100000})
	assert.Equal(t, smtpwire.MaxLineLimit, r.Limits().MaxLineLength)
	_, err := r.ReadReply()
	require.ErrorIs(t, err, smtpwire.ErrLineTooLong)
}

func TestReadCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want smtpwire.Command
		err  error
	}{
		{"ehlo", "EHLO client.example.test\r\n", smtpwire.Command{Verb: "EHLO", Arg: "client.example.test"}, nil},
		{"lower", "ehlo x\r\n", smtpwire.Command{Verb: "EHLO", Arg: "x"}, nil},
		{"no arg", "STARTTLS\r\n", smtpwire.Command{Verb: "STARTTLS"}, nil},
		{"trailing space", "STARTTLS  \r\n", smtpwire.Command{Verb: "STARTTLS"}, nil},
		{"mail", "MAIL FROM:<a@example.test> SIZE=10\r\n", smtpwire.Command{Verb: "MAIL", Arg: "FROM:<a@example.test> SIZE=10"}, nil},
		{"bare LF", "NOOP\n", smtpwire.Command{Verb: "NOOP"}, nil},
		{"unknown verb", "XYZZY\r\n", smtpwire.Command{Verb: "XYZZY"}, nil},
		{"CR inside", "NOOP\rRSET\r\n", smtpwire.Command{}, smtpwire.ErrSyntax},
		{"NUL", "NO\x00OP\r\n", smtpwire.Command{}, smtpwire.ErrSyntax},
		{"empty", "\r\n", smtpwire.Command{}, smtpwire.ErrSyntax},
		{"digit verb", "N00P\r\n", smtpwire.Command{}, smtpwire.ErrSyntax},
		{"long verb", strings.Repeat("A", 17) + "\r\n", smtpwire.Command{}, smtpwire.ErrSyntax},
		{"too long", "NOOP " + strings.Repeat("a", 3000) + "\r\n", smtpwire.Command{}, smtpwire.ErrLineTooLong},
		{"EOF", "", smtpwire.Command{}, io.EOF},
		{"EOF mid line", "NOOP", smtpwire.Command{}, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := smtpwire.NewReader(strings.NewReader(tc.in), smtpwire.Limits{})
			got, err := r.ReadCommand()
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCommandsInOneSegment(t *testing.T) {
	t.Parallel()
	r := smtpwire.NewReader(strings.NewReader("STARTTLS\r\nRSET\r\n"), smtpwire.Limits{})
	c, err := r.ReadCommand()
	require.NoError(t, err)
	assert.Equal(t, "STARTTLS", c.Verb)
	assert.Equal(t, 6, r.Buffered(), "the pipelined RSET is visible before the upgrade")
	assert.Equal(t, 6, r.Discard())
	assert.Zero(t, r.Buffered())
}

func TestReadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		max  int64
		want string
		err  error
	}{
		{"simple", "Subject: x\r\n\r\nbody\r\n.\r\n", 0, "Subject: x\r\n\r\nbody\r\n", nil},
		{"empty", ".\r\n", 0, "", nil},
		{"dot stuffing", "..a\r\n...\r\n.\r\n", 0, ".a\r\n..\r\n", nil},
		{"bare LF dot does not end", "a\n.\nb\r\n.\r\n", 0, "", smtpwire.ErrBareLineEnding},
		{"bare CR", "a\rb\r\n.\r\n", 0, "", smtpwire.ErrBareLineEnding},
		{"too large", "0123456789\r\n0123456789\r\n.\r\n", 15, "", smtpwire.ErrMessageTooLarge},
		{"EOF", "abc\r\n", 0, "", io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := smtpwire.NewReader(strings.NewReader(tc.in+"NOOP\r\n"), smtpwire.Limits{})
			got, err := r.ReadData(tc.max)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				if errors.Is(tc.err, io.ErrUnexpectedEOF) {
					return
				}
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(got))
			}
			c, err := r.ReadCommand()
			require.NoError(t, err, "the reader stays in step after the data")
			assert.Equal(t, "NOOP", c.Verb)
		})
	}
}

func TestParseEHLO(t *testing.T) {
	t.Parallel()
	r := smtpsec.Reply{Code: 250, Text: "mx.example.test greets you\nPIPELINING\nsize 1000\nAUTH=PLAIN LOGIN\nAUTH CRAM-MD5\n-BAD\nBAD_KW\n\nSTARTTLS"}
	domain, ext := smtpwire.ParseEHLO(r)
	assert.Equal(t, "mx.example.test", domain)
	assert.Equal(t, []smtpwire.Extension{
		{Keyword: "PIPELINING"},
		{Keyword: "SIZE", Params: "1000"},
		{Keyword: "AUTH", Params: "PLAIN LOGIN"},
		{Keyword: "STARTTLS"},
	}, ext)
	d, ext := smtpwire.ParseEHLO(smtpsec.Reply{Code: 250, Text: "mx.example.test"})
	assert.Equal(t, "mx.example.test", d)
	assert.Empty(t, ext)
}

func TestEHLOReplyRoundTrip(t *testing.T) {
	t.Parallel()
	r := smtpwire.EHLOReply("mx.example.test", "hello", []string{"PIPELINING", "SIZE 100", "STARTTLS"})
	assert.Equal(t, "250-mx.example.test hello\r\n250-PIPELINING\r\n250-SIZE 100\r\n250 STARTTLS\r\n", r.String())
	got, err := smtpwire.NewReader(strings.NewReader(r.String()), smtpwire.Limits{}).ReadReply()
	require.NoError(t, err)
	_, ext := smtpwire.ParseEHLO(got)
	assert.Len(t, ext, 3)
}

func TestValidateCommand(t *testing.T) {
	t.Parallel()
	assert.NoError(t, smtpwire.ValidateCommand("MAIL FROM:<a@example.test>"))
	for _, bad := range []string{"MAIL FROM:<a>\r\nRCPT TO:<b>", "a\nb", "a\x00"} {
		assert.ErrorIs(t, smtpwire.ValidateCommand(bad), smtpwire.ErrSyntax, bad)
	}
	assert.Equal(t, "NOOP\r\n", string(smtpwire.AppendCommand(nil, "NOOP")))
}

func TestKeyword(t *testing.T) {
	t.Parallel()
	assert.True(t, smtpwire.ValidKeyword("X-FOO1"))
	assert.False(t, smtpwire.ValidKeyword("-X"))
	assert.False(t, smtpwire.ValidKeyword("A B"))
	assert.False(t, smtpwire.ValidKeyword(""))
}

func BenchmarkReadReplyEHLO(b *testing.B) {
	in := []byte("250-mx.example.test greets client\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n")
	br := bytes.NewReader(in)
	r := smtpwire.NewReader(br, smtpwire.Limits{})
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(in)
		r.Reset(br)
		rep, err := r.ReadReply()
		if err != nil {
			b.Fatal(err)
		}
		smtpwire.ParseEHLO(rep)
	}
}
