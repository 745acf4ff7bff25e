package tlsrpt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	expired := ca.Expired("mx.example.test")
	_, expiredErr := expired.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()})
	_, untrustedErr := ca.Leaf("mx.example.test").Cert.Verify(x509.VerifyOptions{Roots: x509.NewCertPool()})
	hostErr := ca.Leaf("mx.example.test").Cert.VerifyHostname("other.example.test")

	// A real DANE verification failure inside a starttls.Error, as the
	// upgrade returns it.
	leaf := ca.Leaf("mx.example.test")
	v := &dane.Verifier{Records: []dane.TLSA{{Usage: dane.DANEEE, Selector: dane.SPKI, MatchingType: dane.SHA256, Data: make([]byte, 32)}}}
	p := starttls.Policy{Level: starttls.DANE, Verifier: v}
	daneErr := p.TLSConfig(nil, "mx.example.test").VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf.Cert}})

	tests := []struct {
		name string
		err  error
		rt   ResultType
		code string
		ok   bool
	}{
		{"nil", nil, "", "", false},
		{"starttls not offered", &starttls.Error{Kind: starttls.ErrNotOffered, Result: starttls.ResultSTARTTLSNotSupported}, STARTTLSNotSupported, "starttls: STARTTLS not offered", true},
		{"starttls rejected session", &starttls.Error{Kind: starttls.ErrRejected}, "", "", false},
		{"starttls DANE mismatch", daneErr, TLSAInvalid, dane.ErrNoMatch.Error(), true},
		{"mtasts fetch", &mtasts.FetchError{Kind: mtasts.ErrPolicyFetch, StatusCode: 404}, STSPolicyFetchError, mtasts.ErrPolicyFetch.Error(), true},
		{"mtasts webpki", &mtasts.FetchError{Kind: mtasts.ErrWebPKI, Err: untrustedErr}, STSWebPKIInvalid, mtasts.ErrWebPKI.Error(), true},
		{"mtasts invalid policy", &mtasts.FetchError{Kind: mtasts.ErrPolicySyntax}, STSPolicyInvalid, mtasts.ErrPolicySyntax.Error(), true},
		{"mtasts two records", &mtasts.LookupError{Kind: mtasts.ErrMultipleRecords}, STSPolicyInvalid, mtasts.ErrMultipleRecords.Error(), true},
		{"mtasts no record", &mtasts.LookupError{Kind: mtasts.ErrNoRecord}, "", "", false},
		{"mtasts mx mismatch", &mtasts.MXError{Domain: "example.test", Host: "mx.evil.test"}, ValidationFailure, "mx-mismatch", true},
		{"dane lookup", &dane.LookupError{Name: "_25._tcp.mx.example.test.", Kind: dane.ErrLookup, Rcode: 2}, DNSSECInvalid, dane.ErrLookup.Error(), true},
		{"dane required", &dane.PolicyError{Host: "mx.example.test", Kind: dane.ErrRequired}, DANERequired, dane.ErrRequired.Error(), true},
		{"dane unusable", &dane.PolicyError{Host: "mx.example.test", Kind: dane.ErrNoUsableRecords}, TLSAInvalid, dane.ErrNoUsableRecords.Error(), true},
		{"dane expired", &dane.VerifyError{Kind: dane.ErrExpired, Err: expiredErr}, CertificateExpired, dane.ErrExpired.Error(), true},
		{"dane name", &dane.VerifyError{Kind: dane.ErrNameMismatch}, CertificateHostMismatch, dane.ErrNameMismatch.Error(), true},
		{"dane chain", &dane.VerifyError{Kind: dane.ErrChain, Err: untrustedErr}, CertificateNotTrusted, dane.ErrChain.Error(), true},
		{"x509 expired", expiredErr, CertificateExpired, "", true},
		{"x509 unknown authority", untrustedErr, CertificateNotTrusted, "", true},
		{"x509 hostname", hostErr, CertificateHostMismatch, "", true},
		{"tls alert", fmt.Errorf("handshake: %w", tls.AlertError(40)), ValidationFailure, "tls-alert-40", true},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, ValidationFailure, "timeout", true},
		{"other", errors.New("something"), ValidationFailure, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt, code, ok := Classify(tt.err)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.rt, rt)
			assert.Equal(t, tt.code, code)
		})
	}
}

func TestDetails(t *testing.T) {
	t.Parallel()
	s := Session{SendingMTAIP: "192.0.2.1", ReceivingMXHostname: "mx.example.test", ReceivingIP: "192.0.2.25"}
	assert.Nil(t, Details(nil, s))
	d := Details(&dane.LookupError{Kind: dane.ErrLookup, Rcode: 2}, s)
	assert.Equal(t, &FailureDetails{ResultType: DNSSECInvalid, SendingMTAIP: "192.0.2.1", ReceivingMXHostname: "mx.example.test",
		ReceivingIP: "192.0.2.25", FailureReasonCode: dane.ErrLookup.Error()}, d)
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	r := &mtasts.Result{Domain: "example.test", Policy: &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.example.test"}, MaxAge: time.Hour}}
	p := STSPolicy(r)
	assert.Equal(t, PolicySTS, p.Type)
	assert.Equal(t, []string{"version: STSv1", "mode: enforce", "mx: mx.example.test", "max_age: 3600"}, p.String)
	assert.Equal(t, []string{"mx.example.test"}, p.MXHost)
	assert.Equal(t, NoPolicy("example.test"), STSPolicy(&mtasts.Result{Domain: "example.test", Policy: &mtasts.Policy{Mode: mtasts.None}}))

	h, err := dane.Lookup(context.Background(), zoneWithTLSA(t), dane.Input{Domain: "example.test", MXSecure: true, Host: "mx.example.test"})
	assert.NoError(t, err)
	tp := TLSAPolicy("example.test", h)
	assert.Equal(t, PolicyTLSA, tp.Type)
	assert.Equal(t, []string{"mx.example.test"}, tp.MXHost)
	assert.Len(t, tp.String, 1)
	assert.Equal(t, NoPolicy("example.test"), TLSAPolicy("example.test", &dane.Host{Host: "mx.example.test"}))
}
