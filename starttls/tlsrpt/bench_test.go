package tlsrpt

import (
	"testing"
	"time"

	"github.com/smtpsec/smtpsec/starttls/dane"
)

func BenchmarkParseRecord(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRecord("v=TLSRPTv1; rua=mailto:tlsrpt@example.test,https://r.example.test/v1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAggregatorRecord(b *testing.B) {
	var a Aggregator
	f := &FailureDetails{ResultType: CertificateExpired, SendingMTAIP: "192.0.2.1", ReceivingMXHostname: "mx1.example.test"}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		a.Record(stsPolicy, at, f)
	}
}

func BenchmarkClassify(b *testing.B) {
	err := &dane.VerifyError{Kind: dane.ErrNoMatch}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := Classify(err); !ok {
			b.Fatal("not classified")
		}
	}
}
