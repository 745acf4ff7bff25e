// Package sender decides who really sent a message: it implements DMARC
// (Domain-based Message Authentication, Reporting, and Conformance), RFC
// 7489, with an opt-in mode for its successor RFC 9989 ("DMARCbis"); the
// iprev check and the Authentication-Results header field of RFC 8601; HELO
// signals; and the local trust rules that real mail flows need: relays
// inside the trust boundary, forwarders and mailing lists outside it.
//
// # DMARC in brief
//
// The author of a message is the domain of its From header field, the only
// address a reader sees. SPF (package spf) authenticates the envelope sender
// (MAIL FROM) and DKIM authenticates a signing domain (d=); neither says
// anything about From. DMARC ties them together: a message passes when SPF
// passed for a domain aligned with the From domain, or a DKIM signature
// passed with an aligned d=. Aligned means equal (strict mode, adkim=s /
// aspf=s) or sharing the same organizational domain (relaxed mode, the
// default): mail.example.com and news.example.com align, example.com and
// example.net do not. The organizational domain is the registered domain:
// one label below a public suffix (RFC 7489 §3.2, from the public suffix
// list; only its ICANN section, as RFC 7489 erratum 6729 and mox do), or in
// DMARCbis mode the result of a DNS tree walk over _dmarc records with the
// psd= tag (RFC 9989 §4.10).
//
// The domain owner publishes a policy at _dmarc.<domain>: p=none (monitor),
// quarantine or reject, sp= for subdomains, pct= to apply it to a sample.
// When the From domain has no record, the organizational domain's record
// applies (RFC 7489 §6.6.3). A failing message gets the policy's
// disposition; DNS trouble gives temperror and, when the policy might have
// rejected, DispositionTempFail (a 4xx reply).
//
// # Using it
//
// A Checker holds the configuration; its zero value works. Check takes the
// SMTP session facts (client address, HELO, MAIL FROM, AUTH state, an
// optional SPF outcome already computed) and the message facts (From
// addresses, DKIM and ARC results from the caller's verifier, the
// Authentication-Results fields already present) and returns a Verdict: the
// disposition, the DMARC result with its policy domain and alignment
// details, any override and its reason, iprev and HELO results, reasons in
// words, a ready Authentication-Results field and the indices of incoming
// fields to delete.
//
//	c := &sender.Checker{AuthservID: "mx.example.org", Resolver: r}
//	v, err := c.Check(ctx, sender.Session{ClientIP: ip, HELO: helo, MailFrom: from},
//		sender.Message{From: []string{"alice@example.com"}, DKIM: dkimResults})
//	if err != nil { /* no verdict: configuration, client IP, cancelled */ }
//	switch v.Disposition { case sender.DispositionReject: ... }
//
// The building blocks are exported too: ParseRecord, OrganizationalDomain,
// Checker.LookupDMARC, Checker.Aligned, Checker.EvaluateDMARC,
// Checker.IPRev, AuthResults.Format, ParseAuthResults and
// RemovableAuthResults.
//
// # Trust boundary
//
// SPF judges the client that connected, which is right only at the edge.
// A Relay is a host inside the boundary, matched by address only. An
// internal relay (RelaySkipChecks) is not checked at all. A backup MX that
// already checked SPF (RelayTrustAuthResults) is not SPF-checked itself;
// its Authentication-Results are read instead, but only fields with one of
// its pinned authserv-ids and only when the message comes from its
// addresses. Incoming fields that claim one of our authserv-ids (ours, or a
// relay's) are listed for deletion unless they came directly from the relay
// that stamps them (RFC 8601 §5), so a forged "spf=pass" from the outside
// never counts.
//
// A Forwarder is outside the boundary: a host that forwards mail to us and
// so breaks SPF (and, when it alters the message, DKIM). Matched by address
// or by a forward-confirmed (iprev pass) PTR name suffix, optionally only
// for some recipient domains, it may soften a DMARC failure to its
// Disposition. The DMARC result stays fail; the override is recorded with
// the RFC 7489 reason trusted_forwarder in the Verdict and the
// Authentication-Results field. MailingLists (authenticated by SPF or DKIM
// for the list's own domain) and TrustedARCSealers work the same way, with
// the reasons mailing_list and local_policy.
//
// A MAIL FROM in SRS form (package forward) is recognised and its claimed
// original sender noted for logs; it is never used for alignment, since only
// the forwarder that minted it could verify it.
//
// # Security considerations
//
// Only the client address, and names confirmed by iprev, select a relay or
// forwarder; the HELO name and unconfirmed PTR names are chosen by the
// client and select nothing. A relay in RelayTrustAuthResults mode without
// a field under its pinned ids leaves SPF unknown (fail closed), never pass.
// The Authentication-Results builder quotes every value that is not a plain
// token or address and replaces control characters, so a hostile HELO, MAIL
// FROM or From cannot add a method, a property or a header field. HELO
// signals never reject on their own (RFC 5321 §4.1.4).
//
// pct= sampling uses Checker.Rand (math/rand/v2 by default); it is not a
// security boundary, only the domain owner's rollout tool.
//
// # Limits
//
// DMARC discovery makes at most 2 TXT queries (RFC 7489), or at most 8 per
// tree walk (RFC 9989), plus up to three existence queries for np=; the
// answers are shared within one Check. iprev checks at most MaxPTRNames (10)
// names within IPRevTimeout (10 s); a whole Check is bounded by Timeout (30
// s). At most 8 distinct From domains are evaluated, and at most 16 passing
// DKIM signatures are checked for alignment. ParseRecord and
// ParseAuthResults refuse inputs above 64 KiB and run in linear time.
//
// The package verifies no DKIM or ARC signature, parses no message and
// sends no reports: the caller's DKIM verifier fills DKIMResult (the interop
// module shows how from github.com/emersion/go-msgauth/dkim). The reason
// texts in Verdict.Reasons are not stable; the Authentication-Results
// format and the result tokens are.
package sender
