// Package smtpsec is the root of a library of SMTP security primitives for
// mail servers, test harnesses and tools: SPF, STARTTLS with Postfix-like
// security levels, MTA-STS, DANE, TLS-RPT, REQUIRETLS, DMARC and sender
// verification, and SRS for forwarders, each correct to its RFC and each
// testable offline.
//
// This package holds only the vocabulary the others share: [Reply], an SMTP
// reply with its RFC 3463 enhanced status code, and [ReplyError], an error that
// a server should send to its peer as a reply. It imports only the standard
// library.
//
// # Packages
//
//   - resolver: the DNS layer. resolver.Resolver is the subset of
//     *net.Resolver the library needs; resolver.Querier adds what net hides,
//     the response code and the DNSSEC AD bit (RFC 1035, RFC 4035). Client
//     speaks DNS with github.com/miekg/dns, Zone answers from zone-file text in
//     memory, and resolvertest.Server serves a Zone on loopback for tests.
//   - spf: the Sender Policy Framework evaluator, RFC 7208, with macros,
//     include and redirect, the lookup limits, explanations and Received-SPF.
//   - starttls: the STARTTLS upgrade, RFC 3207, client and server, with
//     security levels modelled on Postfix's, and implicit TLS (RFC 8314, port
//     465) under the same levels; beneath it mtasts (RFC 8461), dane (RFC
//     7672, RFC 6698) and tlsrpt (RFC 8460).
//   - requiretls: REQUIRETLS, RFC 8689: the EHLO keyword, the MAIL FROM
//     parameter, the TLS-Required header and per-hop enforcement.
//   - sender: who sent a message: DMARC (RFC 7489, and DMARCbis, RFC 9989, on
//     request), alignment, iprev (RFC 8601 §3), HELO signals, trusted relays
//     and forwarders, Authentication-Results (RFC 8601).
//   - forward: Sender Rewriting Scheme addresses for forwarders,
//     byte-compatible with postsrsd, with secret rotation.
//
// The command smtpsec (cmd/smtpsec) puts these in a mail administrator's
// hands, offline against a zone file or live, and runs the SPF policy and SRS
// map services for Postfix. The examples of this package combine them into a
// receiving server, a forwarder and a sender.
//
// # How the pieces fit an MTA
//
// On the receive path a server offers STARTTLS (starttls.Server), checks the
// client's SPF at MAIL FROM (spf.Checker), and once the message is in, reaches
// a verdict on its author's domain (sender), writing Authentication-Results.
// On the forward path, a forwarder rewrites the envelope sender (forward.SRS)
// so that the next hop's SPF check sees a domain that authorizes it, and
// reverses the rewritten address when a bounce comes back. On the send path,
// a client looks up the recipient domain's MTA-STS policy or DANE records,
// upgrades with verification (starttls), and lets a REQUIRETLS message leave
// only over a hop that meets RFC 8689 (requiretls).
package smtpsec
