package tlsrpt

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// Defaults of Aggregator's bounds.
const (
	DefaultMaxDomains        = 100000
	DefaultMaxFailureDetails = 1000
)

// Aggregator counts successful and failed sessions per policy domain,
// policy and UTC day, and turns them into reports (RFC 8460 §4). The zero
// value is ready to use; it is safe for concurrent use and must not be
// copied after first use.
//
// Memory is bounded: beyond MaxDomains policy domains per day new domains
// are not recorded (Dropped counts them), and beyond MaxFailureDetails
// distinct failure groups per policy, further failures only count in the
// summary.
type Aggregator struct {
	// MaxDomains bounds the policy domains per day. 0 means
	// DefaultMaxDomains.
	MaxDomains int
	// MaxFailureDetails bounds the distinct failure-details entries per
	// policy. 0 means DefaultMaxFailureDetails.
	MaxFailureDetails int

	mu      sync.Mutex
	days    map[dayDomain]*domainAgg
	perDay  map[int64]int // domains recorded per day
	dropped int64
}

type dayDomain struct {
	day    int64 // Unix seconds of the UTC midnight starting the day
	domain string
}

type domainAgg struct {
	policies map[string]*policyAgg
}

type policyAgg struct {
	policy   Policy
	summary  Summary
	failures map[string]*FailureDetails
}

// Record counts one session under p that ended at t: a success when f is
// nil, else a failure described by f (its FailedSessionCount is ignored;
// each call counts one session). p.Domain is normalised; a session whose
// policy domain is not a valid name is dropped.
func (a *Aggregator) Record(p Policy, t time.Time, f *FailureDetails) {
	d, err := dnsname.Normalize(p.Domain)
	if err != nil {
		a.mu.Lock()
		a.dropped++
		a.mu.Unlock()
		return
	}
	p.Domain = d
	day := t.UTC().Truncate(24 * time.Hour).Unix()
	key := dayDomain{day, d}
	var buf [512]byte
	pk := p.appendKey(buf[:0])

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.days == nil {
		a.days = make(map[dayDomain]*domainAgg)
		a.perDay = make(map[int64]int)
	}
	da, ok := a.days[key]
	if !ok {
		max := a.MaxDomains
		if max <= 0 {
			max = DefaultMaxDomains
		}
		if a.perDay[day] >= max {
			a.dropped++
			return
		}
		da = &domainAgg{policies: make(map[string]*policyAgg)}
		a.days[key] = da
		a.perDay[day]++
	}
	pa, ok := da.policies[string(pk)]
	if !ok {
		p.String = slices.Clone(p.String)
		p.MXHost = slices.Clone(p.MXHost)
		pa = &policyAgg{policy: p, failures: make(map[string]*FailureDetails)}
		da.policies[string(pk)] = pa
	}
	if f == nil {
		pa.summary.TotalSuccessfulSessionCount++
		return
	}
	pa.summary.TotalFailureSessionCount++
	fk := f.appendKey(pk[:0])
	if fd, ok := pa.failures[string(fk)]; ok {
		fd.FailedSessionCount++
		return
	}
	max := a.MaxFailureDetails
	if max <= 0 {
		max = DefaultMaxFailureDetails
	}
	if len(pa.failures) >= max {
		return
	}
	fd := *f
	fd.FailedSessionCount = 1
	pa.failures[string(fk)] = &fd
}

// RecordSession counts one session under p that ended at t with err (nil
// for a session whose TLS succeeded): a success, or a failure described by
// Details(err, s). A session whose error is not a TLS outcome (Classify's
// ok is false: the server rejected the session, the connection dropped
// before STARTTLS) is neither, and is not recorded; RecordSession then
// returns false.
func (a *Aggregator) RecordSession(p Policy, t time.Time, err error, s Session) bool {
	if err == nil {
		a.Record(p, t, nil)
		return true
	}
	f := Details(err, s)
	if f == nil {
		return false
	}
	a.Record(p, t, f)
	return true
}

// Dropped returns how many sessions were not recorded because of the
// bounds or an invalid policy domain.
func (a *Aggregator) Dropped() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dropped
}

// Meta is what a report says about its submitter.
type Meta struct {
	// OrganizationName is the name of the organisation sending reports.
	OrganizationName string
	// ContactInfo is an e-mail address or URL for questions.
	ContactInfo string
	// Submitter is the domain name of the sending MTA system, for the
	// report ID, the file name and the mail headers (RFC 8460 §5.3).
	Submitter string
}

// ReportID returns the report ID this package gives the report of domain
// for the UTC day starting at day: "<YYYYMMDD>.<domain>@<submitter>".
func ReportID(day time.Time, domain, submitter string) string {
	return day.UTC().Format("20060102") + "." + domain + "@" + submitter
}

// Flush returns the reports of every policy domain for each UTC day that
// ended at or before now, and forgets them. Reports are sorted by day, then
// domain; their contents are in a stable order.
func (a *Aggregator) Flush(now time.Time, meta Meta) []*Report {
	cut := now.UTC().Truncate(24 * time.Hour).Unix()
	a.mu.Lock()
	var keys []dayDomain
	aggs := map[dayDomain]*domainAgg{}
	for k, da := range a.days {
		if k.day < cut {
			keys = append(keys, k)
			aggs[k] = da
			delete(a.days, k)
			delete(a.perDay, k.day)
		}
	}
	a.mu.Unlock()
	slices.SortFunc(keys, func(x, y dayDomain) int {
		if x.day != y.day {
			if x.day < y.day {
				return -1
			}
			return 1
		}
		return strings.Compare(x.domain, y.domain)
	})
	reports := make([]*Report, 0, len(keys))
	for _, k := range keys {
		reports = append(reports, build(k, aggs[k], meta))
	}
	return reports
}

// Report returns, without forgetting anything, the report so far of domain
// for the UTC day holding t; nil when nothing was recorded.
func (a *Aggregator) Report(domain string, t time.Time, meta Meta) *Report {
	d, err := dnsname.Normalize(domain)
	if err != nil {
		return nil
	}
	k := dayDomain{t.UTC().Truncate(24 * time.Hour).Unix(), d}
	a.mu.Lock()
	defer a.mu.Unlock()
	da, ok := a.days[k]
	if !ok {
		return nil
	}
	return build(k, da, meta)
}

// build makes a report from an aggregate; the caller holds the lock or
// owns da.
func build(k dayDomain, da *domainAgg, meta Meta) *Report {
	start := time.Unix(k.day, 0).UTC()
	r := &Report{
		OrganizationName: meta.OrganizationName,
		DateRange:        DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ContactInfo:      meta.ContactInfo,
		ReportID:         ReportID(start, k.domain, meta.Submitter),
	}
	for _, pa := range da.policies {
		pr := PolicyResult{Policy: pa.policy, Summary: pa.summary}
		pr.Policy.String = slices.Clone(pa.policy.String)
		pr.Policy.MXHost = slices.Clone(pa.policy.MXHost)
		for _, f := range pa.failures {
			pr.FailureDetails = append(pr.FailureDetails, *f)
		}
		r.Policies = append(r.Policies, pr)
	}
	sortReport(r)
	return r
}
