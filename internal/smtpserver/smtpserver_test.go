package smtpserver_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/starttls"
)

// replay runs a transcript against a receiver over TCP. Lines starting
// "C: " are sent (each with CRLF, all of a run of C: lines in one write);
// "S: " lines are the expected reply lines, compared as prefixes.
func replay(t *testing.T, cfg *smtpserver.Config, transcript string) {
	t.Helper()
	addr := smtpserver.Start(t, cfg)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(conn)
	var out strings.Builder
	flush := func() {
		if out.Len() > 0 {
			_, err := conn.Write([]byte(out.String()))
			require.NoError(t, err)
			out.Reset()
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(transcript), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "C: "):
			out.WriteString(strings.ReplaceAll(l[3:], `\x00`, "\x00") + "\r\n")
		case strings.HasPrefix(l, "C+ "): // no CRLF added
			out.WriteString(strings.NewReplacer(`\r`, "\r", `\n`, "\n").Replace(l[3:]))
		case strings.HasPrefix(l, "S: "):
			flush()
			got, err := br.ReadString('\n')
			require.NoError(t, err, "waiting for %q", l[3:])
			assert.True(t, strings.HasPrefix(got, l[3:]), "got %q, want %q", got, l[3:])
		case l == "CLOSED":
			flush()
			rest, _ := br.ReadString('\n')
			assert.Empty(t, rest, "connection should be closed")
		}
	}
}

func TestTranscripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, transcript string
		cfg              smtpserver.Config
	}{
		{"delivery", `
			S: 220 mx.example.test ESMTP
			C: EHLO client.example.test
			S: 250-mx.example.test greets client.example.test
			S: 250-PIPELINING
			S: 250-8BITMIME
			S: 250-ENHANCEDSTATUSCODES
			S: 250 SIZE 1000
			C: MAIL FROM:<a@example.test> SIZE=10
			C: RCPT TO:<b@example.test>
			C: DATA
			S: 250 2.1.0 OK
			S: 250 2.1.5 OK
			S: 354
			C: Subject: x
			C:
			C: ..dot
			C: .
			S: 250 2.0.0 OK: queued
			C: QUIT
			S: 221 2.0.0 Bye
			CLOSED`, smtpserver.Config{Hostname: "mx.example.test", MaxMessageSize: 1000}},
		{"sequence errors", `
			S: 220
			C: MAIL FROM:<a@example.test>
			S: 503 5.5.1 Send EHLO first
			C: HELO client.example.test
			S: 250 localhost
			C: RCPT TO:<b@example.test>
			S: 503 5.5.1 Need MAIL command
			C: DATA
			S: 503 5.5.1 Need RCPT command
			C: MAIL FROM:<a@example.test>
			S: 250
			C: MAIL FROM:<a@example.test>
			S: 503 5.5.1 Nested MAIL command
			C: RSET
			S: 250 2.0.0 OK
			C: RCPT TO:<b@example.test>
			S: 503`, smtpserver.Config{}},
		{"syntax errors", `
			S: 220
			C: EHLO
			S: 501 5.5.2 Syntax: EHLO hostname
			C: EHLO a b
			S: 501
			C: EHLO client.example.test
			S: 250-localhost
			S: 250-PIPELINING
			S: 250-8BITMIME
			S: 250-ENHANCEDSTATUSCODES
			S: 250 SIZE
			C: MAIL FROM:a@example.test
			S: 501 5.5.2 Syntax error in command
			C: MAIL FROM:<a@example.test> SIZE=1 SIZE=2
			S: 501 5.5.4 Duplicate parameter SIZE
			C: MAIL FROM:<a@example.test> -X=1
			S: 501 5.5.4 Syntax error in parameters
			C: MAIL FROM:<a@example.test> BODY=8BITMIME
			S: 250 2.1.0 OK
			C: RCPT TO:b@example.test
			S: 501 5.5.2 Syntax error in command
			C: RCPT TO:<b@example.test> NOTIFY=NEVER NOTIFY=NEVER
			S: 501 5.5.4 Duplicate parameter NOTIFY
			C: NO\x00OP
			S: 500 5.5.2 Syntax error
			C: 1234
			S: 500 5.5.2
			C: XYZZY
			S: 502 5.5.1 Command not implemented
			C: STARTTLS
			S: 454 4.7.0 TLS not available
			C: NOOP
			S: 250 2.0.0 OK`, smtpserver.Config{}},
		{"bare LF in data", `
			S: 220
			C: EHLO client.example.test
			S: 250-
			S: 250-
			S: 250-
			S: 250-
			S: 250 
			C: MAIL FROM:<a@example.test>
			C: RCPT TO:<b@example.test>
			C: DATA
			S: 250
			S: 250
			S: 354
			C+ smuggled\n.\nMAIL FROM:<evil@example.test>\r\n.\r\n
			S: 550 5.5.2 Bare CR or LF
			C: RCPT TO:<b@example.test>
			S: 503`, smtpserver.Config{}},
		{"too large", `
			S: 220
			C: HELO client.example.test
			S: 250
			C: MAIL FROM:<a@example.test>
			S: 250
			C: RCPT TO:<b@example.test>
			S: 250
			C: DATA
			S: 354
			C: 0123456789012345678901234567890123456789
			C: .
			S: 552 5.3.4 Message too large
			C: NOOP
			S: 250`, smtpserver.Config{MaxMessageSize: 20}},
		{"too many recipients", `
			S: 220
			C: HELO client.example.test
			C: MAIL FROM:<a@example.test>
			C: RCPT TO:<b@example.test>
			C: RCPT TO:<c@example.test>
			C: RCPT TO:<d@example.test>
			S: 250
			S: 250
			S: 250
			S: 250
			S: 452 4.5.3 Too many recipients`, smtpserver.Config{MaxRecipients: 2}},
		{"line too long", `
			S: 220
			C: NOOP ` + strings.Repeat("a", 3000) + `
			S: 500 5.5.2 Line too long
			CLOSED`, smtpserver.Config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			replay(t, &cfg, tc.transcript)
		})
	}
}

func TestHooks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var log []string
	var msgs []*smtpserver.Message
	cfg2 := &smtpserver.Config{
		Keywords: func(bool) []string { return []string{"X-TEST", "STARTTLS"} },
		Mail: func(_ context.Context, s *smtpserver.Session, cmd *esmtp.Command) *smtpsec.ReplyError {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, "mail "+s.Helo+" "+cmd.Path)
			if cmd.Path == "reject@example.test" {
				return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 1}, Text: "no"}}
			}
			return nil
		},
		Rcpt: func(_ context.Context, s *smtpserver.Session, cmd *esmtp.Command) *smtpsec.ReplyError {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, "rcpt "+s.Mail.Path+" "+cmd.Path)
			return nil
		},
		Deliver: func(_ context.Context, m *smtpserver.Message) *smtpsec.ReplyError {
			mu.Lock()
			defer mu.Unlock()
			msgs = append(msgs, m)
			return &smtpsec.ReplyError{Reply: smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 3, Detail: 0}, Text: "try later"}}
		},
	}
	replay(t, cfg2, `
		S: 220
		C: EHLO client.example.test
		S: 250-
		S: 250-
		S: 250-
		S: 250-
		S: 250-SIZE
		S: 250 X-TEST
		C: MAIL FROM:<reject@example.test>
		S: 550 5.7.1 no
		C: MAIL FROM:<a@example.test>
		C: RCPT TO:<b@example.test>
		C: DATA
		S: 250
		S: 250
		S: 354
		C: hi
		C: .
		S: 451 4.3.0 try later`)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"mail client.example.test reject@example.test", "mail client.example.test a@example.test", "rcpt a@example.test b@example.test"}, log)
	require.Len(t, msgs, 1)
	assert.Equal(t, "hi\r\n", string(msgs[0].Data))
	assert.Nil(t, msgs[0].TLS)
	assert.True(t, msgs[0].ESMTP)
}

func TestServeStops(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&smtpserver.Config{}).Serve(ctx, ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel with a session open")
	}
}

// line returns "verb:<aaa@example.test>" padded so that it is n octets long
// with its CRLF.
func line(verb string, n int) string {
	prefix, suffix := verb+":<", "@example.test>"
	return prefix + strings.Repeat("a", n-2-len(prefix)-len(suffix)) + suffix
}

// MAIL FROM lines are bounded by esmtp.MailLineLimit for the extensions the
// last EHLO advertised (RFC 5321 §4.5.3.1.4 plus RFC 1870 and RFC 8689
// raises), RCPT TO by RFC 5321's 512; an over-long line gets the esmtp
// error's own 500 5.5.2 and the session goes on.
func TestMailLineLimit(t *testing.T) {
	t.Parallel()
	requireTLS := func(bool) []string { return []string{"REQUIRETLS"} }
	tests := []struct {
		name  string
		hello string
		lines int // of the reply to hello
		limit int
		cfg   smtpserver.Config
	}{
		{"HELO: RFC 5321 only", "HELO client.example.test", 1, 512, smtpserver.Config{}},
		{"EHLO with SIZE", "EHLO client.example.test", 5, 512 + 26, smtpserver.Config{}},
		{"EHLO with SIZE and REQUIRETLS", "EHLO client.example.test", 6, 512 + 26 + 11, smtpserver.Config{Keywords: requireTLS}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			replay(t, &cfg, `
				S: 220
				C: `+tc.hello+strings.Repeat("\nS: 250", tc.lines)+`
				C: `+line("MAIL FROM", tc.limit+1)+`
				S: 500 5.5.2 Line too long
				C: `+line("MAIL FROM", tc.limit)+`
				S: 250 2.1.0 OK
				C: `+line("RCPT TO", 513)+`
				S: 500 5.5.2 Line too long
				C: `+line("RCPT TO", 512)+`
				S: 250 2.1.5 OK
				C: QUIT
				S: 221`)
		})
	}
}

// ImplicitTLS without a certificate closes every connection unanswered.
func TestImplicitTLSWithoutCertificate(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 1)
	addr := smtpserver.Start(t, &smtpserver.Config{ImplicitTLS: true, OnHandshakeError: func(err error) { errs <- err }})
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	b, _ := io.ReadAll(conn)
	assert.Empty(t, b, "no plaintext greeting")
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, starttls.ErrServerNoCertificate)
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake error reported")
	}
}
