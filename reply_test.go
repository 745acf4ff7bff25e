package smtpsec

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReplyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply Reply
		want  string
	}{
		{"plain", Reply{Code: 250, Text: "OK"}, "250 OK\r\n"},
		{"enhanced", Reply{Code: 550, Enhanced: EnhancedCode{Subject: 7, Detail: 30}, Text: "REQUIRETLS support required"}, "550 5.7.30 REQUIRETLS support required\r\n"},
		{"class from code", Reply{Code: 451, Enhanced: EnhancedCode{Subject: 7, Detail: 1}, Text: "try later"}, "451 4.7.1 try later\r\n"},
		{"no text", Reply{Code: 354}, "354\r\n"},
		{"zero enhanced is none", Reply{Code: 250, Enhanced: EnhancedCode{Subject: 0, Detail: 0}}, "250\r\n"},
		{"X.0.0", Reply{Code: 250, Enhanced: Enhanced(0, 0), Text: "OK"}, "250 2.0.0 OK\r\n"},
		{"X.0.0 no text", Reply{Code: 221, Enhanced: Enhanced(0, 0)}, "221 2.0.0\r\n"},
		{"enhanced only", Reply{Code: 250, Enhanced: EnhancedCode{Subject: 1, Detail: 0}}, "250 2.1.0\r\n"},
		{"3xx has no enhanced code", Reply{Code: 354, Enhanced: EnhancedCode{Subject: 0, Detail: 0}, Text: "go ahead"}, "354 go ahead\r\n"},
		{"multi-line", Reply{Code: 250, Text: "mx.example.test\nPIPELINING\nSTARTTLS"}, "250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"},
		{"multi-line enhanced", Reply{Code: 550, Enhanced: EnhancedCode{Subject: 7, Detail: 23}, Text: "SPF fail\nsee https://example.test/why"}, "550-5.7.23 SPF fail\r\n550 5.7.23 see https://example.test/why\r\n"},
		{"CRLF injection", Reply{Code: 250, Text: "OK\r\n250 injected"}, "250-OK\r\n250 250 injected\r\n"},
		{"bare CR", Reply{Code: 250, Text: "a\rb"}, "250-a\r\n250 b\r\n"},
		{"control characters", Reply{Code: 250, Text: "a\x00b\x7fc\td"}, "250 a b c\td\r\n"},
		{"empty middle line", Reply{Code: 220, Text: "a\n\nb"}, "220-a\r\n220-\r\n220 b\r\n"},
		{"invalid code", Reply{Code: 99, Text: "x"}, "451 x\r\n"},
		{"UTF-8 kept", Reply{Code: 250, Text: "grüße"}, "250 grüße\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.reply.String())
		})
	}
}

func TestReplyClass(t *testing.T) {
	t.Parallel()
	assert.True(t, Reply{Code: 451}.Temporary())
	assert.False(t, Reply{Code: 451}.Permanent())
	assert.True(t, Reply{Code: 554}.Permanent())
	assert.False(t, Reply{Code: 250}.Temporary())
	assert.Equal(t, "7.30", EnhancedCode{Subject: 7, Detail: 30}.String())
	assert.Equal(t, "", EnhancedCode{}.String())
	assert.Equal(t, "0.0", Enhanced(0, 0).String())
	assert.True(t, EnhancedCode{}.IsZero())
	assert.False(t, Enhanced(0, 0).IsZero())
	assert.Equal(t, Enhanced(7, 30), EnhancedCode{Subject: 7, Detail: 30}, "one representation per code")
}

func TestReplyError(t *testing.T) {
	t.Parallel()
	cause := io.ErrUnexpectedEOF
	err := error(&ReplyError{Reply: Reply{Code: 454, Enhanced: EnhancedCode{Subject: 7, Detail: 0}, Text: "TLS not available\nnow"}, Err: cause})
	assert.Equal(t, "454 4.7.0 TLS not available now: unexpected EOF", err.Error())
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	var re *ReplyError
	assert.True(t, errors.As(err, &re))
	assert.True(t, re.Temporary())
	assert.Equal(t, "550 5.7.1", (&ReplyError{Reply: Reply{Code: 550, Enhanced: EnhancedCode{Subject: 7, Detail: 1}}}).Error())
}

func FuzzReplyString(f *testing.F) {
	f.Add(250, 0, 0, "OK")
	f.Add(550, 7, 30, "a\r\nb\rc\nd")
	f.Add(421, 4, 2, "\x00\r\r\n\n")
	f.Fuzz(func(t *testing.T, code, subject, detail int, text string) {
		r := Reply{Code: code, Enhanced: Enhanced(subject, detail), Text: text}
		s := r.String()
		if !strings.HasSuffix(s, "\r\n") {
			t.Fatalf("reply %q does not end in CRLF", s)
		}
		lines := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
		for i, l := range lines {
			// No raw CR or LF survives inside a line.
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("line %d %q holds a raw CR or LF", i, l)
			}
			if len(l) < 3 || l[:3] != lines[0][:3] {
				t.Fatalf("line %d %q does not start with the reply code", i, l)
			}
			// Only the last line is "code SP" or the bare code; the others are "code-".
			last := i == len(lines)-1
			if len(l) > 3 && (l[3] == '-') == last {
				t.Fatalf("line %d %q: wrong continuation mark", i, l)
			}
		}
		if len(lines) != strings.Count(strings.ReplaceAll(text, "\r\n", "\n"), "\n")+strings.Count(strings.ReplaceAll(text, "\r\n", "\n"), "\r")+1 {
			t.Fatalf("%d lines for text %q", len(lines), text)
		}
	})
}
