package dane

import (
	"context"
	"errors"
	"net/netip"
	"strconv"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
)

// Errors of TLSA discovery, wrapped in *LookupError.
var (
	// ErrLookup: a lookup on the DANE path got no definite answer: no
	// response, SERVFAIL (a validating resolver's answer for bogus data)
	// or another failure code. RFC 7672 §2.1.1: such an MX host MUST NOT be
	// used; defer or try the next one.
	ErrLookup = errors.New("dane: DNS lookup failed")
	// ErrNoQuerier: Lookup was called without a Querier.
	ErrNoQuerier = errors.New("dane: no DNS querier configured")
	// ErrName: a host or domain name is not a valid domain name.
	ErrName = errors.New("dane: invalid domain name")
)

// LookupError reports a failed lookup on the DANE path.
type LookupError struct {
	// Name and Qtype are the query that failed.
	Name  string
	Qtype uint16
	// Rcode is the response code received; -1 when no response arrived.
	Rcode int
	// Kind is ErrLookup.
	Kind error
	// Err is the Querier's error, when there was one.
	Err error
}

// Error implements error.
func (e *LookupError) Error() string {
	s := e.Kind.Error() + ": " + e.Name + " " + dns.TypeToString[e.Qtype]
	if e.Rcode >= 0 {
		s += ": " + dns.RcodeToString[e.Rcode]
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and the cause.
func (e *LookupError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Status says what the DNS said about DANE for one MX host.
type Status int

// Statuses.
const (
	// Insecure: DANE does not apply, because the MX lookup, the address
	// lookup or the TLSA lookup was not DNSSEC-secure, or there are no TLSA
	// records (RFC 7672 §2.2). Delivery proceeds as without DANE.
	Insecure Status = iota
	// Authenticated: secure, usable TLSA records exist; the server must
	// present a certificate they match (RFC 7672 §2.2).
	Authenticated
	// EncryptOnly: secure TLSA records exist but none is usable; STARTTLS
	// is mandatory but the server is not authenticated (RFC 7672 §2.2,
	// Postfix's "encrypt" in this case).
	EncryptOnly
)

// String implements fmt.Stringer.
func (s Status) String() string {
	switch s {
	case Insecure:
		return "insecure"
	case Authenticated:
		return "authenticated"
	case EncryptOnly:
		return "encrypt-only"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Input is what the caller learnt from its MX lookup for one MX host.
type Input struct {
	// Domain is the next-hop domain: the recipient domain, or the smart
	// host's when mail goes through one.
	Domain string
	// ExpandedDomain is Domain after CNAME expansion during the MX lookup,
	// "" when there was none.
	ExpandedDomain string
	// MXSecure reports whether the MX RRset was DNSSEC-secure (the
	// Answer's Authentic). Without MX records, and Host equal to Domain, it
	// says whether that absence was secure.
	MXSecure bool
	// Host is the MX host name (or Domain when it has no MX records).
	Host string
	// Port is the SMTP port, for the TLSA owner name _<port>._tcp.<base>.
	// 0 means 25.
	Port int
}

// Host is the outcome of TLSA discovery for one MX host.
type Host struct {
	// Host is the MX host name, normalised.
	Host string
	// Status says whether and how DANE applies.
	Status Status
	// BaseDomain is the TLSA base domain: the CNAME-expanded host name
	// when that expansion and its TLSA records are secure, else Host (RFC
	// 7672 §2.2.2). The client MUST send it as SNI (RFC 7672 §8.1).
	BaseDomain string
	// Addrs are the addresses of Host from its A and AAAA lookups, for
	// dialing.
	Addrs []netip.Addr
	// AddrsSecure reports whether those lookups were DNSSEC-secure.
	AddrsSecure bool
	// Records are the usable TLSA records.
	Records []TLSA
	// Unusable are TLSA records present but unusable (Check fails).
	Unusable []TLSA
	// Names are the reference identifiers for DANE-TA (RFC 7672 §3.2.2):
	// BaseDomain; Host when BaseDomain is its expansion; and, when the MX
	// lookup was secure, Domain and ExpandedDomain.
	Names []string
}

// Verifier returns a Verifier for h's records and names.
func (h *Host) Verifier() *Verifier {
	return &Verifier{Records: h.Records, Names: h.Names}
}

// Lookup finds the TLSA records for in.Host following RFC 7672 §2.2, with
// q, which must report DNSSEC status (a validating resolver the caller
// trusts):
//
//  1. If the MX lookup was insecure, DANE does not apply (Insecure).
//  2. The host's A and AAAA records are looked up; if they are insecure,
//     DANE does not apply. Their CNAME expansion, when secure, is the
//     first candidate TLSA base domain; the host name is the second.
//  3. TLSA records at _25._tcp.<base>: secure and present, they decide
//     (Authenticated, or EncryptOnly when none is usable); absent or
//     insecure, the next candidate is tried, and after the last one DANE
//     does not apply (Insecure).
//
// A lookup that gets no definite answer (no response, SERVFAIL, ...) is an
// error wrapping ErrLookup, in a *LookupError: RFC 7672 §2.1.1 says such a
// host must not be used. Lookup never consults any other resolver.
func Lookup(ctx context.Context, q resolver.Querier, in Input) (*Host, error) {
	if q == nil {
		return nil, ErrNoQuerier
	}
	host, err := dnsname.Normalize(in.Host)
	if err != nil {
		return nil, errors.Join(ErrName, err)
	}
	h := &Host{Host: host, BaseDomain: host}

	// RFC 7672 §2.2.1: the address records are looked up first; only
	// when they are secure can TLSA records be trusted.
	expanded, secure, addrs, err := lookupAddrs(ctx, q, host)
	if err != nil {
		return nil, err
	}
	h.Addrs, h.AddrsSecure = addrs, secure
	// RFC 7672 §2.2: DANE applies only when the MX RRset is secure.
	if !in.MXSecure || !secure {
		return h, nil
	}
	port := in.Port
	if port == 0 {
		port = 25
	}
	candidates := []string{host}
	if expanded != "" && expanded != host {
		// RFC 7672 §2.2.2: the CNAME-expanded name first, then the
		// original name.
		candidates = []string{expanded, host}
	}
	for _, base := range candidates {
		name := "_" + strconv.Itoa(port) + "._tcp." + base + "."
		ans, err := q.Query(ctx, name, dns.TypeTLSA)
		if err != nil {
			return nil, &LookupError{Name: name, Qtype: dns.TypeTLSA, Rcode: -1, Kind: ErrLookup, Err: err}
		}
		switch ans.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
		default:
			// RFC 7672 §2.1.1: bogus or indeterminate: do not use.
			return nil, &LookupError{Name: name, Qtype: dns.TypeTLSA, Rcode: ans.Rcode, Kind: ErrLookup}
		}
		var recs []TLSA
		for _, rr := range ans.Records {
			if t, ok := rr.(*dns.TLSA); ok {
				r, err := FromRR(t)
				if err != nil {
					// Undecodable data: present but unusable.
					h.Unusable = append(h.Unusable, TLSA{Usage: Usage(t.Usage), Selector: Selector(t.Selector), MatchingType: MatchingType(t.MatchingType)})
					continue
				}
				recs = append(recs, r)
			}
		}
		if !ans.Authentic || len(recs) == 0 && len(h.Unusable) == 0 {
			// RFC 7672 §2.2: insecure TLSA records are ignored; absent
			// or ignored records at the expanded name send the client
			// on to the original name, and at the last candidate mean
			// no DANE.
			h.Unusable = nil
			continue
		}
		h.BaseDomain = base
		for _, r := range recs {
			if r.Usable() {
				h.Records = append(h.Records, r)
			} else {
				h.Unusable = append(h.Unusable, r)
			}
		}
		if len(h.Records) > 0 {
			h.Status = Authenticated
		} else {
			h.Status = EncryptOnly
		}
		h.Names = referenceIDs(in, h, base, host)
		return h, nil
	}
	return h, nil
}

// referenceIDs lists the DANE-TA reference identifiers of RFC 7672 §3.2.2.
func referenceIDs(in Input, h *Host, base, host string) []string {
	var names []string
	add := func(n string) {
		if n == "" {
			return
		}
		n, err := dnsname.Normalize(n)
		if err != nil {
			return
		}
		for _, m := range names {
			if m == n {
				return
			}
		}
		names = append(names, n)
	}
	add(base)
	if base != host {
		add(host)
	}
	if in.MXSecure {
		add(in.Domain)
		add(in.ExpandedDomain)
	}
	return names
}

// lookupAddrs looks up A and AAAA for host. It returns the CNAME-expanded
// name (or ""), whether every definite answer was secure, and the
// addresses. One family failing is tolerated when the other answered
// with addresses.
func lookupAddrs(ctx context.Context, q resolver.Querier, host string) (string, bool, []netip.Addr, error) {
	var (
		expanded string
		secure   = true
		addrs    []netip.Addr
		answered int
		firstErr error
	)
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		name := host + "."
		ans, err := q.Query(ctx, name, qt)
		if err != nil {
			if ctx.Err() != nil {
				return "", false, nil, &LookupError{Name: name, Qtype: qt, Rcode: -1, Kind: ErrLookup, Err: ctx.Err()}
			}
			if firstErr == nil {
				firstErr = &LookupError{Name: name, Qtype: qt, Rcode: -1, Kind: ErrLookup, Err: err}
			}
			continue
		}
		if ans.Rcode != dns.RcodeSuccess && ans.Rcode != dns.RcodeNameError {
			if firstErr == nil {
				firstErr = &LookupError{Name: name, Qtype: qt, Rcode: ans.Rcode, Kind: ErrLookup}
			}
			continue
		}
		answered++
		secure = secure && ans.Authentic
		if n := len(ans.CNAMEs); n > 0 {
			if t, err := dnsname.Normalize(ans.CNAMEs[n-1].Target); err == nil {
				expanded = t
			}
		}
		for _, rr := range ans.Records {
			switch a := rr.(type) {
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
					addrs = append(addrs, ip)
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(a.AAAA.To16()); ok {
					addrs = append(addrs, ip)
				}
			}
		}
	}
	if answered == 0 || (len(addrs) == 0 && firstErr != nil) {
		return "", false, nil, firstErr
	}
	// One family failing does not make the other insecure: an attacker who
	// can break one lookup must not be able to switch DANE off.
	return expanded, secure, addrs, nil
}
