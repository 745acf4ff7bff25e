package mtasts

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
)

// startSMTP runs an SMTP receiver on 127.0.0.1 that offers STARTTLS with cert
// (none when cert is nil) and returns its address.
func startSMTP(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	cfg := &smtpserver.Config{Hostname: "mx"}
	if cert != nil {
		cfg.TLS = &starttls.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}}}
	}
	return smtpserver.Start(t, cfg)
}

func upgrade(t *testing.T, addr, mx string, p starttls.Policy) (*starttls.Session, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := (&starttls.Client{Hostname: "client.example.test"}).Upgrade(ctx, conn, mx, &p)
	if s != nil {
		t.Cleanup(func() { _ = s.Conn().Close() })
	}
	return s, err
}

func TestEnforce(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	e := newEnv(t)
	require.NoError(t, e.zone.Add(txt("enforce.test", "1")))
	e.ps.handle("enforce.test", nil, servePolicy("version: STSv1\nmode: enforce\nmx: *.good.test\nmax_age: 86400\n"))
	res := e.get(t, "enforce.test")
	require.True(t, res.Enforced())
	fallback := starttls.Policy{Level: starttls.May, RootCAs: ca.Pool()}

	goodAddr := startSMTP(t, &ca.Leaf("mx1.good.test").TLS)
	wrongAddr := startSMTP(t, &ca.Leaf("mx9.other.test").TLS)
	plainAddr := startSMTP(t, nil)

	// RFC 8461 §8.4: walk the MX list, skipping hosts the policy does not
	// allow, and deliver to the first one that passes.
	mxs := []struct{ host, addr string }{{"mx.evil.test", wrongAddr}, {"mx1.good.test", goodAddr}}
	var delivered string
	for _, mx := range mxs {
		p, err := res.TLSPolicy(mx.host, fallback)
		if err != nil {
			assert.ErrorIs(t, err, ErrMXMismatch)
			var me *MXError
			require.ErrorAs(t, err, &me)
			assert.True(t, me.Temporary())
			assert.Equal(t, starttls.ResultValidationFailure, me.ResultType())
			continue
		}
		assert.Equal(t, starttls.MTASTS, p.Level)
		s, err := upgrade(t, mx.addr, mx.host, p)
		require.NoError(t, err)
		assert.Equal(t, starttls.AuthPKIX, s.Authentication())
		delivered = mx.host
		break
	}
	assert.Equal(t, "mx1.good.test", delivered)

	t.Run("certificate for another name", func(t *testing.T) {
		t.Parallel()
		p, err := res.TLSPolicy("mx2.good.test", fallback)
		require.NoError(t, err)
		_, err = upgrade(t, wrongAddr, "mx2.good.test", p)
		require.Error(t, err)
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultCertificateHostMismatch, se.Result)
		assert.True(t, se.Temporary(), "RFC 8461 §5.1: never a bounce")
	})

	t.Run("certificate from an untrusted CA", func(t *testing.T) {
		t.Parallel()
		addr := startSMTP(t, &testcert.NewCA(t).Leaf("mx3.good.test").TLS)
		p, err := res.TLSPolicy("mx3.good.test", fallback)
		require.NoError(t, err)
		_, err = upgrade(t, addr, "mx3.good.test", p)
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultCertificateNotTrusted, se.Result)
		assert.True(t, se.Temporary())
	})

	t.Run("no STARTTLS", func(t *testing.T) {
		t.Parallel()
		p, err := res.TLSPolicy("mx4.good.test", fallback)
		require.NoError(t, err)
		_, err = upgrade(t, plainAddr, "mx4.good.test", p)
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultSTARTTLSNotSupported, se.Result)
		assert.True(t, se.Temporary())
	})
}

func TestTesting(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	res := &Result{Domain: "testing.test", Policy: &Policy{Mode: Testing, MX: []string{"mx.testing.test"}, MaxAge: time.Hour}}
	fallback := starttls.Policy{Level: starttls.May}

	t.Run("bad certificate delivers and reports", func(t *testing.T) {
		t.Parallel()
		addr := startSMTP(t, &testcert.NewCA(t).Leaf("mx.testing.test").TLS)
		p, err := res.TLSPolicy("mx.testing.test", fallback)
		require.NoError(t, err)
		assert.Equal(t, starttls.May, p.Level)
		s, err := upgrade(t, addr, "mx.testing.test", p)
		require.NoError(t, err, "testing mode never blocks delivery")
		cs, ok := s.ConnectionState()
		require.True(t, ok)
		err = res.Evaluate("mx.testing.test", &cs, ca.Pool())
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultCertificateNotTrusted, se.Result)
	})

	t.Run("good certificate reports success", func(t *testing.T) {
		t.Parallel()
		addr := startSMTP(t, &ca.Leaf("mx.testing.test").TLS)
		s, err := upgrade(t, addr, "mx.testing.test", fallback)
		require.NoError(t, err)
		cs, _ := s.ConnectionState()
		assert.NoError(t, res.Evaluate("mx.testing.test", &cs, ca.Pool()))
	})

	t.Run("MX outside the policy delivers and reports", func(t *testing.T) {
		t.Parallel()
		p, err := res.TLSPolicy("mx.elsewhere.test", fallback)
		require.NoError(t, err)
		assert.Equal(t, fallback, p)
		assert.ErrorIs(t, res.Evaluate("mx.elsewhere.test", nil, nil), ErrMXMismatch)
	})

	t.Run("no STARTTLS delivers and reports", func(t *testing.T) {
		t.Parallel()
		addr := startSMTP(t, nil)
		s, err := upgrade(t, addr, "mx.testing.test", fallback)
		require.NoError(t, err)
		_, ok := s.ConnectionState()
		require.False(t, ok)
		err = res.Evaluate("mx.testing.test", nil, nil)
		var se *starttls.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, starttls.ResultSTARTTLSNotSupported, se.Result)
	})
}

func TestTLSPolicyWithoutPolicy(t *testing.T) {
	t.Parallel()
	fallback := starttls.Policy{Level: starttls.Encrypt}
	for _, r := range []*Result{nil, {Domain: "x.test"}, {Domain: "x.test", Policy: &Policy{Mode: None}}} {
		p, err := r.TLSPolicy("mx.x.test", fallback)
		require.NoError(t, err)
		assert.Equal(t, fallback, p)
		assert.NoError(t, r.Evaluate("mx.x.test", nil, nil))
	}
}

func TestErrorResultTypes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  interface{ ResultType() starttls.ResultType }
		want starttls.ResultType
	}{
		{&FetchError{Kind: ErrPolicyFetch}, starttls.ResultSTSPolicyFetchError},
		{&FetchError{Kind: ErrWebPKI}, starttls.ResultSTSWebPKIInvalid},
		{&FetchError{Kind: ErrPolicySyntax}, starttls.ResultSTSPolicyInvalid},
		{&LookupError{Kind: ErrNoRecord}, ""},
		{&LookupError{Kind: ErrMultipleRecords}, starttls.ResultSTSPolicyInvalid},
		{&LookupError{Kind: ErrRecordSyntax}, starttls.ResultSTSPolicyInvalid},
		{&LookupError{Kind: ErrDNS}, starttls.ResultSTSPolicyFetchError},
		{&LookupError{Kind: ErrBackoff}, starttls.ResultSTSPolicyFetchError},
		{&MXError{}, starttls.ResultValidationFailure},
	} {
		assert.Equal(t, tt.want, tt.err.ResultType(), "%v", tt.err)
	}
}
