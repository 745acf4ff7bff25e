// Package spf implements the Sender Policy Framework (SPF), [RFC 7208]: the
// check a mail receiver makes to learn whether the SMTP client's IP address
// is authorized to send mail for the domain in MAIL FROM (or HELO).
//
// # How SPF works
//
// A domain publishes a TXT record such as
//
//	v=spf1 ip4:192.0.2.0/24 include:_spf.example.net mx -all
//
// Given the client's IP, the receiver evaluates the record's mechanisms from
// left to right (RFC 7208 §4.6.2): the first that matches decides, its
// qualifier ("+" pass, "-" fail, "~" softfail, "?" neutral) giving the
// result. ip4 and ip6 compare the address with a network; a and mx compare
// it with a host's or the mail exchangers' addresses; include evaluates
// another domain's record and matches when that gives pass; exists matches
// when a name (usually built with macros such as %{i}) has an A record; ptr
// checks the client's validated reverse name; all always matches. When no
// mechanism matches, a redirect= modifier hands the decision to another
// domain, else the result is neutral. For fail, an exp= modifier names a
// TXT record holding an explanation for the SMTP reply (§6.2).
//
// The results are the [Result] constants, whose values are the RFC tokens
// (§2.6): none, neutral, pass, fail, softfail, temperror and permerror.
// RFC 7208 §8 says what a receiver may do with each: a fail is commonly
// rejected, a temperror deferred with a 4xx reply.
//
// # Using it
//
// A [Checker] holds the configuration; its zero value checks through
// net.DefaultResolver with the RFC limits, and one Checker serves any number
// of goroutines:
//
//	c := &spf.Checker{Resolver: &resolver.Client{}, ReceiverDomain: "mx.example.org"}
//	out, err := c.Check(ctx, spf.Input{IP: ip, HELO: helo, MailFrom: from})
//	switch out.Result {
//	case spf.Fail:
//		// reject with out.Explanation
//	}
//	hdr := out.ReceivedSPF() // "Received-SPF: pass (...) client-ip=..."
//
// [Checker.Check] checks the MAIL FROM identity, or HELO for the null
// reverse-path (§2.4); [Checker.CheckHELO] checks the HELO identity (§2.3);
// [Checker.CheckHost] is the bare check_host() of §4. [ParseRecord] parses a
// record without DNS, for linting and tests.
//
// The error returned with an [Outcome] is non-nil exactly when the result is
// TempError or PermError. It is then an [*Error] naming the domain and the
// term that caused it, even deep inside a chain of includes, and wrapping a sentinel such as [ErrTooManyLookups], a [*SyntaxError] or a
// [*LookupError]; match with errors.Is and errors.As. A verdict such as Fail
// is data, never an error.
//
// When the resolver implements resolver.Querier (resolver.Client and
// resolver.Zone do), NXDOMAIN and NODATA are told apart exactly, and
// [Outcome.Authentic] reports whether every answer the verdict rests on was
// DNSSEC-validated.
//
// [Outcome.ReceivedSPF] renders the Received-SPF header field of §9.1 and
// [Outcome.AuthenticationResults] the "spf=" method entry of [RFC 8601].
//
// # Limits
//
// RFC 7208 §4.6.4 bounds the work a record can demand, and this package
// enforces it over the whole evaluation, includes and redirects together:
//
//   - At most 10 terms that query DNS: include, a, mx, ptr, exists and
//     redirect ([Checker.MaxLookups]; more violates the RFC). The 11th is
//     permerror ([ErrTooManyLookups]).
//   - At most 2 void lookups, terms whose lookup gave NXDOMAIN or no data
//     ([Checker.MaxVoidLookups]; negative for no limit). A term counts once,
//     by its own query: the address lookup of a and exists, the MX lookup of
//     mx, the PTR lookup of ptr. The address lookups of MX hosts and PTR
//     names do not count. Receivers that see IPv6 clients fail on records
//     whose a and mx point at IPv4-only hosts may raise the limit.
//   - At most 10 MX names per mx term: the mechanism is permerror when it
//     would look up the 11th ([ErrTooManyMX]); at most 10 PTR names per ptr
//     term or %{p} macro, the rest ignored.
//   - An include or redirect that leads back to a domain being evaluated is
//     permerror ([ErrLoop]) as soon as it is reached, and nesting deeper
//     than 16 records is permerror whatever MaxLookups says.
//
// Parsed records are cached per Checker by their TXT text, at most 4096
// records and 1 MiB of text; records longer than 4 KiB are parsed each time.
//
// # Security considerations
//
// The DNS data is the sender's, and may be hostile (RFC 7208 §11). Records
// are parsed in linear time; a 64 KiB record or one of 10,000 terms costs a
// parse and at most 10 DNS-querying terms. Macro expansion is bounded: a
// domain is built in a window of 2 KiB and truncated to 253 octets from the
// left (§7.3), an explanation is cut at 1 KiB, and an expansion that would
// produce more than 256 KiB (many macros over a long sender) fails: the
// name is then treated as non-existent, the explanation as unusable. Loops end as permerror, never
// as unbounded recursion. Every lookup takes the caller's context, and a
// cancelled context ends the check with TempError; a receiver should give
// each check a deadline (§4.6.4 suggests at least 20 seconds).
//
// Explanations come from the sender's DNS: [Outcome.Explanation] is kept to
// printable US-ASCII, and an exp= text with anything else falls back to the
// default explanation, but it is still the sender's text. The header
// renderers quote every value and drop any value holding CR, LF or other
// control characters, so a hostile HELO name or MAIL FROM cannot add a
// header field or a key=value pair.
//
// Names built by macros may hold octets that DNS names rarely hold (a space
// from %_, "%" from %%); they are passed to the resolver in presentation
// format (\032). net.Resolver refuses such names, which then do not exist.
//
// The text of the Received-SPF comment, of Error messages and of the Logger
// records is not stable; the Result tokens, the header keys and the Outcome
// fields are.
//
// [RFC 7208]: https://www.rfc-editor.org/rfc/rfc7208
// [RFC 8601]: https://www.rfc-editor.org/rfc/rfc8601
package spf
