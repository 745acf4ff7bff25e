// Package dane implements DNS-Based Authentication of Named Entities for
// SMTP, RFC 7672, with the TLSA record of RFC 6698 (updated by RFC 7671 and
// RFC 7218): TLSA parsing, discovery of the records for an MX host over a
// DNSSEC-aware resolver, certificate verification, and the mapping to
// starttls's dane and dane-only levels.
//
// A TLSA record at _25._tcp.<mx-host> binds the SMTP server's certificate
// to DNSSEC-signed data:
//
//	_25._tcp.mx.example.com. TLSA 3 1 1 <SHA-256 of the server's public key>
//
// Only two certificate usages are used for SMTP (RFC 7672 §3.1):
//
//   - DANE-EE(3): the leaf certificate, or its public key, must match.
//     Names and validity dates are not checked: the DNSSEC signature is the
//     authority.
//   - DANE-TA(2): the record names a trust anchor (a CA certificate or
//     key) the chain must lead to, with the usual validity checks and a
//     name check against the reference identifiers of RFC 7672 §3.2.2.
//
// PKIX-TA(0) and PKIX-EE(1) records are unusable for SMTP (§3.1.3), as are
// records with an unknown selector or matching type, or a digest of the
// wrong length (TLSA.Check).
//
// Lookup follows RFC 7672 §2.2 for one MX host, given whether the MX
// lookup was DNSSEC-secure: it looks up the host's addresses, then the TLSA
// records at the CNAME-expanded name and then the original name, and says
// whether DANE applies (Host.Status). Host.Policy turns the outcome into a
// starttls.Policy: under level dane a host without secure TLSA records
// gets the fallback policy (MTA-STS, or opportunistic TLS), under
// dane-only it is refused; secure TLSA records that are all unusable mean
// mandatory TLS without authentication.
//
//	h, err := dane.Lookup(ctx, querier, dane.Input{Domain: "example.com", MXSecure: mxAnswer.Authentic, Host: mx})
//	if err != nil {
//		// RFC 7672 §2.1.1: bogus or indeterminate; do not use this MX
//	}
//	fallback := starttls.Policy{Level: starttls.May}
//	if h.Status == dane.Insecure {
//		// No DANE for this host: MTA-STS may apply (package starttls/mtasts).
//		fallback, err = stsResult.TLSPolicy(mx, fallback) // an *mtasts.MXError: skip this MX
//	}
//	p, err := h.Policy(starttls.DANE, fallback)
//
// Asking DANE first and MTA-STS only for hosts without DANE keeps the rule
// of RFC 8461 §2: a failing DANE validation is never overridden by MTA-STS.
//
// # Security considerations
//
// DANE is only as strong as the DNSSEC validation behind the AD bit, so
// Lookup takes a resolver.Querier, never a Resolver: a *net.Resolver, which
// cannot report validation, does not compile in. Use a validating resolver
// on the same host or a trusted path to one (RFC 7672 §1.3).
//
// A TLSA lookup that fails (no answer, SERVFAIL, which is what a
// validating resolver returns for bogus data) makes the host unusable
// rather than falling back: otherwise an attacker could switch DANE off by
// breaking the lookup. For the same reason a failing A or AAAA lookup does
// not make the other family insecure. A DANE failure is never overridden
// by MTA-STS (RFC 8461 §2). The client sends the TLSA base domain as SNI
// (RFC 7672 §8.1). Digests are compared in constant time.
//
// # Limits
//
// TLSA data is limited to what fits in a DNS record (MaxDataSize). Only
// the port given in Input (25 by default) over TCP is looked up. DANE-TA
// with a public key only ("2 1 0") works when the server sends the anchor
// certificate; otherwise only "2 0 0" records can supply a missing anchor.
package dane
