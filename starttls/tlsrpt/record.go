package tlsrpt

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/starttls/internal/txtrecord"
)

// Version is the version tag of a TLS-RPT record (RFC 8460 §3).
const Version = "TLSRPTv1"

// Errors of record parsing and lookup.
var (
	// ErrNoRecord: no TXT record at _smtp._tls.<domain> starts with
	// v=TLSRPTv1; the domain does not want reports.
	ErrNoRecord = errors.New("tlsrpt: no TLS-RPT record")
	// ErrMultipleRecords: several records start with v=TLSRPTv1; RFC 8460
	// §3 says to act as if there were none.
	ErrMultipleRecords = errors.New("tlsrpt: more than one TLS-RPT record")
	// ErrRecordSyntax: the record does not follow the grammar of RFC 8460
	// §3.
	ErrRecordSyntax = errors.New("tlsrpt: invalid TLS-RPT record")
	// ErrDNS: the lookup failed without a definite answer.
	ErrDNS = errors.New("tlsrpt: DNS lookup failed")
	// ErrDomain: a domain name is not valid.
	ErrDomain = errors.New("tlsrpt: invalid domain name")
)

// SyntaxError reports a record that could not be parsed.
type SyntaxError struct {
	// Text is the record, truncated to 100 octets.
	Text string
	// Reason says what is wrong; its wording is not stable.
	Reason string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return ErrRecordSyntax.Error() + ": " + e.Reason + ": " + strconv.Quote(e.Text)
}

// Unwrap returns ErrRecordSyntax.
func (e *SyntaxError) Unwrap() error { return ErrRecordSyntax }

// Extension is a record field this package does not interpret.
type Extension struct {
	Key, Value string
}

// Record is a parsed _smtp._tls TXT record (RFC 8460 §3).
type Record struct {
	// RUA are the report destinations, in order: mailto: and https: URIs.
	// URIs of other schemes are kept too; senders skip them.
	RUA []*url.URL
	// Extensions holds the fields other than v and rua.
	Extensions []Extension
}

// Mailto returns the e-mail addresses of the mailto: destinations.
func (r *Record) Mailto() []string {
	var out []string
	for _, u := range r.RUA {
		if u.Scheme == "mailto" && u.Opaque != "" {
			out = append(out, u.Opaque)
		}
	}
	return out
}

// HTTPS returns the https: destinations, to which reports are POSTed
// (RFC 8460 §5.4).
func (r *Record) HTTPS() []*url.URL {
	var out []*url.URL
	for _, u := range r.RUA {
		if u.Scheme == "https" {
			out = append(out, u)
		}
	}
	return out
}

// String returns the record in canonical text form.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=" + Version + "; rua=")
	for i, u := range r.RUA {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(u.String())
	}
	for _, e := range r.Extensions {
		b.WriteString("; " + e.Key + "=" + e.Value)
	}
	return b.String()
}

// isRecord reports whether txt starts with the version tag followed by
// ";", the test RFC 8460 §3 uses to keep or drop TXT records.
func isRecord(txt string) bool {
	rest, ok := strings.CutPrefix(txt, "v="+Version)
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return strings.HasPrefix(rest, ";")
}

// ParseRecord parses one _smtp._tls TXT record (RFC 8460 §3):
//
//	tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//	field-delim      = *WSP ";" *WSP
//	tlsrpt-version   = %s"v=TLSRPTv1"
//	tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//	tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//	tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
//
// At least one rua field is required (several are allowed by the grammar,
// and their URIs are joined in order); each URI must be absolute and free
// of white space, "," and ";". Errors are a *SyntaxError wrapping
// ErrRecordSyntax.
func ParseRecord(txt string) (*Record, error) {
	fail := func(reason string) (*Record, error) {
		t := txt
		if len(t) > 100 {
			t = t[:100]
		}
		return nil, &SyntaxError{Text: t, Reason: reason}
	}
	if !strings.HasPrefix(txt, "v="+Version) {
		return fail("does not start with v=TLSRPTv1")
	}
	fields := strings.Split(txt, ";")
	if strings.Trim(fields[0], " \t") != "v="+Version {
		return fail("does not start with v=TLSRPTv1")
	}
	var r Record
	haveRUA := false
	for i, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" {
			if i == len(fields)-2 && i > 0 {
				continue // optional trailing delimiter
			}
			return fail("empty field")
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fail("field without '='")
		}
		switch {
		case k == "rua":
			// The grammar lets tlsrpt-rua repeat; every list counts.
			haveRUA = true
			for u := range strings.SplitSeq(v, ",") {
				u = strings.Trim(u, " \t")
				pu, err := parseURI(u)
				if err != nil {
					return fail("invalid rua URI")
				}
				r.RUA = append(r.RUA, pu)
			}
		case k == "v":
			return fail("version repeated")
		default:
			if !txtrecord.IsExtName(k) || !txtrecord.IsExtValue(v) {
				return fail("invalid extension")
			}
			r.Extensions = append(r.Extensions, Extension{Key: k, Value: v})
		}
	}
	if !haveRUA {
		return fail("no rua")
	}
	return &r, nil
}

func parseURI(s string) (*url.URL, error) {
	if s == "" || strings.ContainsAny(s, " \t;,") {
		return nil, ErrRecordSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return nil, ErrRecordSyntax
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil, ErrRecordSyntax
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "mailto":
		if u.Opaque == "" || !strings.Contains(u.Opaque, "@") {
			return nil, ErrRecordSyntax
		}
	case "https":
		if u.Host == "" {
			return nil, ErrRecordSyntax
		}
	}
	return u, nil
}

// LookupError reports a failed or unusable _smtp._tls lookup.
type LookupError struct {
	// Domain is the domain looked up.
	Domain string
	// Kind is ErrNoRecord, ErrMultipleRecords, ErrRecordSyntax or ErrDNS.
	Kind error
	// Err is the cause, when there is one.
	Err error
}

// Error implements error.
func (e *LookupError) Error() string { return txtrecord.LookupErrorText(e.Kind, e.Domain, e.Err) }

// Unwrap returns Kind and the cause.
func (e *LookupError) Unwrap() []error { return txtrecord.Unwrap(e.Kind, e.Err) }

// LookupRecord returns the TLS-RPT record of domain, the policy domain of a
// report: the TXT record at _smtp._tls.<domain> that starts with
// v=TLSRPTv1. Other records are dropped; if not exactly one remains, the
// domain has no record (RFC 8460 §3). Errors are a *LookupError, or an
// error wrapping ErrDomain.
func LookupRecord(ctx context.Context, r resolver.Resolver, domain string) (*Record, error) {
	d, err := dnsname.Normalize(domain)
	if err != nil {
		return nil, errors.Join(ErrDomain, err)
	}
	rec, kind, err := txtrecord.Lookup(ctx, r, "_smtp._tls."+d+".", isRecord, ParseRecord, txtrecord.Kinds{
		NoRecord: ErrNoRecord, MultipleRecords: ErrMultipleRecords, RecordSyntax: ErrRecordSyntax, DNS: ErrDNS,
	})
	if kind != nil {
		return nil, &LookupError{Domain: d, Kind: kind, Err: err}
	}
	return rec, nil
}
