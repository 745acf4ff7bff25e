package requiretls

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// Errors of LookupMX.
var (
	// ErrNoDomain: the domain does not exist (NXDOMAIN). Permanent.
	ErrNoDomain = errors.New("requiretls: domain does not exist")
	// ErrNullMX: the domain publishes a null MX (RFC 7505): it accepts no
	// mail. Permanent.
	ErrNullMX = errors.New("requiretls: domain accepts no mail (null MX)")
	// ErrMXLookup: the MX lookup gave no usable answer (a timeout,
	// SERVFAIL, a malformed name). Temporary: try again later.
	ErrMXLookup = errors.New("requiretls: MX lookup failed")
)

// MXHost is one next-hop host, as RFC 5321 §5.1 orders them.
type MXHost struct {
	Host       string // lower-case A-label, without the trailing dot
	Preference uint16
}

// MXSet is the result of LookupMX: the hosts to try, in order, and how their
// names were authenticated (RFC 8689 §4.2.1 step 2).
type MXSet struct {
	// Hosts are sorted by preference (ties keep the DNS order). For an
	// implicit MX it is the domain itself.
	Hosts []MXHost
	// Auth is MXDNSSEC when the MX RRset came with the AD bit from a
	// trusted validating resolver, MXImplicit when the domain has no MX
	// records, and MXUnauthenticated otherwise. A caller that matches a host
	// against the domain's MTA-STS enforce policy (RFC 8461 §4.1) passes
	// MXMTASTS for that host to the gate instead.
	Auth MXAuth
}

// LookupMX finds the next hops of domain for a REQUIRETLS message through
// q, a resolver that reports the DNSSEC AD bit (resolver.Client,
// resolver.Zone): the MX RRset, or the domain itself when it has none
// (RFC 5321 §5.1), and whether the names are authenticated. It takes a
// resolver.Querier rather than a net.Resolver on purpose: the MX check of
// RFC 8689 §4.2.1 needs the AD bit, which net.Resolver cannot report.
//
// Errors: ErrNoDomain (NXDOMAIN) and ErrNullMX (RFC 7505) are permanent;
// ErrMXLookup wraps everything that leaves the answer unknown.
func LookupMX(ctx context.Context, q resolver.Querier, domain string) (*MXSet, error) {
	name, err := dnsname.Normalize(domain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMXLookup, err)
	}
	a, err := q.Query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMXLookup, err)
	}
	switch a.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, ErrNoDomain
	default:
		return nil, fmt.Errorf("%w: %s for %s", ErrMXLookup, dns.RcodeToString[a.Rcode], name)
	}
	var hosts []MXHost
	for _, rr := range a.Records {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		host := strings.TrimSuffix(strings.ToLower(mx.Mx), ".")
		if host == "" {
			// RFC 7505 §3: a single MX "." means no mail service.
			if len(a.Records) == 1 {
				return nil, ErrNullMX
			}
			continue
		}
		h, err := dnsname.Normalize(host)
		if err != nil {
			continue // an unusable target is skipped, as MTAs do
		}
		hosts = append(hosts, MXHost{Host: h, Preference: mx.Preference})
	}
	if len(a.Records) == 0 {
		// RFC 5321 §5.1: no MX records, the domain is its own host.
		return &MXSet{Hosts: []MXHost{{Host: name}}, Auth: MXImplicit}, nil
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: no usable MX target for %s", ErrMXLookup, name)
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].Preference < hosts[j].Preference })
	set := &MXSet{Hosts: hosts, Auth: MXUnauthenticated}
	if a.Authentic {
		set.Auth = MXDNSSEC
	}
	return set, nil
}
