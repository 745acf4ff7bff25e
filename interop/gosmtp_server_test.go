package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/forward"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
	"github.com/smtpsec/smtpsec/spf"
	"github.com/smtpsec/smtpsec/starttls"
)

// This file is an example of an SMTP server built on github.com/emersion/go-smtp
// that uses smtpsec for its security decisions:
//
//   - STARTTLS is required before MAIL (starttls.Server.Gate), which is right
//     for a submission or private relay port, not for a public MX;
//   - SPF is checked at MAIL FROM, and a Fail is rejected with 550 5.7.23 and
//     the domain's explanation (RFC 7208 §8.4, RFC 7372 §3.2);
//   - at DATA the sender verdict (DMARC with the SPF outcome) decides, and the
//     message gets an Authentication-Results field;
//   - mail to forwarded recipients leaves with an SRS envelope sender.

// exampleBackend is the go-smtp Backend: configuration shared by sessions.
type exampleBackend struct {
	gate    *starttls.Server
	spf     *spf.Checker
	sender  *sender.Checker
	srs     *forward.SRS
	aliases map[string]string // local recipient -> forwarding address

	mu        sync.Mutex
	delivered []exampleDelivery
}

// exampleDelivery is what the server did with one accepted message.
type exampleDelivery struct {
	MailFrom   string // the envelope sender to deliver or forward with
	Rcpt       string
	AuthResult string
	Data       []byte
}

func (b *exampleBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &exampleSession{b: b, c: c}, nil
}

// exampleSession holds one transaction's state.
type exampleSession struct {
	b     *exampleBackend
	c     *smtp.Conn
	from  string
	spf   *spf.Outcome
	rcpts []string
}

// smtpError adapts an smtpsec reply to go-smtp's error type.
func smtpError(r smtpsec.Reply) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.NoEnhancedCode, Message: r.Text}
	if !r.Enhanced.IsZero() {
		e.EnhancedCode = smtp.EnhancedCode{r.Class(), r.Enhanced.Subject, r.Enhanced.Detail}
	}
	return e
}

func (s *exampleSession) clientIP() netip.Addr {
	ap, err := netip.ParseAddrPort(s.c.Conn().RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (s *exampleSession) Mail(from string, _ *smtp.MailOptions) error {
	_, tlsActive := s.c.TLSConnectionState()
	if re := s.b.gate.Gate("MAIL", tlsActive); re != nil {
		return smtpError(re.Reply)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := s.b.spf.Check(ctx, spf.Input{IP: s.clientIP(), HELO: s.c.Hostname(), MailFrom: from})
	switch {
	case out.Result == spf.Fail:
		// RFC 7208 §8.4 and RFC 7372 §3.2.
		return smtpError(smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 23}, Text: out.Explanation})
	case out.Result == spf.TempError:
		// RFC 7208 §8.6 and RFC 7372 §3.2.
		return smtpError(smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 24}, Text: "SPF: " + err.Error()})
	}
	s.from, s.spf = from, &out
	return nil
}

func (s *exampleSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *exampleSession) Data(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	var from []string
	if err == nil {
		if addrs, err := msg.Header.AddressList("From"); err == nil {
			for _, a := range addrs {
				from = append(from, a.Address)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := s.b.sender.Check(ctx,
		sender.Session{ClientIP: s.clientIP(), HELO: s.c.Hostname(), MailFrom: s.from, Recipients: s.rcpts, SPF: s.spf},
		sender.Message{From: from})
	if err != nil {
		return smtpError(smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 0}, Text: "sender check failed"})
	}
	switch v.Disposition {
	case sender.DispositionReject:
		return smtpError(smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 1}, Text: "rejected by the DMARC policy of " + v.DMARC.Domain})
	case sender.DispositionTempFail:
		return smtpError(smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 0}, Text: "try again later"})
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rcpt := range s.rcpts {
		d := exampleDelivery{MailFrom: s.from, Rcpt: rcpt, AuthResult: v.AuthResults, Data: data}
		if fwd, ok := b.aliases[strings.ToLower(rcpt)]; ok {
			// The forwarded copy leaves with an SRS sender, so that the
			// next hop's SPF check asks about our domain.
			d.Rcpt = fwd
			if d.MailFrom, err = b.srs.Forward(s.from); err != nil && !errors.Is(err, forward.ErrAlreadyRewritten) {
				return smtpError(smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 3, Detail: 0}, Text: "cannot forward"})
			}
		}
		b.delivered = append(b.delivered, d)
	}
	return nil
}

func (s *exampleSession) Reset()        { s.from, s.spf, s.rcpts = "", nil, nil }
func (s *exampleSession) Logout() error { return nil }

func TestGoSMTPExampleServer(t *testing.T) {
	t.Parallel()
	// The client connects from 127.0.0.1, which example.com's SPF record
	// allows and forged.example's does not.
	z, err := resolver.ParseZone(strings.NewReader(`
example.com.          TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc.example.com.   TXT "v=DMARC1; p=reject"
forged.example.       TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.forged.example. TXT "v=DMARC1; p=reject"
`), ".")
	require.NoError(t, err)
	ca := testcert.NewCA(t)
	srs, err := forward.NewSRS(forward.Config{Domain: "fwd.example.org", Secrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}})
	require.NoError(t, err)
	be := &exampleBackend{
		gate:    &starttls.Server{Required: true},
		spf:     &spf.Checker{Resolver: z, ReceiverDomain: "mx.example.org"},
		sender:  &sender.Checker{AuthservID: "mx.example.org", Resolver: z, DisableIPRev: true, DisableHELOSPF: true},
		srs:     srs,
		aliases: map[string]string{"bob@example.org": "bob@elsewhere.example"},
	}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.example.org"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Leaf("mx.example.org").TLS}}
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ctx := context.Background()
	dial := func(t *testing.T, level starttls.Level) *starttls.Session {
		conn, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		s, err := (&starttls.Client{Hostname: "client.example.com"}).Upgrade(ctx, conn, "mx.example.org",
			&starttls.Policy{Level: level, RootCAs: ca.Pool()})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	send := func(t *testing.T, s *starttls.Session, from, rcpt, header string) smtpsec.Reply {
		r, err := s.Command(ctx, "MAIL FROM:<"+from+">")
		require.NoError(t, err)
		if r.Code != 250 {
			return r
		}
		r, err = s.Command(ctx, "RCPT TO:<"+rcpt+">")
		require.NoError(t, err)
		require.Equal(t, 250, r.Code, r.String())
		r, err = s.Data(ctx, []byte(header+"Subject: test\r\n\r\nhello\r\n"))
		require.NoError(t, err)
		return r
	}

	t.Run("plaintext MAIL refused", func(t *testing.T) {
		t.Parallel()
		s := dial(t, starttls.None)
		r, err := s.Command(ctx, "MAIL FROM:<alice@example.com>")
		require.NoError(t, err)
		assert.Equal(t, 530, r.Code, r.String())
		assert.Contains(t, r.Text, "Must issue a STARTTLS command first")
	})
	t.Run("SPF and DMARC pass, forwarded with SRS", func(t *testing.T) {
		t.Parallel()
		s := dial(t, starttls.Verify)
		r := send(t, s, "alice@example.com", "bob@example.org", "From: Alice <alice@example.com>\r\n")
		require.Equal(t, 250, r.Code, r.String())
		be.mu.Lock()
		defer be.mu.Unlock()
		var got *exampleDelivery
		for i := range be.delivered {
			if be.delivered[i].Rcpt == "bob@elsewhere.example" {
				got = &be.delivered[i]
			}
		}
		require.NotNil(t, got, "forwarded delivery recorded")
		assert.True(t, strings.HasPrefix(got.MailFrom, "SRS0="), got.MailFrom)
		assert.True(t, strings.HasSuffix(got.MailFrom, "@fwd.example.org"), got.MailFrom)
		back, err := srs.Reverse(got.MailFrom)
		require.NoError(t, err)
		assert.Equal(t, "alice@example.com", back)
		assert.Contains(t, got.AuthResult, "spf=pass smtp.mailfrom=alice@example.com")
		assert.Contains(t, got.AuthResult, "dmarc=pass")
	})
	t.Run("SPF fail rejected at MAIL", func(t *testing.T) {
		t.Parallel()
		s := dial(t, starttls.Verify)
		r := send(t, s, "mallory@forged.example", "carol@example.org", "")
		assert.Equal(t, 550, r.Code, r.String())
		assert.Equal(t, smtpsec.EnhancedCode{Subject: 7, Detail: 23}, r.Enhanced)
	})
	t.Run("DMARC reject at DATA", func(t *testing.T) {
		t.Parallel()
		// The envelope is ours (SPF passes for example.com), but the From
		// header claims forged.example, whose p=reject then applies.
		s := dial(t, starttls.Verify)
		r := send(t, s, "alice@example.com", "carol@example.org", "From: <ceo@forged.example>\r\n")
		assert.Equal(t, 550, r.Code, r.String())
		assert.Contains(t, r.Text, "DMARC policy of forged.example")
	})
}
