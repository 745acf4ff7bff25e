package spf

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. A check that ends in TempError or PermError returns an
// [*Error] that wraps one of these; match them with errors.Is.
var (
	// ErrSyntax: a record or a term does not follow the RFC 7208 §12 grammar.
	// The *Error also wraps a [*SyntaxError] with the details.
	ErrSyntax = errors.New("spf: syntax error")
	// ErrMultipleRecords: a domain publishes more than one v=spf1 record
	// (RFC 7208 §4.5).
	ErrMultipleRecords = errors.New("spf: more than one v=spf1 record")
	// ErrNoRecord: the target of include or redirect has no SPF record
	// (RFC 7208 §5.2, §6.1).
	ErrNoRecord = errors.New("spf: include or redirect target has no SPF record")
	// ErrTooManyLookups: more DNS-querying terms than Checker.MaxLookups
	// (RFC 7208 §4.6.4).
	ErrTooManyLookups = errors.New("spf: too many DNS-querying terms")
	// ErrTooManyVoidLookups: more void lookups than Checker.MaxVoidLookups
	// (RFC 7208 §4.6.4).
	ErrTooManyVoidLookups = errors.New("spf: too many void DNS lookups")
	// ErrTooManyMX: an mx mechanism would look up the addresses of more than
	// 10 MX names (RFC 7208 §4.6.4).
	ErrTooManyMX = errors.New("spf: more than 10 MX names")
	// ErrLoop: an include or redirect leads back to a domain whose record is
	// being evaluated. Without this check the loop would end at the lookup
	// limit with the same result (RFC 7208 §4.6.4).
	ErrLoop = errors.New("spf: include or redirect loop")
	// ErrDNS: a DNS lookup failed with a server failure, a timeout or another
	// error that is not a definite "no such name" or "no data" (RFC 7208
	// §4.4, §5). The *Error also wraps a [*LookupError].
	ErrDNS = errors.New("spf: DNS lookup failed")
	// ErrInvalidIP: the client IP address given to the check is not valid.
	ErrInvalidIP = errors.New("spf: invalid client IP address")
)

// Sentinels wrapped by [*SyntaxError], saying what is wrong (RFC 7208 §12).
var (
	// ErrNotSPF: the text does not start with "v=spf1" and a space or its
	// end (§4.5).
	ErrNotSPF = errors.New("not a v=spf1 record")
	// ErrInvalidCharacter: an octet outside printable US-ASCII and space
	// (§3.1, §4.6.1).
	ErrInvalidCharacter = errors.New("character outside printable US-ASCII")
	// ErrUnknownMechanism: a term that is neither a known mechanism nor a
	// name=value modifier (§4.6.1, §5).
	ErrUnknownMechanism = errors.New("unknown mechanism")
	// ErrInvalidTerm: a known mechanism with an argument it does not take,
	// such as "all:x" or "ptr/24".
	ErrInvalidTerm = errors.New("invalid term")
	// ErrInvalidIPNetwork: ip4 or ip6 without a valid address of its
	// family (§5.6).
	ErrInvalidIPNetwork = errors.New("invalid IP address or prefix length")
	// ErrInvalidCIDR: a prefix length out of range or with a leading zero
	// (§5.6).
	ErrInvalidCIDR = errors.New("invalid CIDR length")
	// ErrInvalidDomainSpec: a missing or empty domain-spec, or one that
	// does not end in a macro or a valid top label (§7.1).
	ErrInvalidDomainSpec = errors.New("invalid domain-spec")
	// ErrInvalidMacro: a "%" not starting a valid macro, or a macro letter
	// not allowed where it is (c, r, t outside explanations) (§7.1).
	ErrInvalidMacro = errors.New("invalid macro")
	// ErrDuplicateModifier: redirect= or exp= given twice (§6).
	ErrDuplicateModifier = errors.New("redirect or exp given twice")
	// ErrEmptyTerm: a term that is only a qualifier.
	ErrEmptyTerm = errors.New("empty term")
)

// Error is the error of a check that ended in TempError or PermError. It
// names the domain whose record was being evaluated and the term, as
// written, that caused the error, which may be deep inside an include chain.
type Error struct {
	// Result is TempError or PermError.
	Result Result
	// Domain is the domain whose SPF record was being evaluated.
	Domain string
	// Term is the term as written ("include:_spf.example.com"), or "" when
	// the error concerns the record as a whole (a syntax error before any
	// term, several records, a failed TXT lookup).
	Term string
	// Err is one of this package's sentinels, or a [*SyntaxError] or
	// [*LookupError], which wrap a sentinel themselves.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("spf: ")
	b.WriteString(string(e.Result))
	b.WriteString(" in the record of ")
	b.WriteString(strconv.Quote(e.Domain))
	if e.Term != "" {
		b.WriteString(" at term ")
		b.WriteString(strconv.Quote(clip(e.Term, 100)))
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "spf: "))
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// SyntaxError reports where a record breaks the RFC 7208 §12 grammar.
type SyntaxError struct {
	// Record is the record text (clipped to 200 bytes in Error()).
	Record string
	// Offset is the byte offset of the offending term in Record.
	Offset int
	// Term is the offending term.
	Term string
	// Err is one of the Err* syntax sentinels (ErrUnknownMechanism, ...).
	Err error
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("spf: syntax error: ")
	b.WriteString(e.Err.Error())
	if e.Term != "" {
		b.WriteString(" in term ")
		b.WriteString(strconv.Quote(clip(e.Term, 100)))
	}
	b.WriteString(" at offset ")
	b.WriteString(strconv.Itoa(e.Offset))
	return b.String()
}

// Unwrap returns ErrSyntax and the specific cause.
func (e *SyntaxError) Unwrap() []error { return []error{ErrSyntax, e.Err} }

// LookupError reports a DNS lookup that failed without a definite answer.
type LookupError struct {
	Name string // the name queried
	Type string // "TXT", "A", "AAAA", "MX", "PTR"
	Err  error  // the resolver's error, or a *RcodeError
}

func (e *LookupError) Error() string {
	return "spf: DNS lookup failed: " + e.Type + " " + strconv.Quote(clip(e.Name, 260)) + ": " + e.Err.Error()
}

// Unwrap returns ErrDNS and the resolver's error.
func (e *LookupError) Unwrap() []error { return []error{ErrDNS, e.Err} }

// RcodeError is the cause of a [*LookupError] when a resolver.Querier
// answered with a response code other than NOERROR and NXDOMAIN.
type RcodeError struct {
	Rcode int
}

func (e *RcodeError) Error() string { return "response code " + rcodeName(e.Rcode) }

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
