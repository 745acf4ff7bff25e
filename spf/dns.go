package spf

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/resolver"
)

// DNS access for the evaluator. Each lookup returns the data, whether the
// lookup was void (NXDOMAIN or NODATA, RFC 7208 §4.6.4), or a *LookupError
// when no definite answer came (RFC 7208 §4.4, §5: temperror).

func (e *eval) lookupErr(name, typ string, err error) error {
	if ctxErr := e.ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return &LookupError{Name: name, Type: typ, Err: err}
}

// query asks the Querier and classifies the answer.
func (e *eval) query(name string, qtype uint16) (*resolver.Answer, bool, error) {
	raw, ok := queryName(name)
	if !ok {
		return nil, true, nil
	}
	a, err := e.q.Query(e.ctx, raw, qtype)
	if err != nil {
		// A name the resolver refuses as invalid does not exist.
		if resolver.IsNotFound(err) && e.ctx.Err() == nil {
			return nil, true, nil
		}
		return nil, false, e.lookupErr(name, dns.TypeToString[qtype], err)
	}
	switch a.Rcode {
	case dns.RcodeSuccess:
		if !a.Authentic {
			e.authentic = false
		}
		return a, len(a.Records) == 0, nil
	case dns.RcodeNameError:
		if !a.Authentic {
			e.authentic = false
		}
		return a, true, nil
	}
	return nil, false, e.lookupErr(name, dns.TypeToString[qtype], &RcodeError{Rcode: a.Rcode})
}

// lookupTXT returns the TXT records of name, each joined; with a Querier
// they are appended to buf, which the caller may provide to avoid an
// allocation.
func (e *eval) lookupTXT(name string, buf []string) ([]string, bool, error) {
	if e.q != nil {
		a, void, err := e.query(name, dns.TypeTXT)
		if err != nil || void {
			return nil, void, err
		}
		out := buf[:0]
		for _, rr := range a.Records {
			if t, ok := rr.(*dns.TXT); ok {
				out = append(out, resolver.JoinTXT(t.Txt))
			}
		}
		return out, len(out) == 0, nil
	}
	raw, ok := queryName(name)
	if !ok {
		return nil, true, nil
	}
	txts, err := e.r.LookupTXT(e.ctx, raw)
	if err != nil {
		if resolver.IsNotFound(err) && e.ctx.Err() == nil {
			return nil, true, nil
		}
		return nil, false, e.lookupErr(name, "TXT", err)
	}
	return txts, len(txts) == 0, nil
}

// lookupIP returns the A (v6 false) or AAAA (v6 true) addresses of name;
// with a Querier they are appended to buf (see lookupTXT).
func (e *eval) lookupIP(name string, v6 bool, buf []netip.Addr) ([]netip.Addr, bool, error) {
	if e.q != nil {
		qtype := dns.TypeA
		if v6 {
			qtype = dns.TypeAAAA
		}
		a, void, err := e.query(name, qtype)
		if err != nil || void {
			return nil, void, err
		}
		out := buf[:0]
		for _, rr := range a.Records {
			switch r := rr.(type) {
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(r.A); ok {
					out = append(out, ip.Unmap())
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(r.AAAA); ok {
					out = append(out, ip)
				}
			}
		}
		return out, len(out) == 0, nil
	}
	network, typ := "ip4", "A"
	if v6 {
		network, typ = "ip6", "AAAA"
	}
	raw, ok := queryName(name)
	if !ok {
		return nil, true, nil
	}
	addrs, err := e.r.LookupNetIP(e.ctx, network, raw)
	if err != nil {
		if resolver.IsNotFound(err) && e.ctx.Err() == nil {
			return nil, true, nil
		}
		return nil, false, e.lookupErr(name, typ, err)
	}
	return addrs, len(addrs) == 0, nil
}

// lookupMX returns the MX host names of name in the resolver's order,
// without trailing dots ("" for a null MX, RFC 7505), appended to buf;
// only the first len(buf) are kept, and more reports whether there were
// others (see lookupTXT).
func (e *eval) lookupMX(name string, buf []string) (hosts []string, more, void bool, err error) {
	hosts = buf[:0]
	if e.q != nil {
		a, void, err := e.query(name, dns.TypeMX)
		if err != nil || void {
			return nil, false, void, err
		}
		for _, rr := range a.Records {
			if m, ok := rr.(*dns.MX); ok {
				if len(hosts) == cap(hosts) {
					return hosts, true, false, nil
				}
				hosts = append(hosts, trimDot(m.Mx))
			}
		}
		return hosts, false, len(hosts) == 0, nil
	}
	raw, ok := queryName(name)
	if !ok {
		return nil, false, true, nil
	}
	mxs, err := e.r.LookupMX(e.ctx, raw)
	if err != nil {
		if resolver.IsNotFound(err) && e.ctx.Err() == nil {
			return nil, false, true, nil
		}
		return nil, false, false, e.lookupErr(name, "MX", err)
	}
	for _, m := range mxs {
		if len(hosts) == cap(hosts) {
			return hosts, true, false, nil
		}
		hosts = append(hosts, trimDot(m.Host))
	}
	return hosts, false, len(hosts) == 0, nil
}

// lookupPTR returns the PTR names of the client IP, without trailing dots.
func (e *eval) lookupPTR() ([]string, bool, error) {
	if e.q != nil {
		name := trimDot(resolver.ReverseAddr(e.ip))
		a, void, err := e.query(name, dns.TypePTR)
		if err != nil || void {
			return nil, void, err
		}
		out := make([]string, 0, len(a.Records))
		for _, rr := range a.Records {
			if p, ok := rr.(*dns.PTR); ok {
				out = append(out, trimDot(p.Ptr))
			}
		}
		return out, len(out) == 0, nil
	}
	names, err := e.r.LookupAddr(e.ctx, e.ip.String())
	if err != nil {
		if resolver.IsNotFound(err) && e.ctx.Err() == nil {
			return nil, true, nil
		}
		return nil, false, e.lookupErr(e.ip.String(), "PTR", err)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = trimDot(n)
	}
	return out, len(out) == 0, nil
}

// queryName returns the raw name that resolver.Querier and
// resolver.Resolver take (as net.Resolver: '.' separates labels, every
// other octet is itself) for a name the evaluator holds in presentation
// form, RFC 1035 §5.1: targetName escapes the octets macros put into names
// (RFC 7208 §7.3), and MX and PTR names from a Querier come escaped by
// miekg/dns. \DDD and \X become their octets. ok is false for a name with a
// '.' octet inside a label, which a raw name cannot express: for the
// evaluator such a name does not exist.
func queryName(name string) (raw string, ok bool) {
	if strings.IndexByte(name, '\\') < 0 {
		return name, true
	}
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]) {
			c = (name[i+1]-'0')*100 + (name[i+2]-'0')*10 + (name[i+3] - '0')
			i += 3
		} else if i+1 < len(name) {
			c = name[i+1]
			i++
		} else {
			return "", false // a lone final backslash escapes nothing
		}
		if c == '.' {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}

func trimDot(s string) string {
	if n := len(s); n > 0 && s[n-1] == '.' {
		return s[:n-1]
	}
	return s
}

func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return strconv.Itoa(rcode)
}
