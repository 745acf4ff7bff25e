package dane_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/resolver/resolvertest"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

// smtpServer is a minimal SMTP server with STARTTLS on 127.0.0.1 that
// presents cert and records the SNI of each handshake.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	snis []string
}

func (s *smtpServer) sni() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.snis...)
}

func startSMTP(t *testing.T, cert tls.Certificate) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &smtpServer{addr: ln.Addr().String()}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			s.mu.Lock()
			s.snis = append(s.snis, hello.ServerName)
			s.mu.Unlock()
			return nil, nil
		},
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSMTP(c, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return s
}

func serveSMTP(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	_, _ = c.Write([]byte("220 mx.secure.test ESMTP\r\n"))
	inTLS := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			if inTLS {
				_, _ = c.Write([]byte("250-mx.secure.test\r\n250 PIPELINING\r\n"))
			} else {
				_, _ = c.Write([]byte("250-mx.secure.test\r\n250 STARTTLS\r\n"))
			}
		case "STARTTLS":
			_, _ = c.Write([]byte("220 2.0.0 go ahead\r\n"))
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c, br, inTLS = tc, bufio.NewReader(tc), true
		case "QUIT":
			_, _ = c.Write([]byte("221 2.0.0 bye\r\n"))
			return
		default:
			_, _ = c.Write([]byte("250 2.0.0 ok\r\n"))
		}
	}
}

func spki311(l *testcert.Leaf) string {
	d := l.SPKISHA256()
	return dane.TLSA{Usage: dane.DANEEE, Selector: dane.SPKI, MatchingType: dane.SHA256, Data: d[:]}.String()
}

type daneEnv struct {
	zone *resolver.Zone
	dns  *resolvertest.Server
	ca   *testcert.CA
}

func newDANEEnv(t *testing.T) *daneEnv {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader("$TTL 300\n"), "test.")
	require.NoError(t, err)
	require.NoError(t, z.SetSecure("secure.test", true))
	return &daneEnv{zone: z, dns: resolvertest.NewServer(t, z), ca: testcert.NewCA(t)}
}

// addMX adds mx.secure.test at 127.0.0.1, with the TLSA records tlsa
// (presentation form) at _25._tcp.mx.secure.test.
func (e *daneEnv) addMX(t *testing.T, tlsa ...string) {
	t.Helper()
	text := "$TTL 300\nmx.secure.test. A 127.0.0.1"
	for _, r := range tlsa {
		text += "\n_25._tcp.mx.secure.test. TLSA " + r
	}
	require.NoError(t, e.zone.Add(text))
}

// deliver runs TLSA discovery for host and an upgrade under level, with
// fallback as the policy without DANE, against srv.
func (e *daneEnv) deliver(t *testing.T, srv *smtpServer, in dane.Input, level starttls.Level, fallback starttls.Policy) (*starttls.Session, *dane.Host, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := dane.Lookup(ctx, e.dns.Client(), in)
	if err != nil {
		return nil, nil, err
	}
	p, err := h.Policy(level, fallback)
	if err != nil {
		return nil, h, err
	}
	conn, err := net.Dial("tcp", srv.addr)
	require.NoError(t, err)
	sess, err := (&starttls.Client{Hostname: "client.example.test"}).Upgrade(ctx, conn, in.Host, &p)
	if sess != nil {
		t.Cleanup(func() { _ = sess.Conn().Close() })
	}
	return sess, h, err
}

func TestDANEOverTheWire(t *testing.T) {
	t.Parallel()
	may := starttls.Policy{Level: starttls.May}
	in := dane.Input{Domain: "example.test", MXSecure: true, Host: "mx.secure.test"}

	t.Run("3 1 1 matches an expired wrong-name certificate", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		leaf := e.ca.Expired("wrong.invalid")
		srv := startSMTP(t, leaf.TLS)
		e.addMX(t, spki311(leaf))
		sess, h, err := e.deliver(t, srv, in, starttls.DANE, may)
		require.NoError(t, err)
		assert.Equal(t, dane.Authenticated, h.Status)
		assert.Equal(t, starttls.AuthDANEEE, sess.Authentication())
		assert.True(t, sess.Encrypted())
		assert.Equal(t, []string{"mx.secure.test"}, srv.sni())
	})

	t.Run("2 0 1 with a wrong leaf name fails", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		inter := e.ca.Intermediate("test TA")
		leaf := inter.Leaf("other.example.test")
		srv := startSMTP(t, leaf.TLS)
		rec := dane.TLSA{Usage: dane.DANETA, Selector: dane.Cert, MatchingType: dane.SHA256}
		d := testcertSHA256(inter.Cert.Raw)
		rec.Data = d
		e.addMX(t, rec.String())
		_, _, err := e.deliver(t, srv, in, starttls.DANE, may)
		require.Error(t, err)
		assert.ErrorIs(t, err, starttls.ErrCertificate)
		assert.ErrorIs(t, err, dane.ErrNameMismatch)
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultCertificateHostMismatch, se.Result)
		assert.True(t, se.Temporary())
	})

	t.Run("2 0 1 with the right name passes", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		inter := e.ca.Intermediate("test TA")
		leaf := inter.Leaf("mx.secure.test")
		srv := startSMTP(t, leaf.TLS)
		rec := dane.TLSA{Usage: dane.DANETA, Selector: dane.Cert, MatchingType: dane.SHA256, Data: testcertSHA256(inter.Cert.Raw)}
		e.addMX(t, rec.String())
		sess, _, err := e.deliver(t, srv, in, starttls.DANEOnly, may)
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthDANETA, sess.Authentication())
	})

	t.Run("2 0 0 TA not sent by the server passes", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		leaf := e.ca.Leaf("mx.secure.test")
		srv := startSMTP(t, leaf.TLS) // the chain holds the leaf only
		rec := dane.TLSA{Usage: dane.DANETA, Selector: dane.Cert, MatchingType: dane.Full, Data: e.ca.Cert.Raw}
		e.addMX(t, rec.String())
		sess, _, err := e.deliver(t, srv, in, starttls.DANE, may)
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthDANETA, sess.Authentication())
	})

	t.Run("only usages 0 and 1 mean encrypt", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		leaf := testcert.SelfSigned(t, testcert.Spec{Names: []string{"whatever.invalid"}})
		srv := startSMTP(t, leaf.TLS)
		d := leaf.SPKISHA256()
		e.addMX(t,
			dane.TLSA{Usage: dane.PKIXEE, Selector: dane.SPKI, MatchingType: dane.SHA256, Data: d[:]}.String(),
			dane.TLSA{Usage: dane.PKIXTA, Selector: dane.SPKI, MatchingType: dane.SHA256, Data: d[:]}.String())
		sess, h, err := e.deliver(t, srv, in, starttls.DANE, may)
		require.NoError(t, err)
		assert.Equal(t, dane.EncryptOnly, h.Status)
		assert.Equal(t, starttls.Encrypt, sess.Level())
		assert.True(t, sess.Encrypted())
		assert.Equal(t, starttls.Unauthenticated, sess.Authentication())
		// dane-only refuses.
		_, _, err = e.deliver(t, srv, in, starttls.DANEOnly, may)
		assert.ErrorIs(t, err, dane.ErrNoUsableRecords)
	})

	t.Run("insecure MX means no DANE", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		leaf := testcert.SelfSigned(t, testcert.Spec{Names: []string{"whatever.invalid"}})
		srv := startSMTP(t, leaf.TLS)
		other := e.ca.Leaf("x.invalid")
		e.addMX(t, spki311(other))
		insecure := in
		insecure.MXSecure = false
		sess, h, err := e.deliver(t, srv, insecure, starttls.DANE, may)
		require.NoError(t, err)
		assert.Equal(t, dane.Insecure, h.Status)
		assert.Equal(t, starttls.May, sess.Level())
		_, _, err = e.deliver(t, srv, insecure, starttls.DANEOnly, may)
		assert.ErrorIs(t, err, dane.ErrRequired)
		var pe *dane.PolicyError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, starttls.ResultDANERequired, pe.ResultType())
	})

	t.Run("SERVFAIL on TLSA makes the MX unusable", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		srv := startSMTP(t, e.ca.Leaf("mx.secure.test").TLS)
		e.addMX(t)
		require.NoError(t, e.zone.SetFailure("_25._tcp.mx.secure.test", dns.TypeTLSA, resolver.FailServFail))
		_, _, err := e.deliver(t, srv, in, starttls.DANE, may)
		require.ErrorIs(t, err, dane.ErrLookup)
		var le *dane.LookupError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, dns.RcodeServerFailure, le.Rcode)
		assert.Equal(t, starttls.ResultDNSSECInvalid, le.ResultType())
		assert.Empty(t, srv.sni(), "no connection was made")
	})

	t.Run("DANE fails while MTA-STS would pass", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		leaf := e.ca.Leaf("mx.secure.test") // PKIX-valid for the MX name
		srv := startSMTP(t, leaf.TLS)
		other := e.ca.Leaf("mx.secure.test") // another key
		e.addMX(t, spki311(other))
		sts := &mtasts.Result{Domain: "example.test", Policy: &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"*.secure.test"}}}
		stsPolicy, err := sts.TLSPolicy("mx.secure.test", starttls.Policy{Level: starttls.May, RootCAs: e.ca.Pool()})
		require.NoError(t, err)
		// MTA-STS alone passes.
		conn, err := net.Dial("tcp", srv.addr)
		require.NoError(t, err)
		sess, err := (&starttls.Client{}).Upgrade(context.Background(), conn, "mx.secure.test", &stsPolicy)
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthPKIX, sess.Authentication())
		_ = sess.Conn().Close()
		// With DANE in force, its failure stands.
		_, _, err = e.deliver(t, srv, in, starttls.DANE, stsPolicy)
		require.Error(t, err)
		assert.ErrorIs(t, err, dane.ErrNoMatch)
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultTLSAInvalid, se.Result)
	})

	t.Run("SNI is the TLSA base domain", func(t *testing.T) {
		t.Parallel()
		e := newDANEEnv(t)
		leaf := e.ca.Leaf("mx.secure.test")
		srv := startSMTP(t, leaf.TLS)
		require.NoError(t, e.zone.Add("$TTL 300\n"+"alias.secure.test. CNAME mx.secure.test.\nmx.secure.test. A 127.0.0.1\n_25._tcp.mx.secure.test. TLSA "+spki311(leaf)))
		alias := in
		alias.Host = "alias.secure.test"
		sess, h, err := e.deliver(t, srv, alias, starttls.DANE, may)
		require.NoError(t, err)
		assert.Equal(t, "mx.secure.test", h.BaseDomain)
		assert.Equal(t, []string{"mx.secure.test"}, srv.sni())
		assert.Equal(t, starttls.AuthDANEEE, sess.Authentication())
	})
}

func testcertSHA256(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}
