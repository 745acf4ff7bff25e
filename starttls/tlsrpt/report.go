package tlsrpt

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// PolicyType is the policy-type of a report entry (RFC 8460 §4.4).
type PolicyType string

// Policy types.
const (
	// PolicySTS: an MTA-STS policy applied (RFC 8461).
	PolicySTS PolicyType = "sts"
	// PolicyTLSA: DANE TLSA records applied (RFC 7672).
	PolicyTLSA PolicyType = "tlsa"
	// PolicyNone: no policy was found; sessions are reported so that the
	// domain sees its opportunistic traffic.
	PolicyNone PolicyType = "no-policy-found"
)

// Report is a TLS-RPT aggregate report, serialised as the JSON of RFC 8460
// §4.4 with encoding/json. Field names and nesting are stable: they are the
// RFC's.
type Report struct {
	OrganizationName string         `json:"organization-name"`
	DateRange        DateRange      `json:"date-range"`
	ContactInfo      string         `json:"contact-info"`
	ReportID         string         `json:"report-id"`
	Policies         []PolicyResult `json:"policies"`
}

// DateRange is the UTC interval a report covers, in RFC 3339 date-time.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyResult is the outcome of the sessions under one policy.
type PolicyResult struct {
	Policy         Policy           `json:"policy"`
	Summary        Summary          `json:"summary"`
	FailureDetails []FailureDetails `json:"failure-details,omitempty"`
}

// Policy identifies the policy a session was evaluated under.
type Policy struct {
	// Type is sts, tlsa or no-policy-found.
	Type PolicyType `json:"policy-type"`
	// String is the policy, one line an element: the MTA-STS policy's
	// lines (mtasts.Policy.Lines) or the TLSA records in presentation
	// format. Empty for no-policy-found.
	String []string `json:"policy-string,omitempty"`
	// Domain is the policy domain: the recipient (next-hop) domain.
	Domain string `json:"policy-domain"`
	// MXHost lists the MX host patterns of an MTA-STS policy, or the MX
	// host a TLSA policy belongs to. An array, as RFC 8460 erratum 6241
	// corrects the RFC's example.
	MXHost []string `json:"mx-host,omitempty"`
}

// key returns a string that identifies p for aggregation.
func (p Policy) key() string { return string(p.appendKey(nil)) }

// appendKey appends p's aggregation key to b.
func (p Policy) appendKey(b []byte) []byte {
	b = append(b, p.Type...)
	b = append(b, 0)
	b = append(b, p.Domain...)
	for _, s := range [][]string{p.String, p.MXHost} {
		b = append(b, 0)
		for _, x := range s {
			b = append(b, x...)
			b = append(b, 1)
		}
	}
	return b
}

// Summary counts the sessions under a policy.
type Summary struct {
	TotalSuccessfulSessionCount int64 `json:"total-successful-session-count"`
	TotalFailureSessionCount    int64 `json:"total-failure-session-count"`
}

// FailureDetails describes a group of failed sessions that share all these
// fields (RFC 8460 §4.4).
type FailureDetails struct {
	ResultType            ResultType `json:"result-type"`
	SendingMTAIP          string     `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname   string     `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo       string     `json:"receiving-mx-helo,omitempty"`
	ReceivingIP           string     `json:"receiving-ip,omitempty"`
	FailedSessionCount    int64      `json:"failed-session-count"`
	AdditionalInformation string     `json:"additional-information,omitempty"`
	FailureReasonCode     string     `json:"failure-reason-code,omitempty"`
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// sortReport puts policies and failure details in a stable order, so that
// reports (and golden files) do not depend on map iteration.
func sortReport(r *Report) {
	slices.SortFunc(r.Policies, func(a, b PolicyResult) int {
		return strings.Compare(a.Policy.key(), b.Policy.key())
	})
	for i := range r.Policies {
		slices.SortFunc(r.Policies[i].FailureDetails, func(a, b FailureDetails) int {
			return strings.Compare(a.key(), b.key())
		})
	}
}

func (f FailureDetails) key() string { return string(f.appendKey(nil)) }

func (f FailureDetails) appendKey(b []byte) []byte {
	for i, s := range [...]string{string(f.ResultType), f.ReceivingMXHostname, f.ReceivingIP,
		f.SendingMTAIP, f.ReceivingMXHelo, f.FailureReasonCode, f.AdditionalInformation} {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, s...)
	}
	return b
}
