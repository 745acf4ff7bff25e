package sender

import "errors"

// Errors of DMARC record parsing, returned by ParseRecord, directly
// (ErrNotDMARC) or wrapped in a *SyntaxError.
var (
	ErrNotDMARC      = errors.New("sender: not a DMARC record (no leading v=DMARC1)")
	ErrSyntax        = errors.New("sender: DMARC record syntax error")
	ErrDuplicateTag  = errors.New("sender: DMARC record repeats a tag")
	ErrNoPolicy      = errors.New("sender: DMARC record has no valid p= and no valid rua=")
	ErrRecordTooLong = errors.New("sender: DMARC record too long")
)

// Errors of DMARC policy discovery and evaluation, found in DMARCResult.Err
// (wrapped with the domain by *LookupError where DNS was involved).
var (
	// ErrMultipleRecords: several DMARC records at one name; RFC 7489
	// §6.6.3 says to apply no DMARC processing (status none).
	ErrMultipleRecords = errors.New("sender: several DMARC records")
	// ErrDNS: a DNS lookup failed temporarily (status temperror).
	ErrDNS = errors.New("sender: DNS lookup failed")
	// ErrNoFrom: the message has no usable RFC5322.From domain.
	ErrNoFrom = errors.New("sender: no RFC5322.From domain")
	// ErrInvalidDomain: a domain could not be normalised.
	ErrInvalidDomain = errors.New("sender: invalid domain")
)

// Errors of Authentication-Results formatting and parsing.
var (
	// ErrInvalidToken: a method, result, ptype or property name that is not
	// an RFC 8601 keyword, or an empty authserv-id, was given to Format.
	ErrInvalidToken = errors.New("sender: invalid Authentication-Results token")
	// ErrAuthResSyntax: ParseAuthResults could not parse a field.
	ErrAuthResSyntax = errors.New("sender: Authentication-Results syntax error")
)

// Errors of Check configuration.
var (
	// ErrConfig: the Checker's configuration is invalid (the error says
	// which field).
	ErrConfig = errors.New("sender: invalid configuration")
	// ErrNoClientIP: Session.ClientIP is not valid.
	ErrNoClientIP = errors.New("sender: session has no valid client IP")
)

// LookupError is a DNS failure with the name that was asked.
type LookupError struct {
	Name string // the name queried, e.g. "_dmarc.example.com"
	Err  error  // ErrDNS
	// Cause is the resolver's error.
	Cause error
}

func (e *LookupError) Error() string {
	return e.Err.Error() + ": " + e.Name + ": " + e.Cause.Error()
}

// Unwrap returns the sentinel and the resolver's error.
func (e *LookupError) Unwrap() []error { return []error{e.Err, e.Cause} }
