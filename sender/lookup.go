package sender

import (
	"context"
	"errors"
	"strings"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// Status is a DMARC result, the token registered by RFC 7489 §11.2 that goes
// into Authentication-Results as dmarc=<status>.
type Status string

// The DMARC results.
const (
	StatusNone      Status = "none"      // no policy applies
	StatusPass      Status = "pass"      // an aligned identifier passed
	StatusFail      Status = "fail"      // no aligned identifier passed
	StatusTempError Status = "temperror" // a DNS failure prevented a verdict
	StatusPermError Status = "permerror" // the policy record is broken
)

// maxTreeWalkQueries is the DMARCbis bound on one DNS tree walk (RFC 9989
// §4.10: "Author Domains with more than eight labels do not result in more
// than eight DNS queries").
const maxTreeWalkQueries = 8

// Discovery is the outcome of DMARC policy discovery for one author domain.
type Discovery struct {
	// Domain is the normalised author (RFC5322.From) domain.
	Domain string
	// PolicyDomain is the name whose _dmarc record applies ("" when none).
	PolicyDomain string
	// OrgDomain is the organizational domain of Domain: from the public
	// suffix list (RFC 7489), or from the tree walk (DMARCbis mode).
	OrgDomain string
	// Record is the applicable policy record, nil when none.
	Record *Record
	// Status is "" when a record was found, else StatusNone,
	// StatusTempError or StatusPermError.
	Status Status
	// Err says why no record applies (ErrMultipleRecords, a *LookupError,
	// a *SyntaxError); nil when a record was found or simply none exists.
	Err error
	// Queries lists the TXT names asked, in order.
	Queries []string
}

// evalState caches TXT answers during one evaluation, so that the walks for
// the author domain and for the identifiers to align share their queries.
type evalState struct {
	txt     map[string]txtAnswer
	queries []string
}

type txtAnswer struct {
	records []string
	err     error // a *LookupError (temporary failure) or nil
}

func newEvalState() *evalState { return &evalState{txt: make(map[string]txtAnswer, 4)} }

// lookupTXT asks for the TXT records of _dmarc.<domain>. Not found (NXDOMAIN,
// NODATA) is an empty answer; any other failure is a *LookupError.
func (c *Checker) lookupTXT(ctx context.Context, st *evalState, domain string) txtAnswer {
	name := "_dmarc." + domain
	if a, ok := st.txt[name]; ok {
		return a
	}
	st.queries = append(st.queries, name)
	recs, err := c.resolver().LookupTXT(ctx, dnsname.Absolute(name))
	var a txtAnswer
	switch {
	case err == nil:
		a.records = recs
	case resolver.IsNotFound(err):
	default:
		a.err = &LookupError{Name: name, Err: ErrDNS, Cause: err}
	}
	st.txt[name] = a
	return a
}

// selectRecord applies RFC 7489 §6.6.3 steps 2 and 4 to one TXT set: texts
// that are not DMARC records are discarded; several DMARC records mean none.
// It returns the single record, or its syntax error, and whether several
// were found.
func selectRecord(txts []string) (*Record, error, bool) {
	var rec *Record
	var recErr error
	n := 0
	for _, t := range txts {
		r, err := ParseRecord(t)
		if errors.Is(err, ErrNotDMARC) {
			continue
		}
		n++
		rec, recErr = r, err
	}
	if n > 1 {
		return nil, nil, true
	}
	return rec, recErr, false
}

// LookupDMARC discovers the DMARC policy for the author domain domain: RFC
// 7489 §6.6.3 (the domain, then its organizational domain from the public
// suffix list) or, when c.DMARCbis is set, the RFC 9989 §4.10 DNS tree walk.
//
// The error is non-nil exactly when the Status is StatusTempError or
// StatusPermError, and is then also in Discovery.Err. Several records at the
// name that decides give StatusNone with Err ErrMultipleRecords; no record
// gives StatusNone with a nil Err. An invalid domain gives StatusPermError
// with ErrInvalidDomain.
func (c *Checker) LookupDMARC(ctx context.Context, domain string) (Discovery, error) {
	d := c.discover(ctx, newEvalState(), domain)
	if d.Status == StatusTempError || d.Status == StatusPermError {
		return d, d.Err
	}
	return d, nil
}

func (c *Checker) discover(ctx context.Context, st *evalState, domain string) Discovery {
	norm, err := dnsname.Normalize(domain)
	if err != nil || norm == "" || strings.ContainsAny(norm, "[]:") {
		// An address literal (RFC 5322 §3.4.1 domain-literal) publishes
		// no DMARC record.
		return Discovery{Domain: domain, Status: StatusPermError, Err: errors.Join(ErrInvalidDomain, err)}
	}
	var d Discovery
	if c.DMARCbis {
		d = c.discoverTreeWalk(ctx, st, norm)
	} else {
		d = c.discoverRFC7489(ctx, st, norm)
	}
	d.Queries = append([]string(nil), st.queries...)
	return d
}

// discoverRFC7489 is RFC 7489 §6.6.3.
func (c *Checker) discoverRFC7489(ctx context.Context, st *evalState, domain string) Discovery {
	d := Discovery{Domain: domain, OrgDomain: OrganizationalDomain(c.SuffixList, domain)}
	try := func(name string) bool {
		// Step 1 / step 3: query _dmarc.<name>.
		a := c.lookupTXT(ctx, st, name)
		if a.err != nil {
			d.Status, d.Err = StatusTempError, a.err
			return true
		}
		rec, recErr, multiple := selectRecord(a.records)
		switch {
		case multiple:
			// Step 4: "If the remaining set contains multiple records ...
			// the Mail Receiver ... applies no DMARC processing".
			d.Status, d.Err = StatusNone, ErrMultipleRecords
			d.PolicyDomain = name
			return true
		case recErr != nil:
			d.Status, d.Err = StatusPermError, recErr
			d.PolicyDomain = name
			return true
		case rec != nil:
			d.Record, d.PolicyDomain = rec, name
			return true
		}
		return false
	}
	if try(domain) {
		return d
	}
	// Step 3: no record at the author domain: ask at the organizational
	// domain, if it differs.
	if d.OrgDomain != domain && try(d.OrgDomain) {
		return d
	}
	d.Status = StatusNone
	return d
}

// walkStep is one query of a DNS tree walk.
type walkStep struct {
	name   string
	record *Record // the single valid record, nil if none
}

// treeWalk performs the RFC 9989 §4.10 DNS tree walk from start: at most 8
// queries, stopping at a record with psd=y or psd=n. A temporary DNS failure
// ends the walk with a *LookupError: the names above could not be examined.
func (c *Checker) treeWalk(ctx context.Context, st *evalState, start string) ([]walkStep, error) {
	var steps []walkStep
	target := start
	for q := 0; q < maxTreeWalkQueries; q++ {
		a := c.lookupTXT(ctx, st, target)
		if a.err != nil {
			return steps, a.err
		}
		// Step 6: records that are not DMARC are discarded; several
		// records are all discarded; an invalid record is not a "valid
		// DMARC Policy Record" and is skipped too.
		rec, recErr, multiple := selectRecord(a.records)
		if multiple || recErr != nil {
			rec = nil
		}
		steps = append(steps, walkStep{name: target, record: rec})
		if rec != nil && (rec.PSD == PSDYes || rec.PSD == PSDNo) {
			break
		}
		n := labelCount(target)
		if n == 1 {
			break
		}
		// Step 4: a name of eight or more labels is shortened to seven;
		// step 7: otherwise remove the left-most label.
		if q == 0 && n >= maxTreeWalkQueries {
			target = lastLabels(target, maxTreeWalkQueries-1)
		} else {
			target = target[strings.IndexByte(target, '.')+1:]
		}
	}
	return steps, nil
}

// orgFromWalk selects the organizational domain from a tree walk (RFC 9989
// §4.10.2).
func orgFromWalk(start string, steps []walkStep) string {
	// From the longest name to the shortest.
	for _, s := range steps {
		if s.record == nil {
			continue
		}
		switch {
		case s.record.PSD == PSDNo:
			// Rule 1: psd=n: this is the organizational domain.
			return s.name
		case s.record.PSD == PSDYes && s.name != start:
			// Rule 2: psd=y above the start: one label below it.
			return lastLabels(start, labelCount(s.name)+1)
		}
	}
	// Rule 3: the record at the name with the fewest labels.
	best := ""
	for _, s := range steps {
		if s.record != nil && (best == "" || labelCount(s.name) < labelCount(best)) {
			best = s.name
		}
	}
	if best != "" {
		return best
	}
	// "If this process does not determine the Organizational Domain, then
	// the initial target domain is the Organizational Domain."
	return start
}

// discoverTreeWalk is RFC 9989 §4.10.1 policy discovery.
func (c *Checker) discoverTreeWalk(ctx context.Context, st *evalState, domain string) Discovery {
	d := Discovery{Domain: domain}
	// The first query is at the author domain itself; it is also the first
	// step of the walk for the organizational domain, so the walk shares it.
	a := c.lookupTXT(ctx, st, domain)
	if a.err != nil {
		d.Status, d.Err = StatusTempError, a.err
		return d
	}
	rec, recErr, multiple := selectRecord(a.records)
	if recErr != nil && !multiple {
		d.Status, d.Err, d.PolicyDomain = StatusPermError, recErr, domain
		return d
	}
	steps, err := c.treeWalk(ctx, st, domain)
	if err != nil {
		d.Status, d.Err = StatusTempError, err
		if rec != nil {
			// The author domain's own record applies whatever is above it;
			// only its organizational domain is unknown.
			d.Status, d.Err = "", nil
			d.Record, d.PolicyDomain, d.OrgDomain = rec, domain, domain
		}
		return d
	}
	d.OrgDomain = orgFromWalk(domain, steps)
	if rec != nil {
		d.Record, d.PolicyDomain = rec, domain
		return d
	}
	// The record of the organizational domain, else that of the public
	// suffix domain (a psd=y record found by the walk).
	var psd *walkStep
	for i := range steps {
		s := &steps[i]
		if s.name == domain || s.record == nil {
			continue
		}
		if s.name == d.OrgDomain {
			d.Record, d.PolicyDomain = s.record, s.name
			return d
		}
		if s.record.PSD == PSDYes {
			psd = s
		}
	}
	if psd != nil {
		d.Record, d.PolicyDomain = psd.record, psd.name
		return d
	}
	d.Status = StatusNone
	if multiple {
		d.Err = ErrMultipleRecords
	}
	return d
}

// orgDomain returns the organizational domain of a normalised domain, from
// the public suffix list or, in DMARCbis mode, from a tree walk.
func (c *Checker) orgDomain(ctx context.Context, st *evalState, domain string) (string, error) {
	if !c.DMARCbis {
		return OrganizationalDomain(c.SuffixList, domain), nil
	}
	steps, err := c.treeWalk(ctx, st, domain)
	if err != nil {
		return "", err
	}
	return orgFromWalk(domain, steps), nil
}

// OrganizationalDomain returns the organizational domain of domain the way
// this Checker computes it: from the public suffix list (ICANN section, see
// the package function OrganizationalDomain), or by the RFC 9989 §4.10 DNS
// tree walk when c.DMARCbis is set. The error is a *LookupError for a DNS
// failure during the walk, or wraps ErrInvalidDomain.
func (c *Checker) OrganizationalDomain(ctx context.Context, domain string) (string, error) {
	norm, err := dnsname.Normalize(domain)
	if err != nil || norm == "" {
		return "", errors.Join(ErrInvalidDomain, err)
	}
	return c.orgDomain(ctx, newEvalState(), norm)
}

// Aligned reports whether the authenticated identifier id is aligned with
// the author domain from (RFC 7489 §3.1): equal in strict mode (the public
// suffix list is never consulted), or sharing their organizational domain in
// relaxed mode. Both must be normalised. In DMARCbis mode the relaxed check
// performs tree walks and may return a *LookupError.
func (c *Checker) Aligned(ctx context.Context, from, id string, mode Alignment) (bool, error) {
	return c.aligned(ctx, newEvalState(), from, id, mode)
}

func (c *Checker) aligned(ctx context.Context, st *evalState, from, id string, mode Alignment) (bool, error) {
	from, id = strings.ToLower(dnsname.Relative(from)), strings.ToLower(dnsname.Relative(id))
	if from == "" || id == "" {
		return false, nil
	}
	if from == id {
		return true, nil
	}
	if mode == AlignStrict {
		// Strict: exact match only; never the organizational domain
		// (OpenDMARC PR #354).
		return false, nil
	}
	// The organizational domain of id is id or one of its ancestors, so
	// when id is not below the one of from they cannot be equal: skip the
	// second lookup (a tree walk in DMARCbis mode).
	a, err := c.orgDomain(ctx, st, from)
	if err != nil {
		return false, err
	}
	if !dnsname.IsSubdomain(id, a) {
		return false, nil
	}
	b, err := c.orgDomain(ctx, st, id)
	if err != nil {
		return false, err
	}
	return a == b, nil
}
