package dane

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors of certificate verification, wrapped in *VerifyError.
var (
	// ErrNoCertificate: the server presented no certificate.
	ErrNoCertificate = errors.New("dane: server presented no certificate")
	// ErrNoMatch: no usable TLSA record matches the leaf (DANE-EE) or a
	// certificate of the chain (DANE-TA), or there are no usable records.
	ErrNoMatch = errors.New("dane: no TLSA record matches the server certificate")
	// ErrChain: a DANE-TA trust anchor matched, but the chain from the leaf
	// to it does not verify.
	ErrChain = errors.New("dane: certificate chain does not verify to the DANE-TA trust anchor")
	// ErrExpired: a DANE-TA chain holds a certificate outside its validity
	// period.
	ErrExpired = errors.New("dane: certificate expired or not yet valid")
	// ErrNameMismatch: a DANE-TA chain verified, but the leaf names none of
	// the reference identifiers (RFC 7672 §3.2.2).
	ErrNameMismatch = errors.New("dane: certificate matches no reference identifier")
)

// VerifyError reports a server certificate that the TLSA records do not
// authenticate.
type VerifyError struct {
	// Kind is ErrNoCertificate, ErrNoMatch, ErrChain, ErrExpired or
	// ErrNameMismatch.
	Kind error
	// Names are the reference identifiers that were allowed.
	Names []string
	// Err is the cause from crypto/x509, when there is one.
	Err error
}

// Error implements error.
func (e *VerifyError) Error() string {
	s := e.Kind.Error()
	if errors.Is(e.Kind, ErrNameMismatch) {
		s += " " + strconv.Quote(strings.Join(e.Names, " "))
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and the cause.
func (e *VerifyError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Verifier checks a server's certificates against TLSA records (RFC 7672
// §3). The zero value accepts nothing.
type Verifier struct {
	// Records are the TLSA records; unusable ones (Check) are ignored.
	Records []TLSA
	// Names are the reference identifiers a DANE-TA chain's leaf must
	// match (RFC 7672 §3.2.2), such as Host.Names gives. DANE-EE ignores
	// them.
	Names []string
	// Now returns the time for DANE-TA validity checks. If nil, time.Now
	// is used.
	Now func() time.Time
}

// Verify checks cs.PeerCertificates, as the server sent them (leaf first),
// against the records and returns the record that authenticated it:
//
//   - DANE-EE(3) (RFC 7672 §3.1.1): the leaf certificate or its public key
//     matches; its names and validity period are not checked, and no chain
//     is built;
//   - DANE-TA(2) (RFC 7672 §3.1.2): a certificate the server sent matches
//     and is the trust anchor, or the record is "2 0 0" and holds the whole
//     anchor, which is then used even when the server omits it; the chain
//     from the leaf must verify to the anchor at the current time, and the
//     leaf must match one of Names (wildcards only as the whole left-most
//     label, RFC 6125 §6.4.3).
//
// Verify uses cs.PeerCertificates, not cs.VerifiedChains: run it with
// tls.Config.InsecureSkipVerify set, from VerifyConnection. Errors are a
// *VerifyError.
func (v *Verifier) Verify(cs tls.ConnectionState) (TLSA, error) {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return TLSA{}, &VerifyError{Kind: ErrNoCertificate}
	}
	leaf := certs[0]
	for _, r := range v.Records {
		// RFC 7672 §3.1.1: DANE-EE, no name or expiry checks.
		if r.Usage == DANEEE && r.Usable() && r.Matches(leaf) {
			return r, nil
		}
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	var best *VerifyError
	keep := func(e *VerifyError) {
		if best == nil || rank(e.Kind) > rank(best.Kind) {
			best = e
		}
	}
	for _, r := range v.Records {
		if r.Usage != DANETA || !r.Usable() {
			continue
		}
		// anchor is a trust anchor candidate with the other certificates
		// the server sent, in any order (RFC 8446 §4.4.2 lets servers
		// misorder them). Leaving the anchor out of the intermediates
		// keeps chain building from trying dead ends through it.
		type anchor struct {
			cert  *x509.Certificate
			chain []*x509.Certificate
		}
		var anchors []anchor
		for i, c := range certs[1:] {
			if r.Matches(c) {
				chain := make([]*x509.Certificate, 0, len(certs)-2)
				chain = append(append(chain, certs[1:i+1]...), certs[i+2:]...)
				anchors = append(anchors, anchor{c, chain})
			}
		}
		// RFC 7672 §3.1.2: a "2 0 0" record carries the whole trust anchor,
		// so the server may leave it out of its chain.
		if len(anchors) == 0 && r.Selector == Cert && r.MatchingType == Full {
			if ta, err := x509.ParseCertificate(r.Data); err == nil {
				anchors = append(anchors, anchor{ta, certs[1:]})
			}
		}
		for _, ta := range anchors {
			roots := x509.NewCertPool()
			roots.AddCert(ta.cert)
			var intermediates *x509.CertPool
			if len(ta.chain) > 0 {
				intermediates = x509.NewCertPool()
				for _, c := range ta.chain {
					intermediates.AddCert(c)
				}
			}
			_, err := leaf.Verify(x509.VerifyOptions{
				Roots:         roots,
				Intermediates: intermediates,
				CurrentTime:   now,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				kind := ErrChain
				var ci x509.CertificateInvalidError
				if errors.As(err, &ci) && ci.Reason == x509.Expired {
					kind = ErrExpired
				}
				keep(&VerifyError{Kind: kind, Err: err})
				continue
			}
			// RFC 7672 §3.2.2: DANE-TA requires a name check.
			for _, n := range v.Names {
				if leaf.VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
					return r, nil
				}
			}
			keep(&VerifyError{Kind: ErrNameMismatch, Names: v.Names})
		}
	}
	if best != nil {
		return TLSA{}, best
	}
	return TLSA{}, &VerifyError{Kind: ErrNoMatch}
}

// rank orders DANE-TA failures by how far verification got, so that the
// most telling one is reported.
func rank(kind error) int {
	switch kind {
	case ErrChain:
		return 1
	case ErrExpired:
		return 2
	case ErrNameMismatch:
		return 3
	}
	return 0
}
