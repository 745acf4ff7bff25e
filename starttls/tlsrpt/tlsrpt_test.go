package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/starttls"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, txt string
		mailto    []string
		https     int
		ok        bool
	}{
		{"mailto", "v=TLSRPTv1; rua=mailto:reports@example.test", []string{"reports@example.test"}, 0, true},
		{"https", "v=TLSRPTv1;rua=https://reporting.example.test/v1/tlsrpt", nil, 1, true},
		{"both", "v=TLSRPTv1; rua=mailto:a@example.test , https://r.example.test/x; ", []string{"a@example.test"}, 1, true},
		{"extension", "v=TLSRPTv1; rua=mailto:a@example.test; ext=1", []string{"a@example.test"}, 0, true},
		{"other scheme kept", "v=TLSRPTv1; rua=ftp://x.example.test/", nil, 0, true},
		{"no rua", "v=TLSRPTv1;", nil, 0, false},
		{"two rua", "v=TLSRPTv1; rua=mailto:a@example.test; rua=mailto:b@example.test", []string{"a@example.test", "b@example.test"}, 0, true},
		{"empty rua", "v=TLSRPTv1; rua=", nil, 0, false},
		{"relative URI", "v=TLSRPTv1; rua=reports@example.test", nil, 0, false},
		{"mailto without @", "v=TLSRPTv1; rua=mailto:reports", nil, 0, false},
		{"https without host", "v=TLSRPTv1; rua=https:///x", nil, 0, false},
		{"wrong version", "v=TLSRPTv2; rua=mailto:a@example.test", nil, 0, false},
		{"version case", "v=tlsrptv1; rua=mailto:a@example.test", nil, 0, false},
		{"empty field", "v=TLSRPTv1;; rua=mailto:a@example.test", nil, 0, false},
		{"bad extension", "v=TLSRPTv1; rua=mailto:a@example.test; -x=1", nil, 0, false},
		{"empty", "", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRecord(tt.txt)
			if !tt.ok {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrRecordSyntax)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.mailto, r.Mailto())
			assert.Len(t, r.HTTPS(), tt.https)
			r2, err := ParseRecord(r.String())
			require.NoError(t, err)
			assert.Equal(t, r.String(), r2.String())
		})
	}
}

func TestLookupRecord(t *testing.T) {
	t.Parallel()
	z, err := resolver.ParseZone(strings.NewReader(`$TTL 300
_smtp._tls.one.test.   TXT "v=TLSRPTv1; rua=mailto:tlsrpt@one.test"
_smtp._tls.one.test.   TXT "v=spf1 -all"
_smtp._tls.two.test.   TXT "v=TLSRPTv1; rua=mailto:a@two.test"
_smtp._tls.two.test.   TXT "v=TLSRPTv1; rua=mailto:b@two.test"
_smtp._tls.bad.test.   TXT "v=TLSRPTv1; rua=nope"
_smtp._tls.split.test. TXT "v=TLSRPTv1; " "rua=mailto:x@split.test"
`), ".")
	require.NoError(t, err)
	ctx := context.Background()
	r, err := LookupRecord(ctx, z, "one.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"tlsrpt@one.test"}, r.Mailto())
	r, err = LookupRecord(ctx, z, "split.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"x@split.test"}, r.Mailto())
	_, err = LookupRecord(ctx, z, "two.test")
	assert.ErrorIs(t, err, ErrMultipleRecords)
	_, err = LookupRecord(ctx, z, "bad.test")
	assert.ErrorIs(t, err, ErrRecordSyntax)
	_, err = LookupRecord(ctx, z, "none.test")
	assert.ErrorIs(t, err, ErrNoRecord)
	_, err = LookupRecord(ctx, z, "a..b")
	assert.ErrorIs(t, err, ErrDomain)
}

var day = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

var stsPolicy = Policy{
	Type:   PolicySTS,
	String: []string{"version: STSv1", "mode: testing", "mx: mx1.example.test", "mx: *.example.net", "max_age: 86400"},
	Domain: "Example.TEST",
	MXHost: []string{"mx1.example.test", "*.example.net"},
}

var tlsaPolicy = Policy{
	Type:   PolicyTLSA,
	String: []string{"3 1 1 " + strings.Repeat("ab", 32)},
	Domain: "example.test",
	MXHost: []string{"mx2.example.test"},
}

// mixedDay records a day with successes and failures under three policies.
func mixedDay(a *Aggregator) {
	at := day.Add(10 * time.Hour)
	for range 5 {
		a.Record(stsPolicy, at, nil)
	}
	exp := &FailureDetails{ResultType: CertificateExpired, SendingMTAIP: "192.0.2.1",
		ReceivingMXHostname: "mx1.example.test", ReceivingIP: "192.0.2.25", FailureReasonCode: "x509: certificate has expired"}
	for range 3 {
		a.Record(stsPolicy, at, exp)
	}
	a.Record(stsPolicy, at, &FailureDetails{ResultType: STARTTLSNotSupported, SendingMTAIP: "192.0.2.1",
		ReceivingMXHostname: "mx3.example.net", ReceivingMXHelo: "mx3.example.net", ReceivingIP: "2001:db8::25"})
	a.Record(tlsaPolicy, at, nil)
	a.Record(tlsaPolicy, at, &FailureDetails{ResultType: TLSAInvalid, SendingMTAIP: "2001:db8::1",
		ReceivingMXHostname: "mx2.example.test", ReceivingIP: "192.0.2.26", FailureReasonCode: "dane: no TLSA record matches the server certificate"})
	a.Record(NoPolicy("other.test"), at, nil)
	// The next day is not part of the report.
	a.Record(stsPolicy, day.Add(25*time.Hour), nil)
}

var meta = Meta{OrganizationName: "Example Sender", ContactInfo: "tlsrpt@sender.example", Submitter: "mail.sender.example"}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	var a Aggregator
	mixedDay(&a)
	reports := a.Flush(day.Add(30*time.Hour), meta)
	require.Len(t, reports, 2)
	assert.Equal(t, "other.test", reports[1].Policies[0].Policy.Domain)
	got, err := reports[0].JSON()
	require.NoError(t, err)
	golden := filepath.Join("testdata", "report-mixed.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got)+"\n")
	// Flushed days are forgotten; the next day stays until it ends.
	assert.Empty(t, a.Flush(day.Add(30*time.Hour), meta))
	assert.Len(t, a.Flush(day.Add(48*time.Hour), meta), 1)
}

// TestReportSchema checks a report against the fields RFC 8460 §4.4 makes
// required, their JSON types and the date-time format.
func TestReportSchema(t *testing.T) {
	t.Parallel()
	var a Aggregator
	mixedDay(&a)
	r := a.Report("example.test", day.Add(time.Hour), meta)
	require.NotNil(t, r)
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))

	requireString := func(m map[string]any, k string) string {
		t.Helper()
		v, ok := m[k].(string)
		require.True(t, ok, "field %q must be a string: %v", k, m[k])
		return v
	}
	requireNumber := func(m map[string]any, k string) float64 {
		t.Helper()
		v, ok := m[k].(float64)
		require.True(t, ok, "field %q must be a number: %v", k, m[k])
		require.GreaterOrEqual(t, v, 0.0)
		return v
	}
	requireString(doc, "organization-name")
	requireString(doc, "contact-info")
	requireString(doc, "report-id")
	dr, ok := doc["date-range"].(map[string]any)
	require.True(t, ok)
	for _, k := range []string{"start-datetime", "end-datetime"} {
		_, err := time.Parse(time.RFC3339, requireString(dr, k))
		require.NoError(t, err, k)
	}
	pols, ok := doc["policies"].([]any)
	require.True(t, ok)
	require.Len(t, pols, 2)
	types := map[string]bool{"sts": true, "tlsa": true, "no-policy-found": true}
	results := map[string]bool{}
	for _, rt := range []ResultType{STARTTLSNotSupported, CertificateHostMismatch, CertificateNotTrusted, CertificateExpired,
		ValidationFailure, TLSAInvalid, DNSSECInvalid, DANERequired, STSPolicyFetchError, STSPolicyInvalid, STSWebPKIInvalid} {
		results[string(rt)] = true
	}
	for _, p := range pols {
		pm := p.(map[string]any)
		pol := pm["policy"].(map[string]any)
		assert.True(t, types[requireString(pol, "policy-type")])
		requireString(pol, "policy-domain")
		if mx, ok := pol["mx-host"]; ok {
			_, isArray := mx.([]any)
			assert.True(t, isArray, "mx-host is an array (erratum 6241)")
		}
		sum := pm["summary"].(map[string]any)
		ok := requireNumber(sum, "total-successful-session-count")
		bad := requireNumber(sum, "total-failure-session-count")
		var detailed float64
		for _, f := range pm["failure-details"].([]any) {
			fm := f.(map[string]any)
			assert.True(t, results[requireString(fm, "result-type")])
			detailed += requireNumber(fm, "failed-session-count")
		}
		assert.Equal(t, bad, detailed)
		assert.Positive(t, ok+bad)
	}
}

func TestAggregatorConcurrent(t *testing.T) {
	t.Parallel()
	var a Aggregator
	var wg sync.WaitGroup
	const workers, each = 8, 200
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var f *FailureDetails
				if i%4 == 0 {
					f = &FailureDetails{ResultType: ValidationFailure, ReceivingMXHostname: "mx1.example.test"}
				}
				a.Record(stsPolicy, day.Add(time.Duration(w)*time.Minute), f)
				if i%50 == 0 {
					_ = a.Report("example.test", day, meta)
				}
			}
		}()
	}
	wg.Wait()
	r := a.Report("example.test", day, meta)
	require.Len(t, r.Policies, 1)
	s := r.Policies[0].Summary
	assert.EqualValues(t, workers*each, s.TotalSuccessfulSessionCount+s.TotalFailureSessionCount)
	assert.EqualValues(t, workers*each/4, r.Policies[0].FailureDetails[0].FailedSessionCount)
}

func TestAggregatorBounds(t *testing.T) {
	t.Parallel()
	a := Aggregator{MaxDomains: 2, MaxFailureDetails: 1}
	a.Record(NoPolicy("a.test"), day, nil)
	a.Record(NoPolicy("b.test"), day, nil)
	a.Record(NoPolicy("c.test"), day, nil)
	a.Record(NoPolicy("bad..name"), day, nil)
	assert.EqualValues(t, 2, a.Dropped())
	a.Record(NoPolicy("a.test"), day, &FailureDetails{ResultType: ValidationFailure})
	a.Record(NoPolicy("a.test"), day, &FailureDetails{ResultType: CertificateExpired})
	r := a.Report("a.test", day, meta)
	require.NotNil(t, r)
	assert.EqualValues(t, 2, r.Policies[0].Summary.TotalFailureSessionCount)
	assert.Len(t, r.Policies[0].FailureDetails, 1)
	assert.Nil(t, a.Report("c.test", day, meta))
}

func TestRecordSession(t *testing.T) {
	t.Parallel()
	var a Aggregator
	s := Session{ReceivingMXHostname: "mx.example.test"}
	p := NoPolicy("example.test")
	assert.True(t, a.RecordSession(p, day, nil, s))
	assert.True(t, a.RecordSession(p, day, &starttls.Error{Kind: starttls.ErrNotOffered, Result: STARTTLSNotSupported}, s))
	assert.False(t, a.RecordSession(p, day, &starttls.Error{Kind: starttls.ErrRejected}, s))
	r := a.Report("example.test", day, meta)
	require.NotNil(t, r)
	assert.Equal(t, Summary{TotalSuccessfulSessionCount: 1, TotalFailureSessionCount: 1}, r.Policies[0].Summary)
	assert.Equal(t, "mx.example.test", r.Policies[0].FailureDetails[0].ReceivingMXHostname)
}

func TestFileName(t *testing.T) {
	t.Parallel()
	dr := DateRange{Start: time.Unix(1470013207, 0), End: time.Unix(1470186007, 0)}
	n, err := FileName("mail.sender.example.com", "Example.COM", dr, "001", true)
	require.NoError(t, err)
	assert.Equal(t, "mail.sender.example.com!example.com!1470013207!1470186007!001.json.gz", n)
	n, err = FileName("mail.sender.example.com", "example.com", dr, "", false)
	require.NoError(t, err)
	assert.Equal(t, "mail.sender.example.com!example.com!1470013207!1470186007.json", n)
	_, err = FileName("mail.sender.example.com", "example.com", dr, "a!b", false)
	assert.ErrorIs(t, err, ErrHeader)
	_, err = FileName("bad..name", "example.com", dr, "", false)
	assert.ErrorIs(t, err, ErrDomain)
}

func TestMessage(t *testing.T) {
	t.Parallel()
	var a Aggregator
	mixedDay(&a)
	r := a.Report("example.test", day, meta)
	m := Mail{From: "tlsrpt@sender.example", To: "reports@example.test", Now: day.Add(30 * time.Hour), MessageID: "1@sender.example"}
	msg, err := m.Message(r, "example.test", meta)
	require.NoError(t, err)
	s := string(msg)
	head, body, ok := strings.Cut(s, "\r\n\r\n")
	require.True(t, ok)
	assert.Contains(t, head, "\r\nSubject: Report Domain: example.test Submitter: mail.sender.example Report-ID: <20260301.example.test@mail.sender.example>\r\n")
	assert.Contains(t, head, "\r\nTLS-Report-Domain: example.test\r\n")
	assert.Contains(t, head, "\r\nTLS-Report-Submitter: mail.sender.example\r\n")
	assert.Contains(t, head, "\r\nTLS-Required: No\r\n")
	assert.Contains(t, head, `multipart/report; report-type="tlsrpt"`)
	assert.NotContains(t, strings.ReplaceAll(s, "\r\n", ""), "\n", "only CRLF line endings")
	// The attachment decodes to the report.
	i := strings.Index(body, "Content-Type: application/tlsrpt+gzip")
	require.Positive(t, i)
	_, att, _ := strings.Cut(body[i:], "\r\n\r\n")
	att, _, _ = strings.Cut(att, "\r\n--")
	gz, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(att, "\r\n", ""))
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	j, err := io.ReadAll(zr)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(j, &back))
	assert.Equal(t, r.ReportID, back.ReportID)
	assert.Equal(t, r.Policies, back.Policies)

	m.To = "x@example.test\r\nBcc: evil@example.test"
	_, err = m.Message(r, "example.test", meta)
	assert.ErrorIs(t, err, ErrHeader)
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=TLSRPTv1; rua=mailto:a@example.test", "v=TLSRPTv1;rua=https://r.example.test/x,mailto:b@example.test;", "v=TLSRPTv1; x=y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		if err != nil {
			if r != nil {
				t.Fatal("record with error")
			}
			return
		}
		if len(r.RUA) == 0 {
			t.Fatal("record without rua accepted")
		}
		for _, u := range r.RUA {
			if u.Scheme == "" {
				t.Fatalf("relative URI accepted: %v", u)
			}
		}
		r2, err := ParseRecord(r.String())
		if err != nil || r2.String() != r.String() {
			t.Fatalf("round trip of %q: %v", r.String(), err)
		}
	})
}

func zoneWithTLSA(t *testing.T) *resolver.Zone {
	t.Helper()
	z, err := resolver.ParseZone(strings.NewReader("$TTL 300\nmx.example.test. A 192.0.2.25\n_25._tcp.mx.example.test. TLSA 3 1 1 "+strings.Repeat("ab", 32)+"\n"), ".")
	require.NoError(t, err)
	require.NoError(t, z.SetSecure("example.test", true))
	return z
}
