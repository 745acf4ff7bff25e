package requiretls

import (
	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/starttls"
)

// MXAuth says how the name of the host a client delivers to was
// authenticated, before any TLS (RFC 8689 §4.2.1 step 2).
type MXAuth int

// The ways an MX name can be authenticated.
const (
	// MXUnauthenticated: the MX RRset came from an insecure or unvalidated
	// DNS answer, and no MTA-STS policy matched the host.
	MXUnauthenticated MXAuth = iota
	// MXDNSSEC: the MX RRset was DNSSEC-validated (a resolver.Answer with
	// Authentic set, from a validating resolver the caller trusts).
	MXDNSSEC
	// MXMTASTS: the MX host name matched an "mx" pattern of the domain's
	// MTA-STS policy in mode enforce (RFC 8461 §4.1). The starttls/mtasts
	// package's Result.TLSPolicy returns level starttls.MTASTS only for
	// such a host (and an *MXError for the others), so a session set up
	// under that policy may pass MXMTASTS.
	MXMTASTS
	// MXImplicit: the domain has no MX records and the host is the domain
	// itself (RFC 5321 §5.1 implicit MX). RFC 8689 §4.2.1 asks for MX
	// validation only "if the lookup uses MX records"; the certificate must
	// then match the domain.
	MXImplicit
)

func (m MXAuth) String() string {
	switch m {
	case MXUnauthenticated:
		return "unauthenticated"
	case MXDNSSEC:
		return "dnssec"
	case MXMTASTS:
		return "mta-sts"
	case MXImplicit:
		return "implicit"
	}
	return "MXAuth(?)"
}

// Hop is what a client knows about one SMTP session to one MX host, after
// STARTTLS and the second EHLO, when it decides whether a message may go.
// The zero value is a plaintext session to an unauthenticated host.
type Hop struct {
	// TLS reports whether TLS is active on the session.
	TLS bool
	// Auth is how the server's certificate was authenticated
	// (starttls.Session reports it).
	Auth starttls.Authentication
	// Level is the security level the session was set up under. Only
	// starttls.MTASTS makes a PKIX-verified certificate count: the
	// certificate then matched a host name the recipient domain published
	// in an enforce policy.
	Level starttls.Level
	// MX is how the host name was authenticated.
	MX MXAuth
	// RequireTLS reports whether the EHLO reply after STARTTLS listed
	// REQUIRETLS. A keyword seen before STARTTLS must not be reported here
	// (RFC 3207 §4.2: the client discards knowledge from before TLS).
	RequireTLS bool
}

// Failure names the RFC 8689 §4.2.1 requirement a hop failed.
type Failure string

// The requirements, in the order they are checked.
const (
	FailNone        Failure = ""                   // every requirement met
	FailNoTLS       Failure = "no-tls"             // TLS not active
	FailUnverified  Failure = "unverified"         // certificate not verified by DANE or by PKIX under MTA-STS
	FailMXName      Failure = "mx-unauthenticated" // MX name neither DNSSEC-secure nor MTA-STS matched
	FailNoExtension Failure = "no-requiretls"      // post-TLS EHLO lacks REQUIRETLS
)

// Decision is the gate's verdict for one message on one hop. Its fields are
// unexported so that only [CheckHop] and [CheckSession] make one that allows
// REQUIRETLS: a caller cannot build a permit by hand. The zero Decision
// allows nothing.
type Decision struct {
	send       bool
	requireTLS bool
	failure    Failure
	detail     string
}

// Send reports whether the message may be sent on this hop.
func (d Decision) Send() bool { return d.send }

// RequireTLS reports whether MAIL FROM carries the REQUIRETLS parameter on
// this hop: the message is tagged REQUIRETLS and the hop met RFC 8689 §4.2.1.
func (d Decision) RequireTLS() bool { return d.requireTLS }

// Failure returns the requirement the hop failed, FailNone when Send is true.
func (d Decision) Failure() Failure { return d.failure }

// Reply returns, built fresh, why the message may not go on this hop:
// 550 5.7.30 when only the REQUIRETLS keyword was missing, 550 5.7.10 when the
// TLS or authentication part failed (RFC 8689 §4.2.1). When Send is true it
// returns the zero Reply.
func (d Decision) Reply() smtpsec.Reply {
	switch d.failure {
	case FailNone:
		if d.send {
			return smtpsec.Reply{}
		}
		return ReplyEncryptionNeeded("")
	case FailNoExtension:
		return ReplySupportRequired()
	}
	return ReplyEncryptionNeeded(d.detail)
}

// CheckHop is the sender-side gate of RFC 8689 §4.2.1: every outgoing
// message goes through it on every hop, and only a Decision it returns can
// put REQUIRETLS on MAIL FROM ([Decision.MailFrom]).
//
// For a message tagged TagRequireTLS the hop must meet all of:
//
//  1. TLS is active;
//  2. the certificate was verified by DANE (DANE-EE or DANE-TA, RFC 7672)
//     or by PKIX under an MTA-STS enforce policy that matched the MX
//     (starttls.AuthPKIX with starttls.MTASTS);
//  3. the MX name was authenticated: a DNSSEC-secure MX RRset, a match with
//     the MTA-STS policy, or no MX at all (implicit MX);
//  4. the EHLO reply after STARTTLS listed REQUIRETLS.
//
// Otherwise the message may not go on this hop: the caller sends QUIT, tries
// the next MX and, when none is left, bounces with [Exhausted]'s reply in a
// redacted report ([BuildNDR]). Requirements 1 to 3 failing gives 5.7.10,
// only 4 failing gives 5.7.30.
//
// This is stricter than RFC 8689 §4.2.1, which also accepts a PKIX-verified
// certificate under a DNSSEC-secure MX without MTA-STS: a PKIX check that no
// policy of the recipient asked for rests on the sender's own choice of names
// and roots, so it is refused here (5.7.10), as Postfix's "DANE or MTA-STS in
// practice" also reads the RFC. A fingerprint pin is refused as well: it is
// neither PKIX nor DANE.
//
// For TagNone and TagTLSRequiredNo the gate allows the message and never
// adds REQUIRETLS; the TLS policy that set up the session (relaxed by [Relax]
// for TLS-Required: No) has already decided whether the hop is acceptable.
func CheckHop(tag Tag, hop Hop) Decision {
	if tag != TagRequireTLS {
		if !tag.Valid() {
			// An unknown tag is treated as the strictest, never as none.
			return CheckHop(TagRequireTLS, hop)
		}
		return Decision{send: true}
	}
	switch {
	case !hop.TLS:
		return Decision{failure: FailNoTLS, detail: "no TLS"}
	case !verified(hop):
		return Decision{failure: FailUnverified, detail: "certificate " + authText(hop) + ", not DANE or MTA-STS"}
	case !mxAuthenticated(hop):
		return Decision{failure: FailMXName, detail: "MX name not authenticated by DNSSEC or MTA-STS"}
	case !hop.RequireTLS:
		// RFC 8689 §4.2.1 step 5: the post-TLS EHLO must list REQUIRETLS.
		return Decision{failure: FailNoExtension}
	}
	return Decision{send: true, requireTLS: true}
}

// verified reports whether the certificate check satisfies RFC 8689 §4.2.1
// step 4 as this package reads it (see CheckHop).
func verified(h Hop) bool {
	switch h.Auth {
	case starttls.AuthDANEEE, starttls.AuthDANETA:
		return true
	case starttls.AuthPKIX:
		return h.Level == starttls.MTASTS
	}
	return false
}

// mxAuthenticated implements RFC 8689 §4.2.1 step 2.
func mxAuthenticated(h Hop) bool {
	switch h.MX {
	case MXDNSSEC, MXMTASTS, MXImplicit:
		return true
	}
	return false
}

func authText(h Hop) string {
	if h.Auth == starttls.AuthPKIX {
		return "verified by PKIX without an MTA-STS policy"
	}
	if h.Auth == starttls.Unauthenticated {
		return "not verified"
	}
	return "verified by " + h.Auth.String()
}

// Exhausted returns the reply for a REQUIRETLS message after every MX host
// was tried, given the decisions for the hops that were reached: 550 5.7.30
// when some hop met every requirement but the REQUIRETLS keyword (the
// destination lacks REQUIRETLS support), 550 5.7.10 otherwise, including when
// no hop was reached at all (RFC 8689 §4.2.1). Postfix 3.12 makes the same
// split.
func Exhausted(decisions ...Decision) smtpsec.Reply {
	for _, d := range decisions {
		if d.failure == FailNoExtension {
			return ReplySupportRequired()
		}
	}
	for _, d := range decisions {
		if !d.send && d.failure != FailNone {
			return d.Reply()
		}
	}
	return ReplyEncryptionNeeded("")
}
