package resolver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Failure is a fault a [Zone] can be told to produce for a name, to test how
// callers handle DNS trouble.
type Failure uint8

// Failures for [Zone.SetFailure].
const (
	// FailNone answers normally; it clears an earlier failure.
	FailNone Failure = iota
	// FailServFail answers with RCODE SERVFAIL, as a validating resolver
	// does when DNSSEC validation fails or the authoritative servers are
	// unreachable.
	FailServFail
	// FailRefused answers with RCODE REFUSED.
	FailRefused
	// FailTimeout gives no answer: [Zone.Query] returns a timeout error at
	// once (it does not wait), and resolvertest.Server drops the query so
	// that the client times out.
	FailTimeout
)

// String returns the name of the failure, for test output.
func (f Failure) String() string {
	switch f {
	case FailNone:
		return "none"
	case FailServFail:
		return "SERVFAIL"
	case FailRefused:
		return "REFUSED"
	case FailTimeout:
		return "timeout"
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
}

// Zone is an in-memory DNS database that answers like a validating recursive
// resolver. It implements [Resolver] and [Querier], and [dns.Handler] so that
// it can be served on the wire (see resolvertest.Server).
//
// Records come from zone-file text ([ParseZone], [Zone.Add]) or from
// [dns.RR] values ([Zone.AddRR]). Answers follow the DNS rules: a name that
// exists with other types, or only has names below it (an empty non-terminal,
// RFC 8020), gives NODATA; a name that does not exist gives NXDOMAIN; CNAME
// chains are followed up to [MaxCNAMEChain] (RFC 1034 §4.3.2); wildcards
// synthesise records for names that do not exist (RFC 4592 §3.3.1); names
// compare without regard to ASCII case (RFC 4343). Names in zone text and
// records are in presentation format and may hold any octet (RFC 2181 §11)
// through escapes; the names given to methods are raw (see the package
// documentation).
//
// The zero value is an empty zone with origin ".". A Zone is safe for
// concurrent use; it may be changed while it is being queried.
type Zone struct {
	mu       sync.RWMutex
	origin   string                 // absolute, lower case; "" means "."
	names    map[string]*zoneNode   // absolute lower-case owner name -> node
	failures map[failureKey]Failure // injected faults
	secure   map[string]bool        // DNSSEC status of a name and the names below it
}

// zoneNode holds the records of one owner name; a node without records is an
// empty non-terminal.
type zoneNode struct {
	rrs []dns.RR
}

type failureKey struct {
	name  string
	qtype uint16 // 0: every type
}

// ZoneError reports a zone file, or a record added to a zone, that could not
// be used.
type ZoneError struct {
	// Line is the line of the zone text where the error was found, counting
	// from 1, or 0 when the error is not tied to a line.
	Line int
	// Name is the owner name concerned, when known.
	Name string
	// Err is the cause: a *dns.ParseError from the zone-file parser, or one
	// of ErrCNAMEAndOtherData, ErrRecordClass, ErrBadRecord, or a
	// *dnsname.Error (or *NameError, for an unescaped U-label that is not
	// valid UTF-8) for an owner name that is refused.
	Err error
}

// MaxZoneRecords bounds the records read from one zone text by [ParseZone]
// or [Zone.Add], so that hostile input cannot exhaust memory.
const MaxZoneRecords = 100_000

// Errors wrapped by [ZoneError].
var (
	// ErrCNAMEAndOtherData means a name would hold a CNAME and other
	// records, which RFC 1034 §3.6.2 and RFC 2181 §10.1 forbid.
	ErrCNAMEAndOtherData = errors.New("resolver: CNAME and other data at the same name")
	// ErrRecordClass means a record is not of class IN.
	ErrRecordClass = errors.New("resolver: record class is not IN")
	// ErrTooManyRecords means one zone text held more than
	// MaxZoneRecords records ($GENERATE can expand a short line into
	// thousands).
	ErrTooManyRecords = errors.New("resolver: too many records in zone text")
	// ErrBadRecord means a record has missing or unusable data: it cannot
	// be written in zone-file format and read back as the same record.
	ErrBadRecord = errors.New("resolver: record data missing or unusable")
)

// Error describes the problem, with the line and name when known.
func (e *ZoneError) Error() string {
	var b strings.Builder
	b.WriteString("resolver: zone")
	if e.Line > 0 {
		b.WriteString(" line " + strconv.Itoa(e.Line))
	}
	if e.Name != "" {
		b.WriteString(" name " + strconv.Quote(e.Name))
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *ZoneError) Unwrap() error { return e.Err }

// ParseZone reads a zone in the standard master-file format of RFC 1035 §5
// (with $ORIGIN, $TTL, relative names, parentheses, multi-string TXT; $INCLUDE
// is refused) and returns a Zone holding its records. origin is the initial
// $ORIGIN; "" means the root. Records without a TTL and without $TTL get
// 3600 seconds.
//
// A file that cannot be parsed gives a *ZoneError whose Line names the line.
// At most [MaxZoneRecords] records are read.
func ParseZone(r io.Reader, origin string) (*Zone, error) {
	o, err := presentationKey(origin)
	if err != nil && origin != "" {
		return nil, &ZoneError{Name: origin, Err: err}
	}
	if origin == "" {
		o = "."
	}
	z := &Zone{origin: o}
	if err := z.addText(r, o); err != nil {
		return nil, err
	}
	return z, nil
}

// Add adds the records of text, in zone-file format, relative to the origin
// given to [ParseZone] (the root for a zero Zone). text may hold several
// lines and $TTL or $ORIGIN directives. Records already present are not
// duplicated (RFC 2181 §5). On error no record of text is added.
func (z *Zone) Add(text string) error {
	z.mu.RLock()
	o := z.origin
	z.mu.RUnlock()
	if o == "" {
		o = "."
	}
	return z.addText(strings.NewReader(text), o)
}

func (z *Zone) addText(r io.Reader, origin string) error {
	zp := dns.NewZoneParser(r, origin, "")
	zp.SetIncludeAllowed(false)
	zp.SetDefaultTTL(3600)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if len(rrs) == MaxZoneRecords {
			return &ZoneError{Name: rr.Header().Name, Err: ErrTooManyRecords}
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return &ZoneError{Line: parseErrorLine(err), Err: err}
	}
	return z.AddRR(rrs...)
}

// parseErrorLine extracts the line number from a *dns.ParseError, which
// exposes it only in its text ("... at line: 3:14").
func parseErrorLine(err error) int {
	s := err.Error()
	i := strings.LastIndex(s, " at line: ")
	if i < 0 {
		return 0
	}
	s = s[i+len(" at line: "):]
	if j := strings.IndexByte(s, ':'); j >= 0 {
		s = s[:j]
	}
	n, _ := strconv.Atoi(s)
	return n
}

// AddRR adds records to the zone. The records are copied. Records of a class
// other than IN, or a CNAME next to other data, are refused with a
// *ZoneError; on error no record is added.
func (z *Zone) AddRR(rrs ...dns.RR) error {
	type item struct {
		owner string
		rr    dns.RR
	}
	items := make([]item, 0, len(rrs))
	for _, rr := range rrs {
		if rr == nil {
			continue
		}
		h := rr.Header()
		if h.Class != dns.ClassINET {
			return &ZoneError{Name: h.Name, Err: ErrRecordClass}
		}
		owner, err := presentationKey(h.Name)
		if err != nil {
			return &ZoneError{Name: h.Name, Err: err}
		}
		c := dns.Copy(rr)
		c.Header().Name = owner // the key: A-labels, lower case (RFC 4343 allows either)
		if badRdata(c) {
			return &ZoneError{Name: h.Name, Err: ErrBadRecord}
		}
		items = append(items, item{owner, c})
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.names == nil {
		z.names = make(map[string]*zoneNode)
	}
	// Check first, so that a refused batch leaves the zone unchanged. Each
	// owner's records are scanned once per batch, so that a zone text with
	// many records at one name ($GENERATE) costs linear time, not
	// quadratic.
	type ownerState struct {
		cnames []dns.RR // CNAME records, existing and pending
		other  bool     // records other than CNAME and DNSSEC
	}
	states := make(map[string]*ownerState)
	for _, it := range items {
		st := states[it.owner]
		if st == nil {
			st = &ownerState{}
			if n := z.names[it.owner]; n != nil {
				for _, old := range n.rrs {
					switch {
					case old.Header().Rrtype == dns.TypeCNAME:
						st.cnames = append(st.cnames, old)
					case !isDNSSEC(old):
						st.other = true
					}
				}
			}
			states[it.owner] = st
		}
		if conflictsWithCNAME(st.cnames, st.other, it.rr) {
			return &ZoneError{Name: it.rr.Header().Name, Err: ErrCNAMEAndOtherData}
		}
		switch {
		case it.rr.Header().Rrtype == dns.TypeCNAME:
			if !slices.ContainsFunc(st.cnames, func(c dns.RR) bool { return dns.IsDuplicate(c, it.rr) }) {
				st.cnames = append(st.cnames, it.rr)
			}
		case !isDNSSEC(it.rr):
			st.other = true
		}
	}
	// RFC 2181 §5: a record already present is not added again. Records
	// are bucketed by a key that equal records share, and compared with
	// dns.IsDuplicate within a bucket.
	buckets := make(map[string]map[string][]dns.RR)
	for _, it := range items {
		n := z.names[it.owner]
		if n == nil {
			n = &zoneNode{}
			z.names[it.owner] = n
		}
		b := buckets[it.owner]
		if b == nil {
			b = make(map[string][]dns.RR, len(n.rrs))
			for _, old := range n.rrs {
				k := dupKey(old)
				b[k] = append(b[k], old)
			}
			buckets[it.owner] = b
		}
		k := dupKey(it.rr)
		if !slices.ContainsFunc(b[k], func(old dns.RR) bool { return dns.IsDuplicate(old, it.rr) }) {
			n.rrs = append(n.rrs, it.rr)
			b[k] = append(b[k], it.rr)
		}
		// Every name between the owner and the root exists, as an empty
		// non-terminal if it has no records (RFC 8020, RFC 4592 §2.2.2).
		for p := parentName(it.owner); p != "."; p = parentName(p) {
			if z.names[p] != nil {
				break
			}
			z.names[p] = &zoneNode{}
		}
	}
	return nil
}

// badRdata reports whether rr cannot be written in zone-file format and read
// back as the same record. The zone-file parser accepts records without data
// (a form only meaningful in dynamic updates, RFC 2136 §2.5.2) and a few
// other incomplete forms; such records are refused rather than served.
// "The same record" means the same wire form: presentation text may spell
// the same octets in several ways (raw UTF-8 or \DDD in a TXT string).
func badRdata(rr dns.RR) bool {
	back, err := dns.NewRR(rr.String())
	if err != nil || back == nil {
		return true
	}
	if dns.IsDuplicate(rr, back) {
		return false
	}
	a, errA := packRR(rr)
	b, errB := packRR(back)
	return errA != nil || errB != nil || !bytes.Equal(a, b)
}

// packRR returns rr in uncompressed wire format.
func packRR(rr dns.RR) ([]byte, error) {
	buf := make([]byte, dns.Len(rr)+1)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// dupKey returns a key that records dns.IsDuplicate finds equal share: the
// type and the lower-cased wire form of the data (domain names in data
// compare without regard to case).
func dupKey(rr dns.RR) string {
	h := *rr.Header()
	ttl := h.Ttl
	rr.Header().Ttl = 0
	wire, err := packRR(rr)
	rr.Header().Ttl = ttl
	if err != nil {
		return strconv.Itoa(int(h.Rrtype))
	}
	return strings.ToLower(string(wire))
}

func isDNSSEC(rr dns.RR) bool {
	switch rr.Header().Rrtype {
	case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
		return true
	}
	return false
}

// conflictsWithCNAME reports whether adding rr to a name holding the CNAME
// records cnames, and other data if other is set, would put a CNAME next to
// other data (RFC 1034 §3.6.2, RFC 2181 §10.1; DNSSEC records may sit next
// to a CNAME, RFC 4035 §2.5). A record equal to one present adds nothing.
func conflictsWithCNAME(cnames []dns.RR, other bool, rr dns.RR) bool {
	if isDNSSEC(rr) {
		return false
	}
	if rr.Header().Rrtype != dns.TypeCNAME {
		return len(cnames) > 0
	}
	if other {
		return true
	}
	for _, c := range cnames {
		if !dns.IsDuplicate(c, rr) {
			return true // a second, different CNAME
		}
	}
	return false
}

// Remove deletes the records of name with type qtype (every type when qtype
// is 0) and returns how many were deleted. The name keeps existing as an
// empty non-terminal if names below it remain or it ends up empty (a removed
// name then answers NODATA, not NXDOMAIN). name is a raw name, as given to
// [Zone.Query].
func (z *Zone) Remove(name string, qtype uint16) int {
	owner, err := canonicalName(name)
	if err != nil {
		return 0
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	n := z.names[owner]
	if n == nil {
		return 0
	}
	kept := n.rrs[:0]
	removed := 0
	for _, rr := range n.rrs {
		if qtype == 0 || rr.Header().Rrtype == qtype {
			removed++
			continue
		}
		kept = append(kept, rr)
	}
	clear(n.rrs[len(kept):])
	n.rrs = kept
	return removed
}

// SetFailure makes queries for name (exactly this name, not the names below
// it) and type qtype fail with f; qtype 0 means every type, and a failure set
// for a specific type wins over one set for 0. FailNone clears the failure.
// A failure also applies when name is reached through a CNAME. name is a
// raw name, as given to [Zone.Query].
func (z *Zone) SetFailure(name string, qtype uint16, f Failure) error {
	owner, err := canonicalName(name)
	if err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	k := failureKey{owner, qtype}
	if f == FailNone {
		delete(z.failures, k)
		return nil
	}
	if z.failures == nil {
		z.failures = make(map[failureKey]Failure)
	}
	z.failures[k] = f
	return nil
}

// SetSecure marks name and the names below it as signed and validated
// (secure true: answers are Authentic, and resolvertest.Server sets the AD
// bit) or not (false). The mark of the closest enclosing name wins, so a
// subtree can be made insecure below a secure one. Names under no mark are
// insecure. name is a raw name, as given to [Zone.Query].
func (z *Zone) SetSecure(name string, secure bool) error {
	owner, err := canonicalName(name)
	if err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.secure == nil {
		z.secure = make(map[string]bool)
	}
	z.secure[owner] = secure
	return nil
}

// parentName returns the name one label up; the parent of "." is ".". The
// name is a key (see canonicalName): a dot escaped as "\." is part of a
// label, not a separator.
func parentName(name string) string {
	if name == "." {
		return "."
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++ // the escaped octet, or the first digit of \DDD
		case '.':
			if i == len(name)-1 {
				return "."
			}
			return name[i+1:]
		}
	}
	return "."
}

// zoneResult is the outcome of resolving one question in the zone: the
// shared core of Query and ServeDNS.
type zoneResult struct {
	rcode     int
	timeout   bool // FailTimeout: no answer at all
	chainErr  error
	authentic bool
	records   []dns.RR
	cnames    []*dns.CNAME
	soa       *dns.SOA // for negative answers (RFC 2308 §3), when the zone has one
}

// resolve answers qname (canonical) and qtype like a recursive resolver:
// CNAMEs followed, wildcards expanded, failures injected. The records
// returned are copies.
func (z *Zone) resolve(qname string, qtype uint16) zoneResult {
	z.mu.RLock()
	defer z.mu.RUnlock()
	res := zoneResult{authentic: true}
	cur := qname
	for {
		switch z.failure(cur, qtype) {
		case FailTimeout:
			return zoneResult{timeout: true}
		case FailServFail:
			return zoneResult{rcode: dns.RcodeServerFailure, cnames: res.cnames}
		case FailRefused:
			return zoneResult{rcode: dns.RcodeRefused, cnames: res.cnames}
		}
		res.authentic = res.authentic && z.isSecure(cur)
		rrs, exists, synth := z.find(cur)
		if !exists {
			// RFC 6604 §3: the RCODE is that of the last name in the chain.
			res.rcode = dns.RcodeNameError
			res.soa = z.soaFor(cur)
			return res
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			switch {
			case rr.Header().Rrtype == qtype:
				res.records = append(res.records, own(rr, cur, synth))
			case rr.Header().Rrtype == dns.TypeCNAME:
				cname = own(rr, cur, synth).(*dns.CNAME)
			}
		}
		if len(res.records) > 0 || cname == nil || qtype == dns.TypeCNAME {
			if len(res.records) == 0 {
				res.soa = z.soaFor(cur)
			}
			return res
		}
		// RFC 1034 §4.3.2 step 3a: restart the lookup at the CNAME target.
		if len(res.cnames) >= MaxCNAMEChain {
			res.chainErr = ErrCNAMEChain
			return res
		}
		res.cnames = append(res.cnames, cname)
		target, err := presentationKey(cname.Target)
		if err != nil {
			res.rcode = dns.RcodeNameError
			return res
		}
		for _, c := range res.cnames {
			if c.Hdr.Name == target { // owners are keys (AddRR, own)
				res.chainErr = ErrCNAMELoop
				return res
			}
		}
		cur = target
	}
}

// find returns the records of name, or those of the wildcard that covers
// it, and whether the name exists. The records are the zone's own: callers
// copy what they return (see own), and set the owner name of wildcard
// records to name (synthesised reports that).
func (z *Zone) find(name string) (rrs []dns.RR, exists, synthesised bool) {
	if n := z.names[name]; n != nil {
		return n.rrs, true, false
	}
	// RFC 4592 §3.3.1: find the closest encloser, the longest existing
	// ancestor; if "*.<closest encloser>" exists, its records answer for
	// name, with name as owner. An existing name (even an empty
	// non-terminal) blocks the wildcard.
	for p := parentName(name); ; p = parentName(p) {
		if p == "." || z.names[p] != nil {
			w := z.names["*."+p]
			if p == "." {
				w = z.names["*."]
			}
			if w == nil {
				return nil, false, false
			}
			return w.rrs, true, true
		}
	}
}

// own returns a copy of rr that the caller may change, with owner name as
// its owner when synthesised from a wildcard (RFC 4592 §3.3.1).
func own(rr dns.RR, name string, synthesised bool) dns.RR {
	c := dns.Copy(rr)
	if synthesised {
		c.Header().Name = name
	}
	return c
}

// soaFor returns a copy of the SOA of the closest enclosing zone apex of
// name, with its TTL capped at the SOA minimum (RFC 2308 §3), or nil.
func (z *Zone) soaFor(name string) *dns.SOA {
	for p := name; ; p = parentName(p) {
		if n := z.names[p]; n != nil {
			for _, rr := range n.rrs {
				if s, ok := rr.(*dns.SOA); ok {
					c := dns.Copy(s).(*dns.SOA)
					c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
					return c
				}
			}
		}
		if p == "." {
			return nil
		}
	}
}

func (z *Zone) failure(name string, qtype uint16) Failure {
	if f, ok := z.failures[failureKey{name, qtype}]; ok {
		return f
	}
	return z.failures[failureKey{name, 0}]
}

func (z *Zone) isSecure(name string) bool {
	for p := name; ; p = parentName(p) {
		if s, ok := z.secure[p]; ok {
			return s
		}
		if p == "." {
			return false
		}
	}
}

// Query answers name and qtype from memory. Like [Client.Query], it returns
// an *Answer for NOERROR, NXDOMAIN, SERVFAIL and REFUSED, and an error (a
// *net.DNSError) for a name that is not a valid domain name (IsNotFound), an
// injected timeout (IsTimeout), a CNAME loop or over-long chain
// (IsTemporary) or a done ctx.
func (z *Zone) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, contextError(name, "", err)
	}
	qname, err := canonicalName(name)
	if err != nil {
		return nil, notFoundError(name, "", err)
	}
	res := z.resolve(qname, qtype)
	switch {
	case res.timeout:
		return nil, timeoutError(name, "", nil)
	case res.chainErr != nil:
		return nil, chainError(name, "", res.chainErr)
	}
	return &Answer{
		Name:      qname,
		Rcode:     res.rcode,
		Authentic: res.authentic && (res.rcode == dns.RcodeSuccess || res.rcode == dns.RcodeNameError),
		Records:   res.records,
		CNAMEs:    res.cnames,
	}, nil
}

// LookupTXT implements [Resolver].
func (z *Zone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookupTXT(ctx, z, name)
}

// LookupMX implements [Resolver].
func (z *Zone) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookupMX(ctx, z, name)
}

// LookupNetIP implements [Resolver].
func (z *Zone) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return lookupNetIP(ctx, z, network, host)
}

// LookupAddr implements [Resolver].
func (z *Zone) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookupAddr(ctx, z, addr)
}

// ServeDNS implements [dns.Handler]: it answers the first question of req
// from the zone like a validating recursive resolver (RA set, CNAME chain in
// the answer section, SOA in the authority section of negative answers when
// the zone has one, AD set for Authentic answers when req has the DO or AD
// bit, RFC 6840 §5.7). A query for a name marked FailTimeout gets no response.
// Responses are not truncated here; the caller's transport decides.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := z.Respond(req)
	if m == nil {
		return
	}
	_ = w.WriteMsg(m)
}

// Respond returns the response [Zone.ServeDNS] would send for req, or nil
// when the query is to be dropped (FailTimeout).
func (z *Zone) Respond(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	m.Authoritative = false
	m.Compress = true // RFC 1035 §4.1.4
	opt := req.IsEdns0()
	if opt != nil {
		// RFC 6891 §6.1.1: answer an EDNS query with an OPT record; echo
		// the DO bit (RFC 3225 §3).
		if opt.Version() != 0 {
			m.SetRcode(req, dns.RcodeBadVers)
			m.SetEdns0(1232, opt.Do())
			return m
		}
		defer m.SetEdns0(1232, opt.Do())
	}
	if req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		return m
	}
	if len(req.Question) != 1 || req.Question[0].Qclass != dns.ClassINET {
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	qname, err := presentationKey(q.Name)
	if err != nil {
		m.SetRcode(req, dns.RcodeNameError)
		return m
	}
	res := z.resolve(qname, q.Qtype)
	if res.timeout {
		return nil
	}
	for _, c := range res.cnames {
		m.Answer = append(m.Answer, c)
	}
	// A CNAME loop or an over-long chain is sent as the chain found: the
	// client detects the loop itself.
	m.Answer = append(m.Answer, res.records...)
	if res.soa != nil {
		m.Ns = append(m.Ns, res.soa)
	}
	m.Rcode = res.rcode
	wantAD := req.AuthenticatedData || (opt != nil && opt.Do())
	m.AuthenticatedData = wantAD && res.authentic && res.chainErr == nil &&
		(res.rcode == dns.RcodeSuccess || res.rcode == dns.RcodeNameError)
	return m
}

// String returns the zone's records in zone-file format, sorted by owner
// name, for test output and debugging.
func (z *Zone) String() string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	owners := make([]string, 0, len(z.names))
	for n, node := range z.names {
		if len(node.rrs) > 0 {
			owners = append(owners, n)
		}
	}
	sortNames(owners)
	var b strings.Builder
	for _, o := range owners {
		for _, rr := range z.names[o].rrs {
			line := rr.String()
			if line[0] == '$' {
				// An owner name that starts with '$' would read as a
				// directive (RFC 1035 §5.1); escape it.
				b.WriteByte('\\')
			}
			fmt.Fprintln(&b, line)
		}
	}
	return b.String()
}

// sortNames sorts absolute names in canonical DNS order (RFC 4034 §6.1):
// by labels from the right.
func sortNames(names []string) {
	key := func(s string) string {
		labels := dns.SplitDomainName(s)
		for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
		return strings.Join(labels, "\x00")
	}
	keys := make(map[string]string, len(names))
	for _, n := range names {
		keys[n] = key(n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(keys[a], keys[b]) })
}
