// Package mtasts implements SMTP MTA Strict Transport Security (MTA-STS),
// RFC 8461, for sending MTAs: policy discovery, fetching, caching, MX host
// matching, and the mapping of a policy to a starttls.Policy.
//
// A domain that wants senders to require authenticated TLS publishes a TXT
// record at _mta-sts.<domain> (ParseRecord, LookupRecord)
//
//	_mta-sts.example.com. TXT "v=STSv1; id=20160831085700Z"
//
// and a policy file at https://mta-sts.<domain>/.well-known/mta-sts.txt
// (ParsePolicy, Fetch):
//
//	version: STSv1
//	mode: enforce
//	mx: mail.example.com
//	mx: *.example.net
//	max_age: 604800
//
// A Client puts the pieces together with the caching rules of RFC 8461
// §3.3 and §5.1: Client.Get returns the policy in effect for a recipient
// domain, Result.TLSPolicy turns it into the starttls.Policy for one MX
// host, and Result.Evaluate tells what a testing-mode policy would have
// decided, for TLS-RPT reports (package starttls/tlsrpt).
//
//	c := &mtasts.Client{Cache: &mtasts.MemoryCache{}}
//	res, err := c.Get(ctx, "example.com")
//	...
//	for _, mx := range mxHosts {
//		p, err := res.TLSPolicy(mx, starttls.Policy{Level: starttls.May})
//		if err != nil {
//			continue // RFC 8461 §8.4: skip MX hosts the policy does not allow
//		}
//		// connect to mx and upgrade with p
//	}
//
// Modes: enforce refuses delivery to MX hosts that do not match the policy
// or fail STARTTLS or PKIX validation for their name; testing delivers
// anyway and reports; none means no policy. Failures under enforce are
// always temporary (RFC 8461 §5.1): a message is never bounced before the
// policy has been looked up again.
//
// The policy domain is the recipient domain, or the smart host's domain
// when mail is relayed through one (RFC 8461 §3.4). A policy is never
// looked up at a parent domain, and the TXT record's CNAME target does not
// change the policy domain.
//
// # Caching
//
// The Cache interface (Get and Put by domain) keeps one Entry per policy
// domain. MemoryCache is the in-memory default for one process; a cluster
// of MTAs should back Cache with its shared store so that all nodes profit
// from a policy any node has seen. The rules (RFC 8461 §3.3, §5.1):
//
//   - the TXT record is looked up on each Get; the cached policy is used
//     while its id is unchanged and max_age has not passed;
//   - a new id means a fetch; if the fetch fails, or the TXT lookup fails,
//     or the record has gone, a cached policy that has not expired still
//     applies;
//   - after a failed fetch the domain is not fetched again for the same id
//     for Client.Backoff (5 minutes by default);
//   - Client.Refresh refetches proactively, so that policies in use do not
//     expire; run it daily over MemoryCache.Domains or your store's list.
//
// # Security considerations
//
// MTA-STS is trust on first use (RFC 8461 §10): an attacker who blocks the
// first discovery, or who can keep a sender from ever refreshing, wins.
// Long max_age values, a shared cache and proactive refresh narrow that
// window; a nil Client.Cache removes the protection altogether.
//
// Fetch trusts only a response received over TLS whose certificate chain
// the HTTP client verified and which is valid for mta-sts.<domain>; it
// never follows redirects, whatever the injected http.Client says. Where
// DANE applies to an MX host, its verdict wins: MTA-STS must never
// override a failing DANE validation (RFC 8461 §2), so choose the DANE
// policy first (package starttls/dane).
//
// # Limits
//
// Policy files are read up to 64 KiB (MaxPolicySize) and fetches take at
// most one minute (FetchTimeout). max_age is capped at 31557600 seconds by
// the grammar; larger values make the policy invalid. MemoryCache holds at
// most MaxEntries domains (DefaultMaxEntries when 0).
package mtasts
