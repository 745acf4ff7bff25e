package interop

import (
	"testing"

	moxtlsrpt "github.com/mjl-/mox/tlsrpt"
	"github.com/stretchr/testify/assert"

	"github.com/smtpsec/smtpsec/starttls/tlsrpt"
)

var tlsrptRecords = []string{
	"v=TLSRPTv1; rua=mailto:reports@example.test",
	"v=TLSRPTv1;rua=https://reporting.example.test/v1/tlsrpt",
	"v=TLSRPTv1; rua=mailto:a@example.test,https://r.example.test/x;",
	"v=TLSRPTv1; rua=mailto:a@example.test; ext=1",
	"v=TLSRPTv1; rua=mailto:a@example.test; rua=mailto:b@example.test",
	"v=TLSRPTv1;",
	"v=TLSRPTv1; rua=",
	"v=TLSRPTv2; rua=mailto:a@example.test",
	"v=tlsrptv1; rua=mailto:a@example.test",
	"v=TLSRPTv1;; rua=mailto:a@example.test",
	"",
}

// TestTLSRPTParseAgainstMox checks that smtpsec and mox (v0.0.15) accept
// and reject the same _smtp._tls records and find the same destinations.
func TestTLSRPTParseAgainstMox(t *testing.T) {
	for _, txt := range tlsrptRecords {
		ours, err1 := tlsrpt.ParseRecord(txt)
		theirs, _, err2 := moxtlsrpt.ParseRecord(txt)
		if !assert.Equal(t, err2 == nil, err1 == nil, "record %q: smtpsec %v, mox %v", txt, err1, err2) || err1 != nil {
			continue
		}
		var want []string
		for _, l := range theirs.RUAs {
			for _, u := range l {
				want = append(want, string(u))
			}
		}
		var got []string
		for _, u := range ours.RUA {
			got = append(got, u.String())
		}
		assert.Equal(t, want, got, "record %q", txt)
	}
}

func BenchmarkTLSRPTParseRecord(b *testing.B) {
	txt := "v=TLSRPTv1; rua=mailto:a@example.test,https://r.example.test/x"
	b.Run("smtpsec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tlsrpt.ParseRecord(txt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := moxtlsrpt.ParseRecord(txt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
