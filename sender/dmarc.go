package sender

import (
	"context"
	"math/rand/v2"
	"strings"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// DKIMStatus is a DKIM verification result, the RFC 8601 §2.7.1 token.
type DKIMStatus string

// The DKIM results of RFC 8601 §2.7.1.
const (
	DKIMNone      DKIMStatus = "none"
	DKIMPass      DKIMStatus = "pass"
	DKIMFail      DKIMStatus = "fail"
	DKIMPolicy    DKIMStatus = "policy"
	DKIMNeutral   DKIMStatus = "neutral"
	DKIMTempError DKIMStatus = "temperror"
	DKIMPermError DKIMStatus = "permerror"
)

// DKIMResult is the verification result of one DKIM-Signature, as the caller's
// DKIM verifier found it. This package verifies no signature: see the interop
// module for one filled from github.com/emersion/go-msgauth/dkim.
type DKIMResult struct {
	Status   DKIMStatus
	Domain   string // the d= tag, the identifier DMARC aligns (RFC 7489 §3.1.1)
	Selector string // the s= tag
	AUID     string // the i= tag, "" when absent
	// BodyHashMismatch is set when the signature failed because the body
	// hash did not match, the usual damage a forwarder or list does.
	BodyHashMismatch bool
	// Reason is a short text for Authentication-Results (reason=), "" for
	// none.
	Reason string
}

// ARCStatus is an ARC chain validation result (RFC 8617 §4.4; the arc=
// method of Authentication-Results).
type ARCStatus string

// The ARC results.
const (
	ARCNone ARCStatus = "none"
	ARCPass ARCStatus = "pass"
	ARCFail ARCStatus = "fail"
)

// ARCResult is the validation of the message's ARC chain, from the caller.
type ARCResult struct {
	Status ARCStatus
	// Sealers holds the d= of each ARC-Seal, instance 1 (the oldest) first;
	// the last one is the sealer that handed the message on.
	Sealers []string
}

// DMARCInput holds the authenticated identifiers of a message for
// EvaluateDMARC.
type DMARCInput struct {
	// From is the author (RFC5322.From) domain.
	From string
	// SPFResult is the SPF result token ("pass", "fail", "temperror", ...;
	// an spf.Result converted with string()), "" for none.
	SPFResult string
	// SPFDomain is the domain SPF authenticated: the MAIL FROM domain, or
	// the HELO name for the null reverse-path (RFC 7489 §3.1.2, RFC 7208
	// §2.4).
	SPFDomain string
	// DKIM holds every DKIM signature's result.
	DKIM []DKIMResult
}

// DMARCResult is the outcome of DMARC evaluation for one author domain.
type DMARCResult struct {
	// Status is the DMARC result.
	Status Status
	// Domain is the normalised author domain; PolicyDomain the name whose
	// record applied; OrgDomain its organizational domain.
	Domain, PolicyDomain, OrgDomain string
	// Record is the policy record, nil when none applies.
	Record *Record
	// Policy is the policy the domain owner asks for a failing message:
	// p=, or sp=/np= for a subdomain when the record came from the
	// organizational (or public suffix) domain; demoted one step for t=y
	// in DMARCbis mode. "" when no record applies.
	Policy Policy
	// PolicyTag is the tag Policy came from: "p", "sp" or "np".
	PolicyTag string
	// Applied is the policy to act on for this message: Policy, or one step
	// softer when pct= sampling left the message out (RFC 7489 §6.6.4).
	Applied Policy
	// SampledOut is set when pct= sampling softened the policy.
	SampledOut bool
	// SPFAligned is set when SPF passed for an identifier aligned with the
	// author domain; SPFDomain and SPFResult are the SPF inputs.
	SPFAligned bool
	SPFDomain  string
	SPFResult  string
	// DKIMAligned is set when a DKIM signature passed with an aligned d=;
	// DKIMDomain is the first such d=.
	DKIMAligned bool
	DKIMDomain  string
	// Err says why the status is temperror or permerror, or why no policy
	// applies (ErrMultipleRecords).
	Err error
}

// EvaluateDMARC evaluates DMARC for one author domain (RFC 7489 §6.6, or RFC
// 9989 §4.10 in DMARCbis mode): policy discovery, identifier alignment, and
// policy selection with pct= sampling.
//
// The error is non-nil exactly when the Status is StatusTempError or
// StatusPermError; StatusFail is a result, not an error.
func (c *Checker) EvaluateDMARC(ctx context.Context, in DMARCInput) (DMARCResult, error) {
	r := c.evaluateDMARC(ctx, newEvalState(), in)
	if r.Status == StatusTempError || r.Status == StatusPermError {
		return r, r.Err
	}
	return r, nil
}

func (c *Checker) evaluateDMARC(ctx context.Context, st *evalState, in DMARCInput) DMARCResult {
	disc := c.discover(ctx, st, in.From)
	res := DMARCResult{
		Domain: disc.Domain, PolicyDomain: disc.PolicyDomain, OrgDomain: disc.OrgDomain,
		Record: disc.Record, Err: disc.Err,
		SPFResult: in.SPFResult, SPFDomain: in.SPFDomain,
	}
	if disc.Status != "" {
		res.Status = disc.Status
		return res
	}
	rec := disc.Record

	// Policy selection.
	res.Policy, res.PolicyTag = rec.Policy, "p"
	if disc.PolicyDomain != disc.Domain {
		if c.DMARCbis {
			// RFC 9989 §4.10.1: sp= if the author domain exists, np= if it
			// does not, else p=.
			exists := true
			if rec.NonexistentPolicy != "" {
				exists = c.domainExists(ctx, disc.Domain)
			}
			switch {
			case !exists:
				res.Policy, res.PolicyTag = rec.NonexistentPolicy, "np"
			case rec.SubdomainPolicy != "":
				res.Policy, res.PolicyTag = rec.SubdomainPolicy, "sp"
			}
		} else if rec.SubdomainPolicy != "" {
			// RFC 7489 §6.3 sp=: applies to subdomains when the record
			// was found at the organizational domain.
			res.Policy, res.PolicyTag = rec.SubdomainPolicy, "sp"
		}
	}
	if c.DMARCbis && rec.Testing {
		// RFC 9989 §4.7 t=y: reject is applied as quarantine, quarantine
		// as none.
		res.Policy = res.Policy.weaker()
	}
	res.Applied = res.Policy

	// Identifier alignment (RFC 7489 §3.1, §4.2).
	var tempErr error
	from := disc.Domain
	if d := normOrEmpty(in.SPFDomain); d != "" {
		switch strings.ToLower(in.SPFResult) {
		case "pass", "temperror":
			ok, err := c.aligned(ctx, st, from, d, rec.EffectiveSPFAlignment())
			switch {
			case err != nil:
				tempErr = err
			case ok && strings.EqualFold(in.SPFResult, "pass"):
				res.SPFAligned = true
			case ok:
				// An aligned identifier whose SPF result is unknown:
				// DMARC might have passed.
				tempErr = &LookupError{Name: d, Err: ErrDNS, Cause: errSPFTemp}
			}
		}
	}
	considered := 0
	for _, k := range in.DKIM {
		if res.DKIMAligned || considered == maxDKIMAlign {
			break
		}
		if k.Status != DKIMPass && k.Status != DKIMTempError {
			continue
		}
		considered++
		d := normOrEmpty(k.Domain)
		if d == "" {
			continue
		}
		ok, err := c.aligned(ctx, st, from, d, rec.EffectiveDKIMAlignment())
		switch {
		case err != nil:
			tempErr = err
		case ok && k.Status == DKIMPass:
			res.DKIMAligned, res.DKIMDomain = true, d
		case ok:
			tempErr = &LookupError{Name: d, Err: ErrDNS, Cause: errDKIMTemp}
		}
	}
	switch {
	case res.SPFAligned || res.DKIMAligned:
		// RFC 7489 §4.2: a pass of either aligned identifier is a pass.
		res.Status = StatusPass
	case tempErr != nil:
		res.Status, res.Err = StatusTempError, tempErr
	default:
		res.Status = StatusFail
	}

	// RFC 7489 §6.6.4: with pct below 100, a failing message left out of
	// the sample gets the next less strict policy. RFC 9989 removed pct.
	if res.Status == StatusFail && !c.DMARCbis && res.Policy != PolicyNone {
		if pct := rec.EffectivePercent(); pct < 100 && c.randN(100) >= pct {
			res.Applied = res.Policy.weaker()
			res.SampledOut = true
		}
	}
	return res
}

// maxDKIMAlign bounds the passing signatures checked for alignment, so that
// a message with many signatures cannot buy many tree walks in DMARCbis
// mode.
const maxDKIMAlign = 16

// errSPFTemp and errDKIMTemp are the causes recorded when an aligned
// identifier's authentication result was itself a temporary error.
var (
	errSPFTemp  = tempCause("SPF result temperror")
	errDKIMTemp = tempCause("DKIM result temperror")
)

type tempCause string

func (t tempCause) Error() string { return string(t) }

func (c *Checker) randN(n int) int {
	if c.Rand != nil {
		v := c.Rand(n)
		if v < 0 || v >= n {
			v = 0
		}
		return v
	}
	return rand.IntN(n)
}

// domainExists reports whether domain exists for DMARC purposes: RFC 9989
// §3 "a non-existent domain is a domain for which there is an NXDOMAIN or
// NODATA response for A, AAAA, and MX records". A temporary failure counts as
// existing, so that np= (usually the strictest policy) is not applied on a
// guess.
func (c *Checker) domainExists(ctx context.Context, domain string) bool {
	r := c.resolver()
	abs := dnsname.Absolute(domain)
	for _, network := range []string{"ip4", "ip6"} {
		ips, err := r.LookupNetIP(ctx, network, abs)
		if len(ips) > 0 || err != nil && !resolver.IsNotFound(err) {
			return true
		}
	}
	mx, err := r.LookupMX(ctx, abs)
	return len(mx) > 0 || err != nil && !resolver.IsNotFound(err)
}

func normOrEmpty(s string) string {
	n, err := dnsname.Normalize(s)
	if err != nil {
		return ""
	}
	return n
}
