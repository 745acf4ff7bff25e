package sender

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// IPRevStatus is an iprev result (RFC 8601 §2.7.3).
type IPRevStatus string

// The iprev results. IPRevNone is used in a Verdict when the check did not
// run (an internal relay, or Checker.DisableIPRev).
const (
	IPRevNone      IPRevStatus = "none"
	IPRevPass      IPRevStatus = "pass"
	IPRevFail      IPRevStatus = "fail"
	IPRevTempError IPRevStatus = "temperror"
	IPRevPermError IPRevStatus = "permerror"
)

// Errors of iprev, in IPRevResult.Err.
var (
	// ErrNoPTR: the address has no PTR records (permerror).
	ErrNoPTR = errors.New("sender: iprev: no PTR records")
	// ErrNotConfirmed: no PTR name resolves back to the address (fail).
	ErrNotConfirmed = errors.New("sender: iprev: no PTR name resolves to the address")
)

// IPRevResult is the outcome of an iprev check.
type IPRevResult struct {
	Status IPRevStatus
	IP     netip.Addr
	// Name is the first PTR name that resolved back to IP, "" unless pass.
	Name string
	// Names holds the PTR names that were checked (at most
	// Checker.MaxPTRNames), normalised, without trailing dot.
	Names []string
	// Err says why the result is not pass: ErrNoPTR, a *LookupError, or
	// ErrNotConfirmed.
	Err error
}

const (
	defaultMaxPTRNames  = 10
	defaultIPRevTimeout = 10 * time.Second
)

// IPRev performs the "iprev" check of RFC 8601 §3: the PTR names of ip, each
// (at most Checker.MaxPTRNames of them) forward-confirmed by an A or AAAA
// lookup. The whole check is bounded by Checker.IPRevTimeout.
//
// Results (RFC 8601 §2.7.3): pass when a name resolves back to ip; fail when
// PTR names exist but none does; permerror when there is no PTR data;
// temperror when a lookup failed temporarily and no name confirmed. The
// error is non-nil exactly when the status is temperror or permerror.
func (c *Checker) IPRev(ctx context.Context, ip netip.Addr) (IPRevResult, error) {
	r := c.iprev(ctx, ip)
	if r.Status == IPRevTempError || r.Status == IPRevPermError {
		return r, r.Err
	}
	return r, nil
}

func (c *Checker) iprev(ctx context.Context, ip netip.Addr) IPRevResult {
	ip = ip.Unmap()
	res := IPRevResult{IP: ip}
	if !ip.IsValid() {
		res.Status, res.Err = IPRevPermError, ErrNoClientIP
		return res
	}
	timeout := c.IPRevTimeout
	if timeout <= 0 {
		timeout = defaultIPRevTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := c.resolver()

	ptrs, err := r.LookupAddr(ctx, ip.String())
	switch {
	case err != nil && resolver.IsNotFound(err), err == nil && len(ptrs) == 0:
		res.Status, res.Err = IPRevPermError, ErrNoPTR
		return res
	case err != nil:
		res.Status, res.Err = IPRevTempError, &LookupError{Name: ip.String(), Err: ErrDNS, Cause: err}
		return res
	}
	max := c.MaxPTRNames
	if max <= 0 {
		max = defaultMaxPTRNames
	}
	network := "ip4"
	if ip.Is6() {
		network = "ip6"
	}
	var tempErr error
	for _, p := range ptrs {
		if len(res.Names) >= max {
			// RFC 8601 §3 leaves the bound to the receiver; RFC 7208
			// §4.6.4 uses 10 PTR names for the same check.
			break
		}
		name, err := dnsname.Normalize(p)
		if err != nil || name == "" {
			continue
		}
		res.Names = append(res.Names, name)
		addrs, err := r.LookupNetIP(ctx, network, dnsname.Absolute(name))
		if err != nil {
			if !resolver.IsNotFound(err) && tempErr == nil {
				tempErr = &LookupError{Name: name, Err: ErrDNS, Cause: err}
			}
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == ip {
				res.Status, res.Name = IPRevPass, name
				return res
			}
		}
	}
	switch {
	case tempErr != nil:
		res.Status, res.Err = IPRevTempError, tempErr
	case len(res.Names) == 0:
		res.Status, res.Err = IPRevPermError, ErrNoPTR
	default:
		res.Status, res.Err = IPRevFail, ErrNotConfirmed
	}
	return res
}
