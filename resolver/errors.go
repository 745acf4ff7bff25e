package resolver

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"

	"github.com/miekg/dns"
)

// Causes kept in the UnwrapErr field of the *net.DNSError values this package
// returns, for callers that need more than [IsNotFound] and [IsTemporary].
var (
	// ErrNoData means the name exists but has no records of the type asked
	// (NODATA, RFC 2308 §2.2).
	ErrNoData = errors.New("resolver: no records of the requested type")
	// ErrCNAMELoop means a CNAME chain came back to a name already visited.
	ErrCNAMELoop = errors.New("resolver: CNAME loop")
	// ErrCNAMEChain means a CNAME chain was longer than [MaxCNAMEChain].
	ErrCNAMEChain = errors.New("resolver: CNAME chain too long")
	// ErrUnknownAddress means LookupAddr was given something that is not an
	// IP address.
	ErrUnknownAddress = errors.New("resolver: unrecognized address")
	// ErrMalformedResponse means a response could not be parsed or did not
	// answer the question asked.
	ErrMalformedResponse = errors.New("resolver: malformed response")
	// ErrNoServers means a Client has no server to ask.
	ErrNoServers = errors.New("resolver: no DNS servers")
)

// MaxCNAMEChain is the number of CNAME records followed for one lookup before
// giving up with [ErrCNAMEChain]. Resolvers commonly use 8 to 16; longer
// chains are a misconfiguration or an attack.
const MaxCNAMEChain = 10

// RcodeError is the cause of a *net.DNSError built from a response code other
// than NOERROR, for example NXDOMAIN or SERVFAIL.
type RcodeError struct {
	Rcode int // dns.RcodeNameError, dns.RcodeServerFailure, ...
}

// Error names the response code, e.g. "resolver: server answered NXDOMAIN".
func (e *RcodeError) Error() string {
	s, ok := dns.RcodeToString[e.Rcode]
	if !ok {
		s = "RCODE" + strconv.Itoa(e.Rcode)
	}
	return "resolver: server answered " + s
}

// The texts of net.DNSError.Err used by the standard library's resolver, so
// that errors from this package print and compare like net's.
const (
	errTextNoSuchHost   = "no such host"
	errTextMisbehaving  = "server misbehaving"
	errTextTimeout      = "i/o timeout"
	errTextCanceled     = "operation was canceled"
	errTextCNAMELoop    = "CNAME loop"
	errTextCNAMEChain   = "CNAME chain too long"
	errTextUnrecognized = "unrecognized address"
	errTextMalformed    = "cannot unmarshal DNS message"
	errTextNoServers    = "no DNS servers"
)

// notFoundError is NXDOMAIN or NODATA, as net reports both: "no such host"
// with IsNotFound set.
func notFoundError(name, server string, cause error) *net.DNSError {
	return &net.DNSError{Err: errTextNoSuchHost, Name: name, Server: server, IsNotFound: true, UnwrapErr: cause}
}

// rcodeAnswerError maps the RCODE of an answer that carries no usable records
// to the error net would return (checkHeader in net/dnsclient_unix.go):
// NXDOMAIN is not found, SERVFAIL is temporary, anything else is a
// misbehaving server. It returns nil for NOERROR with records.
func rcodeAnswerError(a *Answer, name string) error {
	switch a.Rcode {
	case dns.RcodeSuccess:
		if len(a.Records) == 0 {
			return notFoundError(name, a.Server, ErrNoData)
		}
		return nil
	case dns.RcodeNameError:
		return notFoundError(name, a.Server, &RcodeError{Rcode: a.Rcode})
	case dns.RcodeServerFailure:
		return &net.DNSError{Err: errTextMisbehaving, Name: name, Server: a.Server, IsTemporary: true, UnwrapErr: &RcodeError{Rcode: a.Rcode}}
	default:
		return &net.DNSError{Err: errTextMisbehaving, Name: name, Server: a.Server, UnwrapErr: &RcodeError{Rcode: a.Rcode}}
	}
}

// timeoutError is a query that got no response in time. cause is kept.
func timeoutError(name, server string, cause error) *net.DNSError {
	if cause == nil {
		cause = os.ErrDeadlineExceeded
	}
	return &net.DNSError{Err: errTextTimeout, Name: name, Server: server, IsTimeout: true, IsTemporary: true, UnwrapErr: cause}
}

// contextError maps a done context the way net does (mapErr): cancellation is
// "operation was canceled", an expired deadline is a timeout.
func contextError(name, server string, err error) *net.DNSError {
	if errors.Is(err, context.DeadlineExceeded) {
		return timeoutError(name, server, err)
	}
	return &net.DNSError{Err: errTextCanceled, Name: name, Server: server, UnwrapErr: err}
}

// chainError reports a CNAME loop or an over-long chain: temporary, since a
// misconfiguration may be fixed.
func chainError(name, server string, cause error) *net.DNSError {
	text := errTextCNAMEChain
	if errors.Is(cause, ErrCNAMELoop) {
		text = errTextCNAMELoop
	}
	return &net.DNSError{Err: text, Name: name, Server: server, IsTemporary: true, UnwrapErr: cause}
}
