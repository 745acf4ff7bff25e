package tlsrpt_test

import (
	"fmt"
	"time"

	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
	"github.com/smtpsec/smtpsec/starttls/tlsrpt"
)

func ExampleParseRecord() {
	r, err := tlsrpt.ParseRecord("v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/tlsrpt")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Mailto(), r.HTTPS())
	// Output: [tlsrpt@example.com] [https://reports.example.com/tlsrpt]
}

func ExampleClassify() {
	for _, err := range []error{
		&starttls.Error{Kind: starttls.ErrNotOffered, Result: starttls.ResultSTARTTLSNotSupported},
		&dane.LookupError{Name: "_25._tcp.mx.example.com.", Qtype: 52, Rcode: 2, Kind: dane.ErrLookup},
	} {
		rt, code, ok := tlsrpt.Classify(err)
		fmt.Printf("%s %q %v\n", rt, code, ok)
	}
	// Output:
	// starttls-not-supported "starttls: STARTTLS not offered" true
	// dnssec-invalid "dane: DNS lookup failed" true
}

func ExampleAggregator() {
	var agg tlsrpt.Aggregator
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	policy := tlsrpt.NoPolicy("example.com")
	session := tlsrpt.Session{SendingMTAIP: "192.0.2.1", ReceivingMXHostname: "mx.example.com", ReceivingIP: "192.0.2.25"}
	agg.RecordSession(policy, day.Add(9*time.Hour), nil, session)
	agg.RecordSession(policy, day.Add(10*time.Hour),
		&starttls.Error{Kind: starttls.ErrNotOffered, Result: starttls.ResultSTARTTLSNotSupported}, session)

	meta := tlsrpt.Meta{OrganizationName: "Example Sender", ContactInfo: "tlsrpt@sender.example", Submitter: "mail.sender.example"}
	for _, r := range agg.Flush(day.Add(24*time.Hour), meta) {
		name, _ := tlsrpt.FileName(meta.Submitter, "example.com", r.DateRange, "", true)
		fmt.Println(name)
		fmt.Println(tlsrpt.Subject(r, "example.com", meta.Submitter))
		s := r.Policies[0].Summary
		fmt.Println(s.TotalSuccessfulSessionCount, s.TotalFailureSessionCount, r.Policies[0].FailureDetails[0].ResultType)
	}
	// Output:
	// mail.sender.example!example.com!1772323200!1772409599.json.gz
	// Report Domain: example.com Submitter: mail.sender.example Report-ID: <20260301.example.com@mail.sender.example>
	// 1 1 starttls-not-supported
}
