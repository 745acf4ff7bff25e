// Package resolver is the DNS layer of smtpsec: the interfaces the protocol
// packages use to look names up, a stub resolver that reports what
// net.Resolver hides, and an in-memory zone for tests and offline use.
//
// # Interfaces
//
// [Resolver] is a subset of *net.Resolver's method set (LookupTXT, LookupMX,
// LookupNetIP, LookupAddr), so net.DefaultResolver can be passed where a
// Resolver is wanted. Its errors are *net.DNSError values: IsNotFound means
// NXDOMAIN or NODATA, a definite "no such record" (SPF's void lookup, RFC
// 7208 §4.6.4); IsTimeout and IsTemporary mean the answer is unknown. Use
// [IsNotFound] and [IsTemporary] to classify any error.
//
// [Querier] exposes the response code (RFC 1035 §4.1.1, telling NXDOMAIN from
// SERVFAIL) and the DNSSEC AD bit (RFC 4035 §3.2.3) in an [Answer]. Code that
// needs DNSSEC, such as DANE (RFC 7672), takes a Querier, so that a resolver
// that cannot report authenticity is refused at compile time.
//
// # Implementations
//
// [Client] asks recursive resolvers over UDP and TCP with miekg/dns message
// code: EDNS0 with the DO bit, TCP after truncation, bounded attempts and
// per-query timeouts under the context's deadline, CNAME chains followed
// with a bound, internationalised names converted to A-labels, and an
// optional response cache ([Cache], [MemoryCache]). Its zero value reads
// /etc/resolv.conf.
//
// [Zone] holds records in memory, parsed from zone-file text ([ParseZone]) or
// added in presentation format ([Zone.Add]). It answers with the same rules
// as a recursive resolver (NXDOMAIN vs NODATA, CNAME chains, wildcards), can
// be told to fail for chosen names ([Zone.SetFailure]) and which names are
// DNSSEC-secure ([Zone.SetSecure]). Package resolvertest serves a Zone over
// real UDP and TCP on loopback, so that tests can exercise Client on the wire.
//
// # Names
//
// Names given to the API (Query, the Lookup methods, [Zone.SetFailure],
// [Zone.SetSecure], [Zone.Remove]) are raw, as net.Resolver takes them: '.'
// separates labels and every other octet stands for itself, so "a b.example"
// has a space in its first label and a backslash is a backslash. RFC 2181
// §11 allows any octet in a label, and SPF macros (RFC 7208 §7.3) build
// such names. Labels holding non-ASCII UTF-8 are U-labels, converted to
// A-labels (RFC 5891 §5). Zone-file text and dns.RR values are in
// presentation format (RFC 1035 §5.1), where the same name is written
// "a\ b.example." or "a\032b.example.", and "a\.b" is one label holding a
// dot, which no raw name can express. [Answer.Name] and the owners of
// records from a Zone are in the canonical presentation form that
// [CanonicalName] returns.
//
// Results follow net.Resolver: LookupTXT returns the octets of the
// records (`say "hi"`, not miekg/dns's `say \"hi\"`); LookupMX and
// LookupAddr return names as their octets and, like net, drop names that
// are not host names (letters, digits, '-', '_') and report them with an
// error returned alongside the others.
//
// Client and Zone build their net-style results (TXT strings joined, MX
// sorted, errors shaped like net's) from Query answers in one shared piece of
// code, so the wire path and the in-memory path give the same results.
//
// # Security considerations
//
// The AD bit is only as good as the path from the validating resolver: a
// Client believes it only from servers TrustAD accepts, by default loopback
// addresses (a validating resolver on the same host, RFC 4035 §4.9.3).
// Answers from other servers are never Authentic. Responses must come
// from the server asked, carry the query's random ID and repeat its question
// (RFC 5452); others are ignored. Every name goes through one
// canonicalisation ([CanonicalName]) before use, so U-labels, mixed case
// and the several escapes of one octet cannot create distinct cache
// entries or zone names for the same name, and a label holding a '.' octet
// can never be taken for two labels.
//
// Each query to a remote server is sent from a fresh UDP socket, so a fresh
// random source port (RFC 5452 §3). Sockets to loopback servers are kept and
// reused, since no off-path attacker can inject packets on the loopback
// interface; a response is accepted only if its ID and question match, so a
// late answer to an earlier query on a kept socket is ignored.
//
// # Limits
//
// Zone texts hold at most [MaxZoneRecords] records. CNAME chains are
// followed for at most [MaxCNAMEChain] records; a loop or a longer chain is a
// temporary error. Names longer than 253 octets or with labels over 63 octets
// are refused (RFC 1035 §2.3.4; counted in wire octets, so an escape counts
// as one), and so are raw names holding non-ASCII octets that are not valid
// UTF-8 ([NameError]). Client does not apply a search list, does
// not rotate servers, and does not validate DNSSEC itself. Zone does not
// serve zone transfers, does not sign, and $INCLUDE is refused when parsing.
package resolver
