package requiretls

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/smtpwire"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commandLog records the command lines a server or proxy received.
type commandLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *commandLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *commandLog) mail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.Contains(strings.ToUpper(s), "MAIL FROM") {
			out = append(out, s)
		}
	}
	return out
}

// receiver starts our receiver with the requiretls checks plugged in, on
// 127.0.0.1, and returns its address and the log of commands with the TLS
// state they arrived in.
type receiverOpts struct {
	noTLS          bool // offer no STARTTLS
	noKeyword      bool // never advertise REQUIRETLS
	plainKeyword   bool // advertise REQUIRETLS in plaintext too (a broken server)
	acceptAnywhere bool // skip the receiver check (a broken server)
}

func startReceiver(t *testing.T, leaf *testcert.Leaf, o receiverOpts) (string, *commandLog) {
	t.Helper()
	log := &commandLog{}
	cfg := &smtpserver.Config{
		Hostname: "mx.example.test",
		Keywords: func(tlsActive bool) []string {
			switch {
			case o.noKeyword:
				return nil
			case o.plainKeyword || (ServerSession{TLS: tlsActive}).Advertise():
				return []string{Keyword}
			}
			return nil
		},
		OnCommand: func(cmd smtpwire.Command, tlsActive bool) {
			state := "plain: "
			if tlsActive {
				state = "tls: "
			}
			log.add(strings.TrimSpace(state + cmd.Verb + " " + cmd.Arg))
		},
		Mail: func(_ context.Context, s *smtpserver.Session, cmd *esmtp.Command) *smtpsec.ReplyError {
			if o.acceptAnywhere {
				return nil
			}
			_, err := ServerSession{TLS: s.TLS != nil}.CheckParams(cmd.Params)
			var re *smtpsec.ReplyError
			if errors.As(err, &re) {
				return re
			}
			return nil
		},
	}
	if !o.noTLS {
		cfg.TLS = &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}}
	}
	return smtpserver.Start(t, cfg), log
}

// stripTLSProxy is a man in the middle on 127.0.0.1: it relays to upstream,
// removes STARTTLS from EHLO replies and advertises REQUIRETLS in its place.
func stripTLSProxy(t *testing.T, upstream string) (string, *commandLog) {
	t.Helper()
	log := &commandLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	starttlsLine := regexp.MustCompile(`(?i)^(250[- ])STARTTLS\r?\n$`)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.DialTimeout("tcp", upstream, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			deadline := time.Now().Add(30 * time.Second)
			c.SetDeadline(deadline)
			u.SetDeadline(deadline)
			wg.Add(2)
			go func() { // server -> client, rewriting EHLO replies
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(u)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if m := starttlsLine.FindStringSubmatch(line); m != nil {
						line = m[1] + Keyword + "\r\n"
					}
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
			go func() { // client -> server, logged
				defer wg.Done()
				defer u.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					log.add(strings.TrimRight(line, "\r\n"))
					if _, err := io.WriteString(u, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), log
}

func dialUpgrade(t *testing.T, addr string, p *starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	c := &starttls.Client{Hostname: "client.example.test", CommandTimeout: 10 * time.Second, GreetingTimeout: 10 * time.Second}
	s, err := c.Upgrade(ctx, conn, "mx.example.test", p)
	if s != nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// daneVerifier accepts the certificate whose public key hashes to pin, as a
// DANE-EE "3 1 1" record would (the dane package builds the real one).
func daneVerifier(pin [32]byte) starttls.Verifier {
	return starttls.VerifierFunc(func(cs tls.ConnectionState) (starttls.Authentication, error) {
		if len(cs.PeerCertificates) == 0 || sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo) != pin {
			return starttls.Unauthenticated, errors.New("no TLSA record matches")
		}
		return starttls.AuthDANEEE, nil
	})
}

func TestMailOverSessions(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	mtasts := &starttls.Policy{Level: starttls.MTASTS, Names: []string{"mx.example.test"}, RootCAs: ca.Pool()}
	verify := &starttls.Policy{Level: starttls.Verify, RootCAs: ca.Pool()}
	dane := &starttls.Policy{Level: starttls.DANE, Verifier: daneVerifier(leaf.SPKISHA256())}
	may := &starttls.Policy{Level: starttls.May}

	tests := []struct {
		name     string
		server   receiverOpts
		policy   *starttls.Policy
		mx       MXAuth
		tag      Tag
		wantMail string // the MAIL line the server must see; "" for none
		wantCode string // enhanced code of the refusal, when refused
	}{
		{name: "mta-sts pkix, keyword", policy: mtasts, mx: MXMTASTS, tag: TagRequireTLS,
			wantMail: "tls: MAIL FROM:<alice@example.test> REQUIRETLS"},
		{name: "dane-ee, dnssec mx, keyword", policy: dane, mx: MXDNSSEC, tag: TagRequireTLS,
			wantMail: "tls: MAIL FROM:<alice@example.test> REQUIRETLS"},
		{name: "pkix without mta-sts", policy: verify, mx: MXDNSSEC, tag: TagRequireTLS, wantCode: "7.10"},
		{name: "dane-ee, insecure mx", policy: dane, mx: MXUnauthenticated, tag: TagRequireTLS, wantCode: "7.10"},
		{name: "opportunistic tls", policy: may, mx: MXDNSSEC, tag: TagRequireTLS, wantCode: "7.10"},
		{name: "no keyword after tls", server: receiverOpts{noKeyword: true}, policy: mtasts, mx: MXMTASTS,
			tag: TagRequireTLS, wantCode: "7.30"},
		{name: "keyword only in plaintext, no STARTTLS", server: receiverOpts{noTLS: true, plainKeyword: true, acceptAnywhere: true},
			policy: may, mx: MXDNSSEC, tag: TagRequireTLS, wantCode: "7.10"},
		{name: "untagged message on the same plaintext session", server: receiverOpts{noTLS: true, plainKeyword: true, acceptAnywhere: true},
			policy: may, mx: MXDNSSEC, tag: TagNone, wantMail: "plain: MAIL FROM:<alice@example.test>"},
		{name: "TLS-Required No under a relaxed policy", server: receiverOpts{noTLS: true}, policy: Relax(mtasts),
			mx: MXUnauthenticated, tag: TagTLSRequiredNo, wantMail: "plain: MAIL FROM:<alice@example.test>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, log := startReceiver(t, leaf, tt.server)
			s, err := dialUpgrade(t, addr, tt.policy)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, r, err := Mail(ctx, s, MailInput{Tag: tt.tag, MX: tt.mx, ReversePath: "alice@example.test"})
			if tt.wantCode != "" {
				require.ErrorIs(t, err, ErrRefused)
				var re *smtpsec.ReplyError
				require.True(t, errors.As(err, &re))
				assert.Equal(t, tt.wantCode, re.Enhanced.String())
				assert.Equal(t, tt.wantCode, d.Reply().Enhanced.String())
				require.NoError(t, s.Quit(ctx))
				assert.Empty(t, log.mail(), "no MAIL command may reach the server")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 250, r.Code, "server reply %v", r)
			require.NoError(t, s.Quit(ctx))
			assert.Equal(t, []string{tt.wantMail}, log.mail())
		})
	}
}

// A man in the middle strips STARTTLS and advertises REQUIRETLS in
// plaintext. A strict policy never reaches MAIL; an opportunistic one gets a
// plaintext session, and the gate refuses to send the REQUIRETLS message on
// it: no MAIL FROM ... REQUIRETLS ever crosses the wire.
func TestStripTLSManInTheMiddle(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test")
	upstream, serverLog := startReceiver(t, leaf, receiverOpts{})
	mitm, wireLog := stripTLSProxy(t, upstream)

	t.Run("strict policy", func(t *testing.T) {
		_, err := dialUpgrade(t, mitm, &starttls.Policy{Level: starttls.MTASTS, Names: []string{"mx.example.test"}, RootCAs: ca.Pool()})
		require.ErrorIs(t, err, starttls.ErrNotOffered)
	})
	t.Run("opportunistic policy", func(t *testing.T) {
		s, err := dialUpgrade(t, mitm, &starttls.Policy{Level: starttls.May})
		require.NoError(t, err)
		require.False(t, s.Encrypted())
		require.True(t, s.Extensions().Has(Keyword), "the attacker's keyword is visible")
		assert.False(t, HopOf(s, MXDNSSEC).RequireTLS, "but does not count outside TLS")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, _, err := Mail(ctx, s, MailInput{Tag: TagRequireTLS, MX: MXDNSSEC, ReversePath: "alice@example.test"})
		require.ErrorIs(t, err, ErrRefused)
		assert.Equal(t, FailNoTLS, d.Failure())
		line, err := d.MailFrom("alice@example.test", nil)
		assert.Error(t, err)
		assert.Empty(t, line)
		require.NoError(t, s.Quit(ctx))
	})
	for _, l := range append(wireLog.mail(), serverLog.mail()...) {
		assert.NotContains(t, strings.ToUpper(l), Keyword)
	}
	assert.Empty(t, wireLog.mail())
}
