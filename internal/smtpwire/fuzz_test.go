package smtpwire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
)

// FuzzReadReply: whatever the input, ReadReply returns a well-formed reply
// or an error, within the limits; a reply it accepts survives a round trip
// through Reply.String.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.example.test ESMTP\r\n",
		"250-mx.example.test\r\n250-STARTTLS\r\n250 SIZE 10\r\n",
		"550-5.7.1 a\r\n550 5.7.1 b\r\n",
		"250-a\r\n251 b\r\n",
		"220 a\n",
		"220 2.0.0 Ready\r\n220 injected\r\n",
	} {
		f.Add([]byte(s))
	}
	lim := smtpwire.Limits{MaxLineLength: 128, MaxLines: 8, MaxReplyBytes: 512}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := smtpwire.NewReader(bytes.NewReader(in), lim)
		rep, err := r.ReadReply()
		if err != nil {
			return
		}
		if rep.Code < 200 || rep.Code > 559 {
			t.Fatalf("code %d out of range", rep.Code)
		}
		lines := strings.Count(rep.Text, "\n") + 1
		if lines > 8 {
			t.Fatalf("%d lines accepted", lines)
		}
		if strings.Contains(rep.Text, "\r") {
			t.Fatalf("CR in text %q", rep.Text)
		}
		again, err := smtpwire.NewReader(strings.NewReader(rep.String()), smtpwire.Limits{MaxLines: 1000, MaxReplyBytes: 1 << 20, MaxLineLength: 4096}).ReadReply()
		if err != nil {
			t.Fatalf("re-read of %q: %v", rep.String(), err)
		}
		if again.Code != rep.Code || again.Enhanced != rep.Enhanced {
			t.Fatalf("round trip changed %+v to %+v", rep, again)
		}
	})
}

// FuzzParseEHLO: keywords are valid, upper-case and unique.
func FuzzParseEHLO(f *testing.F) {
	for _, s := range []string{"mx.example.test\nSTARTTLS\nSIZE 10", "x\nAUTH=PLAIN\nauth LOGIN\n-x\n\n", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := smtpwire.NewReader(strings.NewReader(smtpReply(text)), smtpwire.Limits{}).ReadReply()
		if err != nil {
			return
		}
		_, ext := smtpwire.ParseEHLO(r)
		seen := map[string]bool{}
		for _, e := range ext {
			if !smtpwire.ValidKeyword(e.Keyword) || strings.ToUpper(e.Keyword) != e.Keyword {
				t.Fatalf("bad keyword %q", e.Keyword)
			}
			if seen[e.Keyword] {
				t.Fatalf("duplicate keyword %q", e.Keyword)
			}
			seen[e.Keyword] = true
		}
	})
}

func smtpReply(text string) string {
	lines := strings.Split(text, "\n")
	var b strings.Builder
	for i, l := range lines {
		b.WriteString("250")
		if i < len(lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// FuzzReadCommand: commands are consumed line by line; a parsed verb is
// upper-case letters, and no argument holds CR, LF or NUL.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{"EHLO a\r\nSTARTTLS\r\nRSET\r\n", "MAIL FROM:<a@example.test> SIZE=1\r\n", "NOOP\rRSET\r\n", "x\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := smtpwire.NewReader(bytes.NewReader(in), smtpwire.Limits{MaxLineLength: 64})
		for i := 0; i < 1000; i++ {
			c, err := r.ReadCommand()
			if err != nil {
				if errors.Is(err, smtpwire.ErrSyntax) {
					continue
				}
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, smtpwire.ErrLineTooLong) {
					return
				}
				t.Fatalf("unexpected error %v", err)
			}
			if c.Verb == "" || strings.ToUpper(c.Verb) != c.Verb || len(c.Verb) > 16 {
				t.Fatalf("bad verb %q", c.Verb)
			}
			if strings.ContainsAny(c.Arg, "\r\n\x00") {
				t.Fatalf("bad arg %q", c.Arg)
			}
		}
		t.Fatal("reader did not make progress")
	})
}

// FuzzReadData: the data reader never returns CR or LF outside CRLF pairs.
func FuzzReadData(f *testing.F) {
	f.Add([]byte("a\r\n..b\r\n.\r\n"))
	f.Add([]byte("a\n.\n.\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := smtpwire.NewReader(bytes.NewReader(in), smtpwire.Limits{MaxLineLength: 64}).ReadData(256)
		if err != nil {
			return
		}
		s := strings.ReplaceAll(string(msg), "\r\n", "")
		if strings.ContainsAny(s, "\r\n") {
			t.Fatalf("bare line ending in %q", msg)
		}
		if len(msg) > 256 {
			t.Fatalf("message of %d octets over the limit", len(msg))
		}
	})
}

// FuzzAppendReply: AppendReply writes exactly what Reply.String writes.
func FuzzAppendReply(f *testing.F) {
	f.Add(250, 0, 0, "mx.example.test\nPIPELINING\r\nSTARTTLS")
	f.Add(550, 7, 30, "REQUIRETLS support required")
	f.Add(99, 1, 2, "a\rb\x00c")
	f.Add(354, 1, 0, "")
	f.Add(250, 1, 0, "")
	f.Add(451, -1, 1000, "x\r\n")
	f.Fuzz(func(t *testing.T, code, subject, detail int, text string) {
		r := smtpsec.Reply{Code: code, Enhanced: smtpsec.EnhancedCode{Subject: subject, Detail: detail}, Text: text}
		if got, want := string(smtpwire.AppendReply(nil, r)), r.String(); got != want {
			t.Fatalf("AppendReply(%+v) = %q, String() = %q", r, got, want)
		}
	})
}
