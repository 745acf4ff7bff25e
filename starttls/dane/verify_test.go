package dane

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
)

func newCA(t testing.TB) *testcert.CA { return testcert.NewCA(t) }

func spki311(l *testcert.Leaf) TLSA {
	d := l.SPKISHA256()
	return TLSA{DANEEE, SPKI, SHA256, d[:]}
}

func ta(usage Usage, sel Selector, mt MatchingType, c *x509.Certificate) TLSA {
	content := c.Raw
	if sel == SPKI {
		content = c.RawSubjectPublicKeyInfo
	}
	switch mt {
	case SHA256:
		d := sha256.Sum256(content)
		content = d[:]
	}
	return TLSA{usage, sel, mt, content}
}

func state(certs ...*x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{PeerCertificates: certs}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	root := newCA(t)
	inter := root.Intermediate("smtpsec test intermediate")
	good := inter.Leaf("mx.example.test")
	wrongName := inter.Leaf("other.example.test")
	wild := inter.Leaf("*.example.test")
	expired := root.Expired("elsewhere.invalid")
	expiredInter := inter.Expired("mx.example.test")
	selfSigned := testcert.SelfSigned(t, testcert.Spec{Names: []string{"mx.example.test"}})
	names := []string{"mx.example.test", "example.test"}

	tests := []struct {
		name    string
		records []TLSA
		names   []string
		certs   []*x509.Certificate
		want    error // nil: verified
	}{
		{"3 1 1 matches expired wrong-name leaf", []TLSA{spki311(expired)}, names, []*x509.Certificate{expired.Cert}, nil},
		{"3 0 0 self-signed", []TLSA{ta(DANEEE, Cert, Full, selfSigned.Cert)}, nil, []*x509.Certificate{selfSigned.Cert}, nil},
		{"3 1 1 other key", []TLSA{spki311(good)}, names, []*x509.Certificate{wrongName.Cert, inter.Cert}, ErrNoMatch},
		{"2 0 1 intermediate sent", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, names, []*x509.Certificate{good.Cert, inter.Cert}, nil},
		{"2 1 1 intermediate sent", []TLSA{ta(DANETA, SPKI, SHA256, inter.Cert)}, names, []*x509.Certificate{good.Cert, inter.Cert}, nil},
		{"2 0 1 root sent out of order", []TLSA{ta(DANETA, Cert, SHA256, root.Cert)}, names, []*x509.Certificate{good.Cert, root.Cert, inter.Cert}, nil},
		{"2 0 1 root sent", []TLSA{ta(DANETA, Cert, SHA256, root.Cert)}, names, []*x509.Certificate{good.Cert, inter.Cert, root.Cert}, nil},
		{"2 0 1 wrong leaf name", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, names, []*x509.Certificate{wrongName.Cert, inter.Cert}, ErrNameMismatch},
		{"2 0 1 wildcard leaf", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, names, []*x509.Certificate{wild.Cert, inter.Cert}, nil},
		{"2 0 1 next-hop name", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, []string{"example.test", "other.example.test."}, []*x509.Certificate{wrongName.Cert, inter.Cert}, nil},
		{"2 0 1 no names", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, nil, []*x509.Certificate{good.Cert, inter.Cert}, ErrNameMismatch},
		{"2 0 0 TA not sent", []TLSA{ta(DANETA, Cert, Full, root.Cert)}, names, []*x509.Certificate{good.Cert, inter.Cert}, nil},
		{"2 0 1 TA not sent", []TLSA{ta(DANETA, Cert, SHA256, root.Cert)}, names, []*x509.Certificate{good.Cert, inter.Cert}, ErrNoMatch},
		{"2 0 1 expired leaf", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, names, []*x509.Certificate{expiredInter.Cert, inter.Cert}, ErrExpired},
		{"2 0 1 chain broken", []TLSA{ta(DANETA, Cert, SHA256, root.Cert)}, names, []*x509.Certificate{good.Cert, root.Cert}, ErrChain},
		{"2 0 1 leaf signed by another CA", []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, names, []*x509.Certificate{newCA(t).Leaf("mx.example.test").Cert, inter.Cert}, ErrChain},
		{"only PKIX usages", []TLSA{ta(PKIXEE, SPKI, SHA256, good.Cert), ta(PKIXTA, Cert, SHA256, inter.Cert)}, names, []*x509.Certificate{good.Cert, inter.Cert}, ErrNoMatch},
		{"unusable digest length ignored", []TLSA{{DANEEE, SPKI, SHA256, spki311(good).Data[:31]}}, names, []*x509.Certificate{good.Cert}, ErrNoMatch},
		{"no records", nil, names, []*x509.Certificate{good.Cert}, ErrNoMatch},
		{"no certificate", []TLSA{spki311(good)}, names, nil, ErrNoCertificate},
		{"EE beats failing TA", []TLSA{ta(DANETA, Cert, SHA256, root.Cert), spki311(wrongName)}, names, []*x509.Certificate{wrongName.Cert, inter.Cert}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &Verifier{Records: tt.records, Names: tt.names}
			r, err := v.Verify(state(tt.certs...))
			if tt.want == nil {
				require.NoError(t, err)
				assert.Contains(t, tt.records, r)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			var ve *VerifyError
			assert.ErrorAs(t, err, &ve)
		})
	}
}

func TestVerifyDANETAUsesNow(t *testing.T) {
	t.Parallel()
	root := newCA(t)
	leaf := root.Leaf("mx.example.test")
	v := &Verifier{
		Records: []TLSA{ta(DANETA, Cert, Full, root.Cert)},
		Names:   []string{"mx.example.test"},
		Now:     func() time.Time { return time.Now().Add(90 * 24 * time.Hour) },
	}
	_, err := v.Verify(state(leaf.Cert))
	assert.ErrorIs(t, err, ErrExpired)
	// DANE-EE ignores time altogether.
	v.Records = []TLSA{spki311(leaf)}
	_, err = v.Verify(state(leaf.Cert))
	assert.NoError(t, err)
}
