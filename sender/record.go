package sender

import (
	"fmt"
	"strconv"
	"strings"
)

// Policy is a DMARC policy: the p=, sp= and np= tag values of RFC 7489 §6.3
// and RFC 9989 §4.7.
type Policy string

// The DMARC policies.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// weaker returns the next softer policy: reject → quarantine → none. RFC 7489
// §6.6.4 (pct sampling) and RFC 9989 §4.7 (t=y) both step down this way.
func (p Policy) weaker() Policy {
	switch p {
	case PolicyReject:
		return PolicyQuarantine
	default:
		return PolicyNone
	}
}

// Alignment is an identifier alignment mode, the adkim= and aspf= tag values
// (RFC 7489 §3.1).
type Alignment string

// The alignment modes. A record without the tag means relaxed.
const (
	AlignRelaxed Alignment = "r"
	AlignStrict  Alignment = "s"
)

// PSD is the DMARCbis psd= tag value (RFC 9989 §4.7): whether the domain is a
// public suffix domain.
type PSD string

// The psd= values. A record without the tag means PSDUnknown.
const (
	PSDYes     PSD = "y"
	PSDNo      PSD = "n"
	PSDUnknown PSD = "u"
)

// ReportURI is one entry of a rua= or ruf= list (RFC 7489 §6.4): a URI with
// an optional maximum report size.
type ReportURI struct {
	URI string // the URI as written, e.g. "mailto:dmarc@example.com"
	// MaxSize is the size limit, 0 when absent, in units of Unit.
	MaxSize uint64
	// Unit is 'k', 'm', 'g', 't' or 0 (bytes).
	Unit byte
}

// String returns the URI in record syntax.
func (u ReportURI) String() string {
	s := u.URI
	if u.MaxSize > 0 {
		s += "!" + strconv.FormatUint(u.MaxSize, 10)
		if u.Unit != 0 {
			s += string(u.Unit)
		}
	}
	return s
}

// Record is a parsed DMARC policy record (RFC 7489 §6.3, RFC 9989 §4.7).
// Fields hold what the record says; a zero field means the tag was absent,
// and the methods that start with Effective apply the defaults.
type Record struct {
	// Policy is p=. When the record had no valid p= but a valid rua=,
	// Policy is PolicyNone and PolicyDefaulted is true (RFC 7489 §6.6.3).
	Policy          Policy
	PolicyDefaulted bool
	// SubdomainPolicy is sp=, "" when absent.
	SubdomainPolicy Policy
	// NonexistentPolicy is the DMARCbis np= tag, "" when absent.
	NonexistentPolicy Policy
	// DKIMAlignment and SPFAlignment are adkim= and aspf=, "" when absent.
	DKIMAlignment Alignment
	SPFAlignment  Alignment
	// Percent is pct= when HasPercent (RFC 7489; removed by RFC 9989).
	Percent    int
	HasPercent bool
	// FailureOptions is fo= split at ':', nil when absent.
	FailureOptions []string
	// ReportFormats is rf= split at ':', nil when absent.
	ReportFormats []string
	// ReportInterval is ri= in seconds, 0 when absent.
	ReportInterval uint32
	// AggregateURIs and FailureURIs are rua= and ruf=. Entries that are not
	// URIs are dropped: no report could be sent to them.
	AggregateURIs []ReportURI
	FailureURIs   []ReportURI
	// PSD is the DMARCbis psd= tag, "" when absent.
	PSD PSD
	// Testing is the DMARCbis t=y tag.
	Testing bool
}

// EffectiveDKIMAlignment returns adkim=, relaxed when absent.
func (r *Record) EffectiveDKIMAlignment() Alignment {
	if r.DKIMAlignment == "" {
		return AlignRelaxed
	}
	return r.DKIMAlignment
}

// EffectiveSPFAlignment returns aspf=, relaxed when absent.
func (r *Record) EffectiveSPFAlignment() Alignment {
	if r.SPFAlignment == "" {
		return AlignRelaxed
	}
	return r.SPFAlignment
}

// EffectivePercent returns pct=, 100 when absent.
func (r *Record) EffectivePercent() int {
	if !r.HasPercent {
		return 100
	}
	return r.Percent
}

// EffectivePSD returns psd=, PSDUnknown when absent.
func (r *Record) EffectivePSD() PSD {
	if r.PSD == "" {
		return PSDUnknown
	}
	return r.PSD
}

// String returns the record in DMARC syntax, with the tags it holds in a
// fixed order. ParseRecord(r.String()) returns a record equal to r, except
// that PolicyDefaulted is false.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=DMARC1; p=")
	b.WriteString(string(r.Policy))
	tag := func(name, value string) {
		b.WriteString("; ")
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(value)
	}
	if r.SubdomainPolicy != "" {
		tag("sp", string(r.SubdomainPolicy))
	}
	if r.NonexistentPolicy != "" {
		tag("np", string(r.NonexistentPolicy))
	}
	if r.DKIMAlignment != "" {
		tag("adkim", string(r.DKIMAlignment))
	}
	if r.SPFAlignment != "" {
		tag("aspf", string(r.SPFAlignment))
	}
	if r.HasPercent {
		tag("pct", strconv.Itoa(r.Percent))
	}
	if r.FailureOptions != nil {
		tag("fo", strings.Join(r.FailureOptions, ":"))
	}
	if r.ReportFormats != nil {
		tag("rf", strings.Join(r.ReportFormats, ":"))
	}
	if r.ReportInterval != 0 {
		tag("ri", strconv.FormatUint(uint64(r.ReportInterval), 10))
	}
	uris := func(name string, list []ReportURI) {
		if len(list) == 0 {
			return
		}
		s := make([]string, len(list))
		for i, u := range list {
			s[i] = u.String()
		}
		tag(name, strings.Join(s, ","))
	}
	uris("rua", r.AggregateURIs)
	uris("ruf", r.FailureURIs)
	if r.PSD != "" {
		tag("psd", string(r.PSD))
	}
	if r.Testing {
		tag("t", "y")
	}
	return b.String()
}

// maxRecordLen bounds the text ParseRecord accepts. A TXT record set for one
// name rarely exceeds a few hundred octets; 64 KiB is the DNS message limit.
const maxRecordLen = 65535

// ParseRecord parses a DMARC policy record, the text of one TXT record (its
// character-strings joined). It is pure: no DNS, no context.
//
// The record must start with the tag v=DMARC1 (RFC 7489 §6.4: the tag name
// in any case, the value exactly "DMARC1"); otherwise the error is
// ErrNotDMARC, and discovery ignores the record (RFC 7489 §6.6.3 step 2).
// Unknown tags are ignored (RFC 7489 §6.3). A record without a valid p= (or
// with an invalid sp= or np=) is read as p=none when rua= holds at least one
// URI, and is an ErrNoPolicy error otherwise (RFC 7489 §6.6.3, RFC 9989
// §4.10.1). Other malformed tags give a *SyntaxError wrapping ErrSyntax.
func ParseRecord(txt string) (*Record, error) {
	if len(txt) > maxRecordLen {
		return nil, &SyntaxError{Record: txt, Err: ErrRecordTooLong}
	}
	first := true
	r := &Record{}
	var seen uint32 // bit i: knownTags[i] was seen
	var policyBad bool
	for rest, more := txt, true; more; {
		var t string
		t, rest, more = strings.Cut(rest, ";")
		t = trimWSP(t)
		if t == "" {
			if first {
				return nil, ErrNotDMARC
			}
			continue
		}
		name, value, ok := strings.Cut(t, "=")
		name = strings.ToLower(trimWSP(name))
		value = trimWSP(value)
		if first {
			// RFC 7489 §6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31
			if !ok || name != "v" || value != "DMARC1" {
				return nil, ErrNotDMARC
			}
			first = false
			continue
		}
		if !ok {
			return nil, &SyntaxError{Record: txt, Tag: t, Err: ErrSyntax}
		}
		if bit := knownTagBit(name); bit != 0 {
			if seen&bit != 0 {
				return nil, &SyntaxError{Record: txt, Tag: name, Err: ErrDuplicateTag}
			}
			seen |= bit
		}
		bad := func() error { return &SyntaxError{Record: txt, Tag: name, Value: value, Err: ErrSyntax} }
		switch name {
		case "p", "sp", "np":
			p, ok := parsePolicy(value)
			if !ok {
				policyBad = true
				continue
			}
			switch name {
			case "p":
				r.Policy = p
			case "sp":
				r.SubdomainPolicy = p
			default:
				r.NonexistentPolicy = p
			}
		case "adkim", "aspf":
			var a Alignment
			switch strings.ToLower(value) {
			case "r":
				a = AlignRelaxed
			case "s":
				a = AlignStrict
			default:
				return nil, bad()
			}
			if name == "adkim" {
				r.DKIMAlignment = a
			} else {
				r.SPFAlignment = a
			}
		case "pct":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > 100 || !allDigits(value) {
				return nil, bad()
			}
			r.Percent, r.HasPercent = n, true
		case "fo":
			opts := strings.Split(value, ":")
			for i, o := range opts {
				o = strings.ToLower(trimWSP(o))
				switch o {
				case "0", "1", "d", "s":
				default:
					return nil, bad()
				}
				opts[i] = o
			}
			r.FailureOptions = opts
		case "rf":
			fs := strings.Split(value, ":")
			for i, f := range fs {
				f = strings.ToLower(trimWSP(f))
				if !isKeyword(f) {
					return nil, bad()
				}
				fs[i] = f
			}
			r.ReportFormats = fs
		case "ri":
			n, err := strconv.ParseUint(value, 10, 32)
			if err != nil || !allDigits(value) {
				return nil, bad()
			}
			r.ReportInterval = uint32(n)
		case "rua":
			r.AggregateURIs = parseURIList(value)
		case "ruf":
			r.FailureURIs = parseURIList(value)
		case "psd":
			switch strings.ToLower(value) {
			case "y":
				r.PSD = PSDYes
			case "n":
				r.PSD = PSDNo
			case "u":
				r.PSD = PSDUnknown
			default:
				return nil, bad()
			}
		case "t":
			switch strings.ToLower(value) {
			case "y":
				r.Testing = true
			case "n":
				r.Testing = false
			default:
				return nil, bad()
			}
		default:
			// RFC 7489 §6.3: "Unknown tags MUST be ignored."
		}
	}
	if first {
		return nil, ErrNotDMARC
	}
	if r.Policy == "" || policyBad {
		// RFC 7489 §6.6.3 and RFC 9989 §4.10.1: no valid p= (or an invalid
		// sp=/np=): act as p=none when rua= names at least one valid URI.
		if len(r.AggregateURIs) == 0 {
			return nil, &SyntaxError{Record: txt, Tag: "p", Err: ErrNoPolicy}
		}
		r.Policy = PolicyNone
		r.SubdomainPolicy = ""
		r.NonexistentPolicy = ""
		r.PolicyDefaulted = true
	}
	return r, nil
}

func parsePolicy(s string) (Policy, bool) {
	switch strings.ToLower(s) {
	case "none":
		return PolicyNone, true
	case "quarantine":
		return PolicyQuarantine, true
	case "reject":
		return PolicyReject, true
	}
	return "", false
}

// parseURIList parses a dmarc-urilist (RFC 7489 §6.4), dropping entries that
// are not absolute URIs with a scheme.
func parseURIList(s string) []ReportURI {
	var out []ReportURI
	for e := range strings.SplitSeq(s, ",") {
		e = trimWSP(e)
		if u, ok := parseReportURI(e); ok {
			out = append(out, u)
		}
	}
	return out
}

func parseReportURI(e string) (ReportURI, bool) {
	var u ReportURI
	uri := e
	if i := strings.LastIndexByte(e, '!'); i >= 0 {
		uri = e[:i]
		size := e[i+1:]
		if size == "" {
			return u, false
		}
		if c := size[len(size)-1]; c == 'k' || c == 'm' || c == 'g' || c == 't' || c == 'K' || c == 'M' || c == 'G' || c == 'T' {
			u.Unit = c | 0x20
			size = size[:len(size)-1]
		}
		n, err := strconv.ParseUint(size, 10, 64)
		if err != nil || !allDigits(size) || n == 0 {
			return u, false
		}
		u.MaxSize = n
	}
	if uri == "" || strings.ContainsAny(uri, " \t\r\n,;!") {
		return u, false
	}
	// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
	// then ":" and something after it.
	colon := strings.IndexByte(uri, ':')
	if colon <= 0 || colon == len(uri)-1 {
		return u, false
	}
	for i := 0; i < colon; i++ {
		c := uri[i] | 0x20
		if !(c >= 'a' && c <= 'z' || i > 0 && (uri[i] >= '0' && uri[i] <= '9' || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')) {
			return u, false
		}
	}
	u.URI = uri
	return u, true
}

// knownTagBit returns a bit for each tag of RFC 7489 §6.3 and RFC 9989
// §4.7 (a repeated one is an error) and 0 for unknown tags (ignored, even
// when repeated).
func knownTagBit(name string) uint32 {
	switch name {
	case "p":
		return 1 << 0
	case "sp":
		return 1 << 1
	case "np":
		return 1 << 2
	case "adkim":
		return 1 << 3
	case "aspf":
		return 1 << 4
	case "pct":
		return 1 << 5
	case "fo":
		return 1 << 6
	case "rf":
		return 1 << 7
	case "ri":
		return 1 << 8
	case "rua":
		return 1 << 9
	case "ruf":
		return 1 << 10
	case "psd":
		return 1 << 11
	case "t":
		return 1 << 12
	}
	return 0
}

func trimWSP(s string) string { return strings.Trim(s, " \t\r\n") }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isKeyword reports whether s is an RFC 5321 Ldh-str style keyword.
func isKeyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// SyntaxError reports a malformed DMARC record.
type SyntaxError struct {
	Record string // the record text
	Tag    string // the tag at fault, if known
	Value  string // its value, if known
	Err    error  // ErrSyntax, ErrDuplicateTag, ErrNoPolicy or ErrRecordTooLong
}

func (e *SyntaxError) Error() string {
	s := e.Err.Error()
	if e.Tag != "" {
		s += fmt.Sprintf(": tag %q", clip(e.Tag))
	}
	if e.Value != "" {
		s += fmt.Sprintf(" value %q", clip(e.Value))
	}
	return s
}

// Unwrap returns the sentinel.
func (e *SyntaxError) Unwrap() error { return e.Err }

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
