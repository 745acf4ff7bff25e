package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// Resolver is the DNS interface the protocol packages use. It is a strict
// subset of the method set of *net.Resolver, so net.DefaultResolver works
// unchanged.
//
// Errors follow the standard library: a *net.DNSError whose IsNotFound is true
// means the name does not exist (NXDOMAIN) or has no records of the type asked
// (NODATA); IsTimeout or IsTemporary mean the answer is unknown. Use
// [IsNotFound] and [IsTemporary] to classify them.
type Resolver interface {
	// LookupTXT returns the TXT records of name, the character-strings of
	// each record joined without a separator.
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupMX returns the MX records of name sorted by preference, with
	// absolute target names.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupNetIP returns the addresses of host; network is "ip4" or "ip6"
	// ("ip" asks for both).
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	// LookupAddr returns the PTR names of addr, absolute.
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Querier exposes what net.Resolver hides: the response code, which tells
// NXDOMAIN from SERVFAIL, and the DNSSEC AD bit (RFC 4035 §3.2.3).
//
// Query returns an *Answer for every response that arrived, whatever its
// RCODE; its error means no usable response arrived (timeout, network error,
// cancelled context, malformed response). Code that needs DNSSEC takes a
// Querier, so that a *net.Resolver cannot be passed by mistake; code that can
// use it checks for it with a type assertion.
type Querier interface {
	Query(ctx context.Context, name string, qtype uint16) (*Answer, error)
}

// Answer is one DNS response, after CNAME chains have been followed.
type Answer struct {
	// Name is the name that was asked, in the canonical presentation
	// form of [CanonicalName]: absolute, lower case, A-labels, special
	// octets escaped ("a b.example" is "a\ b.example.").
	Name string
	// Rcode is the response code of the final response: dns.RcodeSuccess
	// (with no Records for NODATA), dns.RcodeNameError (NXDOMAIN),
	// dns.RcodeServerFailure, ...
	Rcode int
	// Authentic is the AD bit of every response in the chain, and only true
	// when the response came from a server the caller trusts to validate
	// DNSSEC (RFC 4035 §4.9.3, RFC 6698 §4.1).
	Authentic bool
	// Records holds the answer records of the asked type (after CNAMEs).
	Records []dns.RR
	// CNAMEs holds the CNAME records followed to reach Records, in order.
	CNAMEs []*dns.CNAME
	// Server is the address (host:port) of the server that sent the final
	// response, or "" when the answer came from memory (a [Zone]).
	Server string
}

// NXDomain reports whether the name does not exist.
func (a *Answer) NXDomain() bool { return a.Rcode == dns.RcodeNameError }

// NoData reports whether the name exists but has no records of the type asked.
func (a *Answer) NoData() bool { return a.Rcode == dns.RcodeSuccess && len(a.Records) == 0 }

// IsNotFound reports whether err says that the name does not exist or has no
// records of the type asked (NXDOMAIN or NODATA): a definite answer, which SPF
// calls a void lookup (RFC 7208 §4.6.4).
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// IsTemporary reports whether err says that the answer is unknown for now: a
// timeout, a server failure, a network error or a cancelled context. Any error
// that is not [IsNotFound] is treated as temporary, since nothing definite was
// learnt.
func IsTemporary(err error) bool {
	return err != nil && !IsNotFound(err)
}
