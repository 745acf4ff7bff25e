// Package forward implements the Sender Rewriting Scheme (SRS) for mail
// forwarders, byte-compatible with libsrs2 and postsrsd 1.x, with secret
// rotation and an optional forgery-proof MAC mode.
//
// # Why SRS exists
//
// A user at forwarder.example forwards all mail to a mailbox at another
// provider. A message from alice@sender.example reaches forwarder.example,
// which sends it on from its own IP address, keeping the envelope sender
// (MAIL FROM) alice@sender.example. The provider checks SPF ([RFC 7208]) for
// sender.example against the forwarder's IP address, which sender.example
// never authorised: the check fails, and the message may be rejected.
//
// SRS has the forwarder rewrite the envelope sender into an address of its
// own domain that encodes the original:
//
//	alice@sender.example  ->  SRS0=HHHH=TT=sender.example=alice@forwarder.example
//
// The SPF check at the provider now concerns forwarder.example, which does
// authorise its own IP address. [SRS.Forward] does this rewriting.
//
// # How bounces come back
//
// If the provider cannot deliver, it sends the bounce to the envelope
// sender, the SRS address. The forwarder receives it, calls [SRS.Reverse] on
// the recipient, and relays the bounce to alice@sender.example. HHHH is a
// truncated HMAC-SHA1 of the other fields under the forwarder's secret, and
// TT the day it was minted, so the forwarder relays only to addresses it
// minted itself, recently: without them, anyone could use the forwarder as
// an open relay by sending to SRS0=...=victim.example=bob@forwarder.example.
//
// When a message passes through a second forwarder, that one sees
// SRS0=...@forwarder.example as sender and rewrites it to SRS1 (the
// "guarded" scheme of libsrs2 and Mail::SRS):
//
//	SRS1=GGGG=forwarder.example==HHHH=TT=sender.example=alice@second.example
//
// It keeps the first forwarder's domain and the rest of its address, so a
// bounce to this SRS1 address is reversed by the second forwarder straight
// to SRS0=HHHH=TT=sender.example=alice@forwarder.example, which the first
// forwarder reverses in turn. Further forwarders only replace GGGG and the
// domain.
//
// # Compatibility with postsrsd
//
// With the same secret, domain, separator and hash length, and on the same
// UTC day, Forward produces the same address as postsrsd 1.x for ordinary
// senders, Reverse accepts what postsrsd mints, and postsrsd accepts what
// Forward mints (the interop tests check this against a running postsrsd
// 1.10). The hash is HMAC-SHA1, keyed with the secret, over the
// concatenation of the fields lower-cased in ASCII (SRS0: timestamp, host,
// user; SRS1: first hop's host, opaque part), encoded in base64 and
// truncated to HashLength characters. The timestamp is the UTC day number
// modulo 1024 in two base32 characters (A-Z, 2-7).
//
// Like postsrsd, Reverse compares hashes case-insensitively (some MTAs
// change the case of local parts), accepts hashes longer than HashLength by
// comparing their first HashLength characters, tries every secret, checks
// the timestamp before the hash, and ignores the domain of the address it
// is given. Unlike postsrsd 1.x, it compares in constant time, tries every
// secret even after a match, and also accepts the base64url alphabet of
// postsrsd 2.x ('-' for '+', '_' for '/').
//
// Deliberate differences from postsrsd 1.10, each covered by a test:
//
//   - Senders are split at their last '@', postsrsd splits at the first.
//     This matters only for a local part containing '@' (quoted on the
//     wire, "a@b"@example.com, or unquoted in Postfix's internal form,
//     a@b@example.com): we embed the real domain example.com and the local
//     part "a@b" (or a@b), postsrsd the host b"@example.com and the user
//     "a. Reverse splits at the last '@' too, so it reverses both forms;
//     postsrsd reverses neither, not even its own ("No user in SRS0
//     address."), so bounces to such senders are lost with postsrsd. A
//     quoted local part stays as given inside the SRS local part; an MTA
//     that puts such an address on the wire must quote the whole local part
//     again (Postfix does this for its internal form).
//   - A foreign SRS1 sender whose opaque part is not empty and does not
//     start with a separator, or that lacks a field, is wrapped into SRS0 as
//     a plain sender. postsrsd rewraps the first kind into an SRS1 that reverses to
//     garbage (postsrsd issue #100: "SRS03g=...") and refuses the second.
//   - A sender whose domain contains '=' (not a valid domain) is refused
//     with [ErrBadSender]: Reverse cuts the host at the first '=', so the
//     SRS0 address could not reverse to it. postsrsd rewrites it into an
//     address that it then refuses to reverse ("Hash invalid").
//   - A sender in the SRS domain written with a trailing dot or as a U-label
//     counts as in the SRS domain (returned unchanged unless AlwaysRewrite);
//     postsrsd compares the bytes case-insensitively and rewrites it. The
//     same applies to ExcludeDomains.
//   - A timestamp from tomorrow is accepted (see Timestamps below).
//   - Errors are typed: where postsrsd answers "500 Time stamp out of date."
//     for a timestamp that is not two characters, Reverse reports
//     ErrBadTimestamp. Which check fails first is otherwise the same.
//   - The SRS domain is normalised (lower case, A-labels, no trailing dot);
//     postsrsd uses the -d argument as given.
//
// Forward follows postsrsd, quirks included, everywhere else: UTF-8 in
// local parts and domains is hashed and embedded as the bytes given (only
// ASCII letters are lower-cased for the hash), so user@münchen.example and
// user@xn--mnchen-3ya.example give different SRS addresses, each reversing
// to itself; address literals such as user@[192.0.2.1] are embedded as they
// are, brackets included, which makes the SRS local part need quoting on
// the wire; a trailing dot stays part of the embedded host; a local part
// "SRS0" alone is taken as an SRS0 tag and wrapped into SRS1 (it reverses to
// itself); and a sender that is an SRS address of ours that verifies is
// refused as [ErrAlreadyRewritten], whatever its domain. A sender in the SRS
// domain is returned unchanged with a nil error.
//
// # Timestamps
//
// An SRS0 address minted on UTC day D is valid through day D+MaxAge (21 by
// default) and expired on day D+MaxAge+1, as in postsrsd. SRS1 addresses
// carry no timestamp of their own: they live as long as the SRS0 inside
// them, which its own forwarder checks.
//
// The timestamp holds the day modulo 1024, so an address comes back to life
// 1024 days (about 2.8 years) after it was minted: nothing in the address
// distinguishes the two days. Every libsrs2-compatible implementation shares
// this; the remedy is rotating secrets well within that time, so that the
// old secret no longer verifies.
//
// postsrsd counts a timestamp from tomorrow as 1023 days old, hence expired.
// Reverse accepts it: when several hosts serve one SRS domain, a host whose
// clock has just passed midnight UTC mints stamps that the others see as
// from tomorrow. Stamps further in the future are rejected as ErrExpired.
//
// # Security considerations
//
// The field-boundary weakness of libsrs2. In compat mode (the default) the
// HMAC input is the bare concatenation of the fields, and the fields are
// found again by splitting at '='. Any other split of the same bytes
// carries the same hash: SRS0=HHHH=TT=target.co=mvictim@forwarder.example
// and SRS0=HHHH=TT=target.com=victim@forwarder.example verify alike. An
// attacker who gets one message with the spoofed sender mvictim@target.co
// forwarded learns a valid bounce address that the forwarder relays to
// victim@target.com: a limited relay for backscatter, one target per
// spoofed sender, for MaxAge days.
//
// [Config.StrictMAC] removes it: the HMAC input becomes the tag followed by
// each field prefixed with its length, so no two field lists share an input
// (and an SRS0 hash cannot serve as an SRS1 hash). The trade-off is
// compatibility: SRS addresses minted by postsrsd or by compat mode no
// longer verify, and postsrsd cannot verify ours. Enable it for a new
// deployment, or when migrating away from postsrsd once MaxAge has passed
// since the switch; keep compat mode while postsrsd and this package share a
// secret, or bounces to in-flight addresses are lost.
//
// Hash length. Four base64 characters are 24 bits, and case-insensitive
// comparison leaves about 21 (38 distinct values per character). An
// attacker who can send many guesses to the forwarder has a fair chance of
// forging an address for one chosen target within 2^21 attempts. Use
// HashLength 6 or more for new deployments, with HashMinLength 4 while
// addresses minted with 4 age out.
//
// Reverse only where intended. Reverse does not look at the domain of the
// address: call it only for recipients in the SRS domain. Forward refuses
// SRS addresses it minted itself ([ErrAlreadyRewritten]) rather than
// wrapping them again.
//
// Secrets are compared in constant time with crypto/subtle after
// branch-free case folding, and every secret is tried, so timing tells
// neither how much of a hash was right nor which secret matched. An SRS is
// immutable after NewSRS; where the HMAC needs a crypto/sha1 state (not
// safe for concurrent use), each call takes its own from a sync.Pool.
//
// The HMAC is RFC 2104's HMAC-SHA1. NewSRS hashes each secret's ipad and
// opad blocks once (FIPS 198-1 §6); each HMAC then starts from those
// chaining values, so it costs two SHA-1 blocks while the MAC input is
// at most 55 octets. On amd64 CPUs with the SHA extensions the blocks
// are hashed by this package's own assembly (sha1block_amd64.s, about
// 0.6 of crypto/hmac's Reset, Write and Sum, with nothing on the heap);
// elsewhere crypto/sha1 does it, restored through its marshaled form
// (0.6 to 0.8 of crypto/hmac). NewSRS checks the chosen path against
// crypto/hmac for every secret before using it and otherwise falls back,
// to crypto/sha1 and finally to crypto/hmac: slower, never wrong. The
// purego build tag turns the assembly off. NewSRS fails when SHA-1 is not
// available at all (Go's FIPS 140-only mode).
//
// # Limits
//
// Forward fails with [ErrTooLong] when the SRS address would be longer than
// [MaxAddressLength] (1023) octets, as postsrsd does ("Buffer too small."),
// and Reverse and Parse refuse longer inputs. It does not enforce the
// 64-octet local-part limit of RFC 5321 §4.5.3.1.1 unless
// [Config.LimitLocalPart] is set, because postsrsd does not: with the
// defaults, an SRS0 local part exceeds 64 octets once the original sender
// (user@host) is longer than 51 octets, and some receivers then refuse
// the message ("553 5.1.7 local part too long"). There is no database mode
// for such senders (postsrsd 2.x has one).
//
// With Config.Now nil, an SRS keeps the current UTC day in a cache that a
// timer refreshes at each midnight and at least once a minute; the timer
// stops when the SRS is garbage collected. The hot paths therefore read no
// clock.
//
// The package rewrites addresses; deciding when to rewrite (only for mail
// leaving for a remote destination, not for local delivery) is the MTA's
// job.
//
// [RFC 7208]: https://www.rfc-editor.org/rfc/rfc7208
package forward
