// Package starttls implements SMTP over TLS with STARTTLS, RFC 3207, and
// with implicit TLS, RFC 8314, on both sides: a client that verifies the
// server under a security level modelled on Postfix's, and the server-side
// pieces an SMTP command loop needs to offer, require and carry out TLS
// safely. Both ways share one vocabulary (Level, Policy, Session, Error).
//
// # Client
//
// A Client upgrades a fresh connection in one call, so that no caller can
// send mail between the handshake and the verification:
//
//	c := &starttls.Client{Hostname: "out.example.org"}
//	s, err := c.Upgrade(ctx, conn, "mx.example.net", &starttls.Policy{})
//	// s.Extensions() are the post-TLS EHLO keywords only;
//	// s.Command(ctx, "MAIL FROM:<a@example.org>") goes on inside TLS.
//
// The Policy's Level decides what is acceptable. The zero Level is Verify:
// STARTTLS is mandatory and the certificate must chain to a trusted root and
// match the server name. Weaker levels (May, Encrypt) and other ways to
// authenticate (Fingerprint; DANE and MTASTS through the starttls/dane and
// starttls/mtasts packages) are named explicitly. Failures are *Error values
// whose kind is matched with errors.Is and whose Result is the RFC 8460
// result type for TLS reports. Under every mandatory level they are
// temporary: a message is never bounced because STARTTLS failed.
//
// Policy.TLSConfig gives the same verification to any other client (net/smtp,
// github.com/emersion/go-smtp): it does everything in
// tls.Config.VerifyConnection, which crypto/tls runs on resumed handshakes
// too.
//
// # STARTTLS or implicit TLS
//
// Implicit TLS (Client.ImplicitTLS, Client.DialImplicitTLS, AcceptTLS)
// starts TLS with the first byte of the connection, before the greeting,
// and reads the greeting and sends EHLO inside it. Nothing is ever said in
// plaintext, so no one in the middle can strip TLS or inject replies or
// commands. RFC 8314 §3.3 recommends it for message submission, the
// "submissions" service on port 465: a mail client talking to its own
// provider, whose name it knows and can verify under level Verify.
//
// Between MTAs (port 25) there is no implicit-TLS port: RFC 3207 STARTTLS
// is the only way, and it is downgradable by design. Use Upgrade there,
// made strict by what the destination publishes: an MTA-STS policy
// (level MTASTS, starttls/mtasts) or DANE TLSA records (level DANE,
// starttls/dane). Use Upgrade also on submission port 587, where RFC 8314
// §3.3 still expects STARTTLS to be offered, with a mandatory level.
//
// Under implicit TLS the levels apply unchanged, with one exception:
// None and May are refused with ErrPolicy, because both describe when to
// stay in plaintext, which an implicit-TLS connection never does. Encrypt
// is the level for unauthenticated TLS, which RFC 8314 §5.3 does not count
// as confidential for a mail client. A server that answers the
// ClientHello with a plaintext greeting fails with ErrNotOffered.
//
// On the server side, AcceptTLS runs the handshake before anything is
// written, with the same Server (TLSConfig, HandshakeTimeout,
// VerifyClient). A plaintext client gets a closed connection and no reply;
// STARTTLS is neither advertised nor accepted inside implicit TLS (503
// 5.5.1, RFC 3207 §4.2).
//
// # Server
//
// A ServerConn wraps an accepted connection for a command loop. Its StartTLS
// carries out the command (501, 503, 454 or 220 and the handshake), and
// resets the loop's per-session State on success; Keywords and Gate apply
// the rules for advertising STARTTLS and for Server.Required. After STARTTLS
// the server must forget (RFC 3207 §4.2), and ServerConn forgets for it,
// everything held in State:
//
//   - the EHLO or HELO name, and whether the client used EHLO;
//   - the MAIL FROM reverse path and its parameters (SIZE, BODY,
//     REQUIRETLS, SMTPUTF8, ...);
//   - the accepted RCPT TO recipients and their parameters;
//   - any AUTH identity (RFC 4954 §4: AUTH before TLS is forgotten too).
//
// # Security considerations
//
// STARTTLS starts in plaintext, so every attack on it is an attack by a man
// in the middle (or a malicious peer) on the plaintext part, or on the
// switch. The classes, and how this package defends against each:
//
// STRIPTLS (RFC 3207 §6). The attacker deletes STARTTLS from the EHLO reply,
// or answers STARTTLS with 454 or 502, so that the client goes on in
// plaintext. Defence: mandatory levels fail with ErrNotOffered or
// ErrRefused and never fall back. Only May continues in plaintext, and it
// says so in Session.PlaintextReason. This is why an opportunistic client
// needs MTA-STS or DANE to learn, out of band, that a destination supports
// TLS.
//
// Response injection (CVE-2011-1575 and many since). The attacker appends
// plaintext after the server's 220 to STARTTLS, in the same TCP segment or
// a later one. A client that read it from its buffer after the handshake
// would take it for a reply sent inside TLS. Defence: bytes buffered after
// the 220 fail the upgrade with ErrPlaintextInjection; bytes arriving later
// are read by the TLS layer, whose handshake fails on them. Nothing is ever
// parsed as a reply.
//
// Command injection (CVE-2011-0411). The attacker appends commands after
// the client's STARTTLS; a server that read them from its buffer after the
// handshake would run them as if the client had sent them inside TLS.
// Defence: ServerConn.StartTLS refuses the upgrade when anything follows
// STARTTLS in its buffer, discarding those bytes unparsed; later bytes go
// into the handshake, which fails and closes the connection.
//
// Capability injection. The attacker edits the plaintext EHLO reply, adding
// SIZE 1, REQUIRETLS or SMTPUTF8, or removing AUTH mechanisms, to steer what
// the client does inside TLS (mox kept pre-TLS flags). Defence: the
// pre-TLS extension list is not reachable from a Session; only the EHLO
// reply received inside TLS counts (RFC 3207 §4.2). On the server, State is
// reset.
//
// Downgrade of the handshake. The attacker offers only TLS 1.0 or 1.1, or
// an untrusted, self-signed, expired or wrong-name certificate. Defence:
// TLS 1.2 is the minimum at every level (RFC 8996), and the certificate is
// checked inside the handshake by the Policy; a failed handshake closes the
// connection on both sides (a server that answers in plaintext after a
// failed handshake, as go-smtp does, lets the client think it is still
// talking to the server).
//
// Plaintext on an implicit-TLS port. A client or server that speaks SMTP
// where TLS is expected is never answered in SMTP: its bytes fail the
// handshake and the connection is closed, so a plaintext conversation
// (and the credentials a mail client would send in it) cannot start.
//
// Resource exhaustion. A slow or hostile peer stalls the greeting, drips a
// reply a byte per second, stalls the handshake, or sends a 64 MiB line or a
// 10,000-line reply (net/smtp allocated 566 MiB for a 64 MiB greeting).
// Defence: every step has a finite timeout, even with a zero config; reply
// lines, lines per reply and reply size are bounded; a too-long line ends the
// session rather than growing a buffer.
//
// Misplaced trust. Verifying against the wrong name (the one the attacker's
// DNS returned) authenticates the attacker. Level Verify checks the names in
// Policy.Names, or the server name the caller passes; for MX hosts those
// come from MTA-STS (RFC 8461) or DANE (RFC 7672), not from an unsigned MX
// lookup.
//
// # Stability
//
// The level names (Level.String), the RFC 8460 result types and the reply
// texts of ReplyMustIssueSTARTTLS are stable. Error strings are not: match
// errors with errors.Is and errors.As.
//
// # Limits
//
// Reply lines are limited to 2048 octets by default (at most 4096), replies
// to 100 lines and 64 KiB. RFC 5321's timeouts (5 minutes for the greeting
// and each command) are the defaults; the handshake has 1 minute. The
// server reads command lines of up to 2048 octets by default.
//
// The Client does not do SMTP AUTH, SMTP pipelining of its own, delivery or
// MX selection: it establishes a protected session and hands it over. It
// does not look up the "_submissions._tcp" SRV record (RFC 8314 §5.1,
// RFC 6186): the caller passes the address. DialImplicitTLS connects over TCP only ("tcp", IPv4
// or IPv6), within 30 seconds by default.
package starttls
