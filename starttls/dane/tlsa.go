package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Usage is the certificate usage field of a TLSA record (RFC 6698 §2.1.1,
// acronyms from RFC 7218).
type Usage uint8

// Certificate usages.
const (
	PKIXTA Usage = 0 // PKIX-TA: CA constraint; unusable for SMTP (RFC 7672 §3.1.3)
	PKIXEE Usage = 1 // PKIX-EE: service certificate constraint; unusable for SMTP
	DANETA Usage = 2 // DANE-TA: trust anchor assertion (RFC 7672 §3.1.2)
	DANEEE Usage = 3 // DANE-EE: domain-issued certificate (RFC 7672 §3.1.1)
)

// Selector is the selector field of a TLSA record (RFC 6698 §2.1.2).
type Selector uint8

// Selectors.
const (
	Cert Selector = 0 // the full DER certificate
	SPKI Selector = 1 // the DER SubjectPublicKeyInfo
)

// MatchingType is the matching type field of a TLSA record (RFC 6698
// §2.1.3).
type MatchingType uint8

// Matching types.
const (
	Full   MatchingType = 0 // the selected content itself
	SHA256 MatchingType = 1 // its SHA2-256 digest, 32 octets
	SHA512 MatchingType = 2 // its SHA2-512 digest, 64 octets
)

// MaxDataSize bounds the certificate association data ParseTLSA accepts:
// the RDATA of a DNS record cannot exceed 65535 octets.
const MaxDataSize = 65535 - 3

// TLSA is the data of one TLSA record (RFC 6698 §2.1).
type TLSA struct {
	Usage        Usage
	Selector     Selector
	MatchingType MatchingType
	// Data is the certificate association data.
	Data []byte
}

// Errors returned by ParseTLSA and TLSA.Check.
var (
	// ErrTLSASyntax: the text is not TLSA presentation format.
	ErrTLSASyntax = errors.New("dane: invalid TLSA record")
	// ErrUnusable: the record is well-formed but SMTP clients must not use
	// it (RFC 7672 §3.1): usage 0 or 1, an unknown selector or matching
	// type, or a digest of the wrong length.
	ErrUnusable = errors.New("dane: unusable TLSA record")
)

// ParseTLSA parses the RDATA of a TLSA record in presentation format
// (RFC 6698 §2.2): three decimal fields and the association data in
// hexadecimal, which may be split by white space, as in "3 1 1 2bb1...".
// It returns an error wrapping ErrTLSASyntax for anything else. The record
// may still be unusable for SMTP: see Check.
func ParseTLSA(s string) (TLSA, error) {
	fail := func(reason string) (TLSA, error) {
		return TLSA{}, &RecordError{Text: truncate(s), Reason: reason, Err: ErrTLSASyntax}
	}
	f := strings.Fields(s)
	if len(f) < 4 {
		return fail("need usage, selector, matching type and data")
	}
	var n [3]uint8
	for i := range n {
		v, err := strconv.ParseUint(f[i], 10, 8)
		if err != nil {
			return fail("field " + strconv.Itoa(i+1) + " is not a number from 0 to 255")
		}
		n[i] = uint8(v)
	}
	h := strings.Join(f[3:], "")
	if len(h) > 2*MaxDataSize {
		return fail("association data too long")
	}
	data, err := hex.DecodeString(h)
	if err != nil || len(data) == 0 {
		return fail("association data is not hexadecimal")
	}
	return TLSA{Usage: Usage(n[0]), Selector: Selector(n[1]), MatchingType: MatchingType(n[2]), Data: data}, nil
}

// FromRR converts a miekg/dns TLSA record. It returns an error wrapping
// ErrTLSASyntax when the record's hexadecimal data does not decode.
func FromRR(rr *dns.TLSA) (TLSA, error) {
	data, err := hex.DecodeString(rr.Certificate)
	if err != nil || len(data) == 0 {
		return TLSA{}, &RecordError{Text: truncate(rr.String()), Reason: "association data is not hexadecimal", Err: ErrTLSASyntax}
	}
	return TLSA{Usage: Usage(rr.Usage), Selector: Selector(rr.Selector), MatchingType: MatchingType(rr.MatchingType), Data: data}, nil
}

// RR returns t as a miekg/dns record owned by name (for example
// "_25._tcp.mx.example.test.") with the given TTL.
func (t TLSA) RR(name string, ttl uint32) *dns.TLSA {
	return &dns.TLSA{
		Hdr:          dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: ttl},
		Usage:        uint8(t.Usage),
		Selector:     uint8(t.Selector),
		MatchingType: uint8(t.MatchingType),
		Certificate:  hex.EncodeToString(t.Data),
	}
}

// String returns t in presentation format, with lower-case hexadecimal.
func (t TLSA) String() string {
	return strconv.Itoa(int(t.Usage)) + " " + strconv.Itoa(int(t.Selector)) + " " +
		strconv.Itoa(int(t.MatchingType)) + " " + hex.EncodeToString(t.Data)
}

// Check returns nil when an SMTP client may use t (RFC 7672 §3.1): usage
// DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching type 0, 1 or 2 with
// data of the digest's length. Otherwise it returns a *RecordError wrapping
// ErrUnusable.
func (t TLSA) Check() error {
	fail := func(reason string) error {
		return &RecordError{Text: truncate(t.String()), Reason: reason, Err: ErrUnusable}
	}
	switch t.Usage {
	case DANETA, DANEEE:
	case PKIXTA, PKIXEE:
		// RFC 7672 §3.1.3: there is no agreed set of CAs for MTAs, so
		// PKIX-TA(0) and PKIX-EE(1) are unusable.
		return fail("PKIX usages are unusable for SMTP")
	default:
		return fail("unknown usage")
	}
	if t.Selector != Cert && t.Selector != SPKI {
		return fail("unknown selector")
	}
	switch t.MatchingType {
	case Full:
		if len(t.Data) == 0 {
			return fail("empty association data")
		}
	case SHA256:
		if len(t.Data) != sha256.Size {
			return fail("SHA2-256 data is not 32 octets")
		}
	case SHA512:
		if len(t.Data) != sha512.Size {
			return fail("SHA2-512 data is not 64 octets")
		}
	default:
		return fail("unknown matching type")
	}
	return nil
}

// Usable reports whether Check returns nil.
func (t TLSA) Usable() bool { return t.Check() == nil }

// Matches reports whether cert matches t's selector, matching type and
// data, whatever t's usage. Digests are compared in constant time.
func (t TLSA) Matches(cert *x509.Certificate) bool {
	var content []byte
	switch t.Selector {
	case Cert:
		content = cert.Raw
	case SPKI:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch t.MatchingType {
	case Full:
	case SHA256:
		d := sha256.Sum256(content)
		content = d[:]
	case SHA512:
		d := sha512.Sum512(content)
		content = d[:]
	default:
		return false
	}
	return len(content) == len(t.Data) && subtle.ConstantTimeCompare(content, t.Data) == 1
}

// RecordError reports a TLSA record that could not be parsed or used.
type RecordError struct {
	// Text is the record in presentation format, truncated to 100 octets.
	Text string
	// Reason says what is wrong; its wording is not stable.
	Reason string
	// Err is ErrTLSASyntax or ErrUnusable.
	Err error
}

// Error implements error.
func (e *RecordError) Error() string {
	return e.Err.Error() + ": " + e.Reason + ": " + strconv.Quote(e.Text)
}

// Unwrap returns Err.
func (e *RecordError) Unwrap() error { return e.Err }

func truncate(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max]
	}
	return s
}
