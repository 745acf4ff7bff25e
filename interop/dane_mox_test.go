package interop

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"testing"

	"github.com/mjl-/adns"
	moxdane "github.com/mjl-/mox/dane"
	moxdns "github.com/mjl-/mox/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/internal/testcert"
	"github.com/smtpsec/smtpsec/starttls/dane"
)

func toADNS(rs []dane.TLSA) []adns.TLSA {
	var out []adns.TLSA
	for _, r := range rs {
		out = append(out, adns.TLSA{Usage: adns.TLSAUsage(r.Usage), Selector: adns.TLSASelector(r.Selector),
			MatchType: adns.TLSAMatchType(r.MatchingType), CertAssoc: r.Data})
	}
	return out
}

// TestDANEVerifyAgainstMox compares our verdicts with mox's dane.Verify on
// the same certificate chains and records.
func TestDANEVerifyAgainstMox(t *testing.T) {
	root := testcert.NewCA(t)
	inter := root.Intermediate("interop DANE TA")
	const host = "mx.example.test"
	good := inter.Leaf(host)
	wrongName := inter.Leaf("other.example.test")
	expiredWrong := root.Expired("elsewhere.invalid")
	leafOnly := root.Leaf(host)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mxHost, err := moxdns.ParseDomain(host)
	require.NoError(t, err)

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		records []dane.TLSA
	}{
		{"3 1 1 expired wrong-name", []*x509.Certificate{expiredWrong.Cert}, []dane.TLSA{tlsa(dane.DANEEE, dane.SPKI, dane.SHA256, expiredWrong.Cert)}},
		{"3 1 1 other key", []*x509.Certificate{good.Cert, inter.Cert}, []dane.TLSA{tlsa(dane.DANEEE, dane.SPKI, dane.SHA256, wrongName.Cert)}},
		{"2 0 1 intermediate", []*x509.Certificate{good.Cert, inter.Cert}, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}},
		{"2 0 1 wrong name", []*x509.Certificate{wrongName.Cert, inter.Cert}, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}},
		{"2 0 0 TA not sent", []*x509.Certificate{leafOnly.Cert}, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.Full, root.Cert)}},
		{"2 0 1 TA not sent", []*x509.Certificate{leafOnly.Cert}, []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, root.Cert)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := tls.ConnectionState{PeerCertificates: tt.chain}
			_, ourErr := (&dane.Verifier{Records: tt.records, Names: []string{host}}).Verify(cs)
			verified, _, moxErr := moxdane.Verify(log, toADNS(tt.records), cs, mxHost, nil, nil)
			assert.Equal(t, verified && moxErr == nil, ourErr == nil, "smtpsec: %v; mox: %v %v", ourErr, verified, moxErr)
		})
	}
}

func BenchmarkDANEVerify(b *testing.B) {
	root := testcert.NewCA(b)
	inter := root.Intermediate("bench TA")
	leaf := inter.Leaf("mx.example.test")
	cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf.Cert, inter.Cert}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mxHost, _ := moxdns.ParseDomain("mx.example.test")
	for _, bc := range []struct {
		name    string
		records []dane.TLSA
	}{
		{"3_1_1", []dane.TLSA{tlsa(dane.DANEEE, dane.SPKI, dane.SHA256, leaf.Cert)}},
		{"2_0_1", []dane.TLSA{tlsa(dane.DANETA, dane.Cert, dane.SHA256, inter.Cert)}},
	} {
		v := &dane.Verifier{Records: bc.records, Names: []string{"mx.example.test"}}
		recs := toADNS(bc.records)
		b.Run(bc.name+"/smtpsec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(cs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/mox", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, _, err := moxdane.Verify(log, recs, cs, mxHost, nil, nil); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
