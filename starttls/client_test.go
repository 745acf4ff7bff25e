package starttls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/starttls"
)

const (
	ehloWithTLS = "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1\r\n250-REQUIRETLS\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n"
	ehloNoTLS   = "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
	ehloInTLS   = "250-mx.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
	ready       = "220 2.0.0 Ready to start TLS\r\n"
)

// mx scripts a server: greeting, EHLO, STARTTLS, then TLS, then 250 to
// everything until QUIT. Zero fields take the defaults above.
type mx struct {
	greeting string
	ehlo     string
	starttls string
	inject   string // written with the 220, in the same write
	later    string // written 50 ms after the 220, in a write of its own
	cfg      *tls.Config
	post     string
	sni      *atomic.Value // receives the SNI the client sent
	executed *atomic.Int32 // counts commands answered after TLS
}

func (m mx) run(p *peer) {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	p.send(or(m.greeting, "220 mx.example.test ESMTP\r\n"))
	if !strings.HasPrefix(p.line(), "EHLO ") {
		return
	}
	p.send(or(m.ehlo, ehloWithTLS))
	l := p.line()
	if l != "STARTTLS" {
		plaintextLoop(p, l)
		return
	}
	reply := or(m.starttls, ready)
	p.send(reply + m.inject)
	if !strings.HasPrefix(reply, "220") {
		plaintextLoop(p, p.line())
		return
	}
	if m.later != "" {
		time.Sleep(50 * time.Millisecond)
		p.send(m.later)
	}
	cfg := m.cfg
	if m.sni != nil {
		cfg = cfg.Clone()
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			m.sni.Store(h.ServerName)
			return nil, nil
		}
	}
	tp := p.upgrade(cfg)
	if tp == nil {
		return
	}
	if !strings.HasPrefix(tp.line(), "EHLO ") {
		return
	}
	tp.send(or(m.post, ehloInTLS))
	for {
		switch l := tp.line(); l {
		case "", "QUIT":
			tp.send("221 2.0.0 Bye\r\n")
			return
		default:
			if m.executed != nil {
				m.executed.Add(1)
			}
			tp.send("250 2.0.0 OK\r\n")
		}
	}
}

func plaintextLoop(p *peer, l string) {
	for ; l != "" && l != "QUIT"; l = p.line() {
		if strings.HasPrefix(l, "HELO ") {
			p.send("250 mx.example.test\r\n")
			continue
		}
		p.send("250 2.0.0 plaintext OK\r\n")
	}
	p.send("221 2.0.0 Bye\r\n")
}

var client = &starttls.Client{Hostname: "client.example.test"}

func upgrade(t *testing.T, c *starttls.Client, addr string, p *starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.Upgrade(ctx, dial(t, addr), "mx.example.test", p)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// certResult is the failure a level must report for a server certificate
// whose PKIX result is pkix ("" when it verifies) and which the fingerprint
// and DANE tests pin or not: "" when the session must be established.
// Encrypt and May check nothing.
func certResult(level starttls.Level, pkix starttls.ResultType, pinned bool) starttls.ResultType {
	switch level {
	case starttls.Verify, starttls.MTASTS:
		return pkix
	case starttls.Fingerprint:
		if !pinned {
			return starttls.ResultCertificateNotTrusted
		}
	case starttls.DANE, starttls.DANEOnly:
		if !pinned {
			return starttls.ResultValidationFailure // the verifier's ResultType
		}
	}
	return ""
}

func requireError(t *testing.T, err error, kind error) *starttls.Error {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind)
	var e *starttls.Error
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Temporary(), "TLS failures are temporary")
	return e
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, lc := range allLevels(p) {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			var executed atomic.Int32
			addr := listen(t, mx{cfg: serverTLS(p.good), executed: &executed}.run)
			s, err := upgrade(t, client, addr, lc.policy)
			require.NoError(t, err)
			assertEstablished(t, s, lc, &executed)
		})
	}
}

// STRIPTLS: STARTTLS deleted from the EHLO reply.
func TestSTARTTLSStripped(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := listen(t, mx{ehlo: ehloNoTLS, cfg: serverTLS(p.good)}.run)
	for _, lc := range strictLevels(p) {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			_, err := upgrade(t, client, addr, lc.policy)
			e := requireError(t, err, starttls.ErrNotOffered)
			assert.Equal(t, starttls.ResultSTARTTLSNotSupported, e.Result)
			assert.False(t, e.RetryPlaintext)
		})
	}
	t.Run("may", func(t *testing.T) {
		t.Parallel()
		s, err := upgrade(t, client, addr, &starttls.Policy{Level: starttls.May})
		require.NoError(t, err)
		assert.False(t, s.Encrypted())
		assert.ErrorIs(t, s.PlaintextReason(), starttls.ErrNotOffered)
		assert.Equal(t, starttls.Unauthenticated, s.Authentication())
		assert.True(t, s.Extensions().Has("size"))
		r, err := s.Command(context.Background(), "NOOP")
		require.NoError(t, err)
		assert.Equal(t, "plaintext OK", r.Text)
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		s, err := upgrade(t, client, listen(t, mx{cfg: serverTLS(p.good)}.run), &starttls.Policy{Level: starttls.None})
		require.NoError(t, err)
		assert.False(t, s.Encrypted(), "level none never starts TLS, even when offered")
		assert.Nil(t, s.PlaintextReason())
	})
}

func TestSTARTTLSRefused(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, reply := range []string{"454 4.7.0 TLS not available due to local problem\r\n", "502 5.5.1 Command not implemented\r\n", "554 5.7.0 no\r\n"} {
		addr := listen(t, mx{starttls: reply, cfg: serverTLS(p.good)}.run)
		code := reply[:3]
		for _, lc := range strictLevels(p) {
			t.Run(code+"/"+lc.name, func(t *testing.T) {
				t.Parallel()
				_, err := upgrade(t, client, addr, lc.policy)
				e := requireError(t, err, starttls.ErrRefused)
				require.NotNil(t, e.Reply)
				assert.Equal(t, code, e.Reply.String()[:3])
				assert.Equal(t, starttls.ResultSTARTTLSNotSupported, e.Result)
			})
		}
		t.Run(code+"/may", func(t *testing.T) {
			t.Parallel()
			s, err := upgrade(t, client, addr, &starttls.Policy{Level: starttls.May})
			require.NoError(t, err)
			assert.False(t, s.Encrypted())
			assert.ErrorIs(t, s.PlaintextReason(), starttls.ErrRefused)
			r, err := s.Command(context.Background(), "NOOP")
			require.NoError(t, err)
			assert.Equal(t, "plaintext OK", r.Text)
		})
	}
}

// Response injection: plaintext after the 220, which a vulnerable client
// would read as replies from inside TLS.
func TestResponseInjection(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cases := []struct {
		name          string
		inject, later string
		kind, cause   error
	}{
		{"line same segment", "250-injected\r\n250 SIZE 1\r\n", "", starttls.ErrProtocol, starttls.ErrPlaintextInjection},
		{"fragment same segment", "250 inj", "", starttls.ErrProtocol, starttls.ErrPlaintextInjection},
		{"line later segment", "", "250 injected\r\n", starttls.ErrHandshake, nil},
		{"fragment later segment", "", "25", starttls.ErrHandshake, nil},
	}
	for _, tc := range cases {
		var executed atomic.Int32
		addr := listen(t, mx{inject: tc.inject, later: tc.later, cfg: serverTLS(p.good), executed: &executed}.run)
		for _, lc := range allLevels(p) {
			t.Run(tc.name+"/"+lc.name, func(t *testing.T) {
				t.Parallel()
				_, err := upgrade(t, client, addr, lc.policy)
				e := requireError(t, err, tc.kind)
				if tc.cause != nil {
					assert.ErrorIs(t, err, tc.cause)
				}
				assert.Equal(t, starttls.ResultValidationFailure, e.Result)
				assert.Equal(t, lc.policy.Level == starttls.May, e.RetryPlaintext, "only may asks for a plaintext retry")
				assert.Zero(t, executed.Load())
			})
		}
	}
}

// Capability injection: what the plaintext EHLO said is forgotten.
func TestPreTLSCapabilitiesDiscarded(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := listen(t, mx{cfg: serverTLS(p.good)}.run)
	for _, lc := range allLevels(p) {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			s, err := upgrade(t, client, addr, lc.policy)
			require.NoError(t, err)
			ext := s.Extensions()
			for _, kw := range []string{"SIZE", "REQUIRETLS", "SMTPUTF8", "STARTTLS"} {
				assert.False(t, ext.Has(kw), kw)
			}
			assert.True(t, ext.Has("8bitmime"))
			_, ok := ext.Params("SIZE")
			assert.False(t, ok)
		})
	}
}

func TestCertificates(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	certs := []struct {
		name string
		leaf func(*pki) *tls.Config
		// result under verify and mta-sts; fingerprint and dane fail with
		// their own errors unless the leaf is pinned.
		pkix   starttls.ResultType
		pinned bool
	}{
		{"untrusted", func(p *pki) *tls.Config { return serverTLS(p.untrusted) }, starttls.ResultCertificateNotTrusted, false},
		{"self-signed", func(p *pki) *tls.Config { return serverTLS(p.selfish) }, starttls.ResultCertificateNotTrusted, false},
		{"wrong name", func(p *pki) *tls.Config { return serverTLS(p.wrongName) }, starttls.ResultCertificateHostMismatch, false},
		{"expired", func(p *pki) *tls.Config { return serverTLS(p.expired) }, starttls.ResultCertificateExpired, true},
	}
	for _, cc := range certs {
		addr := listen(t, mx{cfg: cc.leaf(p)}.run)
		for _, lc := range allLevels(p) {
			t.Run(cc.name+"/"+lc.name, func(t *testing.T) {
				t.Parallel()
				s, err := upgrade(t, client, addr, lc.policy)
				want := certResult(lc.policy.Level, cc.pkix, cc.pinned)
				if want == "" {
					require.NoError(t, err)
					assert.Equal(t, lc.auth, s.Authentication())
					return
				}
				e := requireError(t, err, starttls.ErrCertificate)
				assert.Equal(t, want, e.Result)
				assert.False(t, e.RetryPlaintext)
				switch lc.policy.Level {
				case starttls.Fingerprint:
					assert.ErrorIs(t, err, starttls.ErrPinMismatch)
				case starttls.DANE, starttls.DANEOnly:
					assert.ErrorIs(t, err, errTLSAMismatch)
				}
			})
		}
	}
}

func TestSNI(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, lc := range allLevels(p) {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			var sni atomic.Value
			addr := listen(t, mx{cfg: serverTLS(p.good), sni: &sni}.run)
			_, err := upgrade(t, client, addr, lc.policy)
			require.NoError(t, err)
			assert.Equal(t, "mx.example.test", sni.Load())
		})
	}
	t.Run("override", func(t *testing.T) {
		t.Parallel()
		var sni atomic.Value
		addr := listen(t, mx{cfg: serverTLS(p.good), sni: &sni}.run)
		_, err := upgrade(t, client, addr, &starttls.Policy{Level: starttls.DANE, SNI: "tlsa-base.example.test", Verifier: daneEE(p.good)})
		require.NoError(t, err)
		assert.Equal(t, "tlsa-base.example.test", sni.Load())
	})
}

func TestOldTLSVersions(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		cfg := serverTLS(p.good)
		cfg.MinVersion, cfg.MaxVersion = v, v
		addr := listen(t, mx{cfg: cfg}.run)
		for _, lc := range allLevels(p) {
			t.Run(tls.VersionName(v)+"/"+lc.name, func(t *testing.T) {
				t.Parallel()
				_, err := upgrade(t, client, addr, lc.policy)
				e := requireError(t, err, starttls.ErrHandshake)
				assert.Equal(t, starttls.ResultValidationFailure, e.Result)
				assert.Equal(t, lc.policy.Level == starttls.May, e.RetryPlaintext)
			})
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	fast := &starttls.Client{GreetingTimeout: 300 * time.Millisecond, CommandTimeout: 1500 * time.Millisecond, HandshakeTimeout: 300 * time.Millisecond}
	hold := func(p *peer) {
		_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, p.br)
	}
	cases := []struct {
		name   string
		script func(*peer)
		kind   error
		max    time.Duration
	}{
		{"stalled greeting", hold, starttls.ErrConnection, 2 * time.Second},
		{"drip", func(p *peer) {
			// One byte a second (sped up tenfold): the reply would take 10 s.
			for _, b := range []byte("220 " + strings.Repeat("x", 95) + "\r\n") {
				if _, err := p.c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, starttls.ErrConnection, 3 * time.Second},
		{"stalled handshake", func(pp *peer) {
			pp.send("220 mx.example.test ESMTP\r\n")
			pp.line()
			pp.send(ehloWithTLS)
			pp.line()
			pp.send(ready)
			hold(pp)
		}, starttls.ErrHandshake, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := listen(t, tc.script)
			start := time.Now()
			c := *fast
			if tc.name == "drip" {
				c.GreetingTimeout = 1500 * time.Millisecond
			}
			_, err := upgrade(t, &c, addr, &starttls.Policy{RootCAs: p.ca.Pool()})
			requireError(t, err, tc.kind)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			assert.Less(t, time.Since(start), tc.max)
		})
	}
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		addr := listen(t, hold)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := (&starttls.Client{}).Upgrade(ctx, dial(t, addr), "mx.example.test", nil)
		requireError(t, err, starttls.ErrConnection)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		addr := listen(t, hold)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := (&starttls.Client{}).Upgrade(ctx, dial(t, addr), "mx.example.test", nil)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

var megabyte = []byte(strings.Repeat("a", 1<<20))

var manyLines = []byte(strings.Repeat("250-X-EXTENSION-LINE\r\n", 10000) + "250 STARTTLS\r\n")

// A 64 MiB reply line and a 10,000-line reply fail early, in little memory.
// Not parallel, so that the allocation count is this test's own.
func TestHugeReplies(t *testing.T) {
	cases := []struct {
		name   string
		script func(*peer)
		cause  error
	}{
		{"64 MiB greeting line", func(p *peer) {
			p.send("220 ")
			for i := 0; i < 64; i++ {
				if _, err := p.c.Write(megabyte); err != nil {
					return
				}
			}
		}, smtpwire.ErrLineTooLong},
		{"10000-line EHLO", func(p *peer) {
			p.send("220 mx.example.test\r\n")
			p.line()
			_, _ = p.c.Write(manyLines)
		}, smtpwire.ErrTooManyLines},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := listen(t, tc.script)
			conn := dial(t, addr)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := client.Upgrade(context.Background(), conn, "mx.example.test", nil)
			runtime.ReadMemStats(&after)
			e := requireError(t, err, starttls.ErrProtocol)
			assert.ErrorIs(t, err, tc.cause)
			assert.Equal(t, starttls.ResultValidationFailure, e.Result)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated while reading the reply")
		})
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, greeting, ehlo string
		cause                error
	}{
		{"code changes in greeting", "220-mx.example.test\r\n250 ESMTP\r\n", "", smtpwire.ErrSyntax},
		{"no separator", "220mx.example.test\r\n", "", smtpwire.ErrSyntax},
		{"bare LF", "220 mx.example.test\n", "", smtpwire.ErrBareLineEnding},
		{"EHLO code changes", "", "250-mx.example.test\r\n251-PIPELINING\r\n250 STARTTLS\r\n", smtpwire.ErrSyntax},
		{"EHLO garbage line", "", "250-mx.example.test\r\nSTARTTLS\r\n250 OK\r\n", smtpwire.ErrSyntax},
		{"EHLO escape", "", "250-mx.example.test\r\n250-\x1b[2J\r\n250 STARTTLS\r\n", smtpwire.ErrSyntax},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := listen(t, mx{greeting: tc.greeting, ehlo: tc.ehlo}.run)
			for _, pol := range []*starttls.Policy{nil, {Level: starttls.May}} {
				_, err := upgrade(t, client, addr, pol)
				requireError(t, err, starttls.ErrProtocol)
				assert.ErrorIs(t, err, tc.cause)
			}
		})
	}
}

func TestRejected(t *testing.T) {
	t.Parallel()
	addr := listen(t, mx{greeting: "554 5.7.1 go away\r\n"}.run)
	_, err := upgrade(t, client, addr, nil)
	require.ErrorIs(t, err, starttls.ErrRejected)
	var e *starttls.Error
	require.ErrorAs(t, err, &e)
	assert.False(t, e.Temporary(), "a 554 greeting is the server's permanent answer")
	assert.Empty(t, e.Result, "not a TLS failure")

	addr = listen(t, mx{greeting: "421 4.3.2 busy\r\n"}.run)
	_, err = upgrade(t, client, addr, nil)
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Temporary())
}

func TestEHLORefused(t *testing.T) {
	t.Parallel()
	addr := listen(t, mx{ehlo: "502 5.5.1 EHLO not implemented\r\n"}.run)
	_, err := upgrade(t, client, addr, nil)
	requireError(t, err, starttls.ErrNotOffered)
	s, err := upgrade(t, client, addr, &starttls.Policy{Level: starttls.May})
	require.NoError(t, err)
	assert.False(t, s.Encrypted())
	assert.ErrorIs(t, s.PlaintextReason(), starttls.ErrNotOffered)
	assert.Equal(t, "mx.example.test", s.Extensions().Domain())
	assert.Empty(t, s.Extensions().Keywords())
}

func TestInvalidPolicy(t *testing.T) {
	t.Parallel()
	addr := listen(t, func(p *peer) {
		_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := p.br.ReadByte(); err == nil {
			t.Errorf("sent %q under an invalid policy", b)
		}
	})
	for name, pol := range map[string]*starttls.Policy{
		"verify without name":      {},
		"fingerprint without pins": {Level: starttls.Fingerprint},
		"dane without verifier":    {Level: starttls.DANE},
		"dane-only no verifier":    {Level: starttls.DANEOnly},
		"unknown level":            {Level: starttls.Level(99)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn := dial(t, addr)
			_, err := client.Upgrade(context.Background(), conn, "", pol)
			require.ErrorIs(t, err, starttls.ErrPolicy)
		})
	}
}

func TestSessionCommands(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := listen(t, mx{cfg: serverTLS(p.good)}.run)
	s, err := upgrade(t, client, addr, &starttls.Policy{RootCAs: p.ca.Pool()})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.Command(ctx, "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>")
	require.ErrorIs(t, err, smtpwire.ErrSyntax, "CRLF in a command is refused unsent")
	require.NoError(t, s.WriteCommand(ctx, "MAIL FROM:<a@example.test>"))
	require.NoError(t, s.WriteCommand(ctx, "RCPT TO:<b@example.test>"))
	for i := 0; i < 2; i++ {
		r, err := s.ReadReply(ctx)
		require.NoError(t, err)
		assert.Equal(t, 250, r.Code)
	}
	_, err = s.Data(ctx, []byte("bare\nLF\r\n"))
	require.ErrorIs(t, err, smtpwire.ErrBareLineEnding)
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	err := &starttls.Error{Kind: starttls.ErrRefused, Err: errors.New("x")}
	assert.Equal(t, "starttls: STARTTLS refused: x", err.Error())
}

func TestEHLORejectedInsideTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := listen(t, mx{cfg: serverTLS(p.good), post: "421 4.7.0 not now\r\n"}.run)
	for _, lc := range allLevels(p) {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			_, err := upgrade(t, client, addr, lc.policy)
			require.ErrorIs(t, err, starttls.ErrRejected)
			var e *starttls.Error
			require.ErrorAs(t, err, &e)
			assert.True(t, e.Temporary())
			assert.Equal(t, lc.policy.Level == starttls.May, e.RetryPlaintext)
		})
	}
}
