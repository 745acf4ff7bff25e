// Package requiretls implements the SMTP Require TLS option, RFC 8689, on
// both sides of the wire: the REQUIRETLS EHLO keyword and MAIL FROM
// parameter, the TLS-Required header field, the per-hop rules a sender must
// enforce, and the redacted non-delivery report.
//
// # The protocol in brief
//
// A sender that puts REQUIRETLS on MAIL FROM asks that the message travel
// only over TLS sessions whose server was authenticated, hop after hop:
//
//	S: 220 mx.example.test ESMTP
//	C: EHLO client.example.test
//	S: 250-mx.example.test
//	S: 250 STARTTLS                         (no REQUIRETLS before TLS)
//	C: STARTTLS
//	S: 220 2.0.0 Ready
//	   ... TLS handshake; certificate verified by DANE or MTA-STS ...
//	C: EHLO client.example.test
//	S: 250-mx.example.test
//	S: 250 REQUIRETLS
//	C: MAIL FROM:<alice@example.test> REQUIRETLS
//	S: 250 2.1.0 Ok
//
// A sender that puts "TLS-Required: No" in the header asks the opposite: that
// the recipient's TLS policy (MTA-STS, DANE) be ignored, for example to
// report a broken certificate (RFC 8689 §3, §4.2.2).
//
// # Receiving
//
// [ServerSession] holds what a receiver knows (is TLS active?).
// [ServerSession.Advertise] says whether to list REQUIRETLS in EHLO (only
// with TLS), [ServerSession.ParseMailFrom] parses MAIL FROM with the line
// limit raised by 11 octets and refuses REQUIRETLS on plaintext or with a
// value (555 5.5.4), and [MessageTag] tags the received message from the
// parameter and the header ([ParseHeader]); [Tag] documents how the tag
// survives aliasing and forwarding.
//
// # Sending
//
// [LookupMX] finds the next hops through a resolver that reports the DNSSEC
// AD bit and says whether the MX names are authenticated. Every outgoing
// message goes through one gate on every hop: [CheckSession]
// (from a starttls session) or [CheckHop] (from the facts of a hop). Only the
// [Decision] it returns can write REQUIRETLS on MAIL FROM
// ([Decision.MailFrom]; [Mail] decides and sends on a starttls.Session in
// one step), and only when TLS is active, the certificate was
// verified by DANE or by PKIX under an MTA-STS enforce policy, the MX name
// was authenticated and the post-TLS EHLO lists REQUIRETLS. When no MX host
// qualifies, [Exhausted] gives the reply (5.7.30 or 5.7.10) and [BuildNDR]
// the redacted report, sent from the null sender without REQUIRETLS.
// [Relax] turns the TLS policy of a "TLS-Required: No" message into
// opportunistic TLS.
//
// RFC 8689 §4.2.1 states the sender's requirements for a message "for which
// the MAIL FROM return-path is not empty". The gate applies them to every
// tagged message, a tagged one from the null sender too: the RFC does not
// exempt it from them, it only does not require them, and its content is
// what the tag protects. The reports this package builds are never tagged.
//
// # Security considerations
//
// The REQUIRETLS keyword seen before STARTTLS proves nothing: a man in the
// middle can add it, or strip STARTTLS. The gate looks only at the
// capabilities of the TLS session and at how the certificate was
// authenticated, so a plaintext or unauthenticated session never carries the
// parameter, and a REQUIRETLS message refuses to go rather than fall back.
// [Mail] derives the facts from the session itself, so a caller cannot
// misstate them; [CheckHop] trusts the facts it is given and is for SMTP
// clients other than starttls.Session. A caller that writes its own MAIL
// FROM line with Session.Command bypasses the gate: do not.
//
// "TLS-Required: No" is a downgrade the sender chooses for its own message;
// anyone who can write the message can write it. A field with any other
// value, or one of several fields that does not say No, leaves the message
// under the normal policy.
//
// A REQUIRETLS message whose delivery fails returns only its header section
// in the report (RFC 8689 §5), because the report may travel without TLS.
//
// # Limits
//
// MAIL FROM lines are limited to 512 octets plus 11 for REQUIRETLS (RFC 8689
// §2) and the raise of other offered extensions; [ParseHeader] reads at most
// [MaxHeaderSection] octets and reports at most [MaxIgnored] ignored values;
// [BuildNDR] returns at most [MaxReturnedHeader] octets of the original
// header. Reply texts are not stable API; codes and the header format are.
package requiretls
