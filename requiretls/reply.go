package requiretls

import "github.com/smtpsec/smtpsec"

// Replies are built fresh by these functions on every call; none is a shared
// value that a caller could modify.

// ReplyEncryptionNeeded returns "550 5.7.10 Encryption needed: ..." for a
// REQUIRETLS message that found no hop meeting RFC 8689 §4.2.1 (no TLS, an
// unverified certificate, or an unauthenticated MX name). X.7.10 is "Encryption
// Needed" (RFC 3463, RFC 5248 registry), the code RFC 8689 §4.2.1 suggests
// "when no TLS-protected session could be set up". The basic code is 550, a
// permanent failure, as Postfix 3.12 uses: the sender asked for a guarantee
// that this destination cannot give. detail, when not empty, is appended.
func ReplyEncryptionNeeded(detail string) smtpsec.Reply {
	text := "Encryption needed: REQUIRETLS message and no authenticated TLS session to the destination"
	if detail != "" {
		text += " (" + detail + ")"
	}
	return smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 10}, Text: text}
}

// ReplySupportRequired returns "550 5.7.30 REQUIRETLS support required", for
// a REQUIRETLS message whose hops met every requirement but the post-TLS EHLO
// keyword (RFC 8689 §4.2.1 and §7, X.7.30 with its IANA sample text).
func ReplySupportRequired() smtpsec.Reply {
	return smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 30}, Text: "REQUIRETLS support required"}
}

// ReplyParamNotOffered returns the receiver's reply to a REQUIRETLS MAIL FROM
// parameter it does not accept: on a session without TLS, where the
// extension is not offered, or with a value, which the extension does not
// define (RFC 8689 §2). param is the parameter as sent ("REQUIRETLS",
// "REQUIRETLS=YES").
//
// The choice: RFC 8689 assigns no code, so this follows RFC 5321 §4.1.1.11 for
// a parameter that is not recognized or not implemented, 555, with X.5.4
// (RFC 3463, invalid command arguments): "555 5.5.4 Unsupported option:
// REQUIRETLS", the reply of Postfix 3.12. mox answers 523 5.7.10 instead, and
// go-smtp v0.25.1 accepts the parameter on plaintext. A parameter that is not
// offered is the protocol-level truth on a plaintext session, and a client
// that treats 555 as permanent does the right thing: it must not send the
// message over that session.
func ReplyParamNotOffered(param string) smtpsec.Reply {
	return smtpsec.Reply{Code: 555, Enhanced: smtpsec.EnhancedCode{Subject: 5, Detail: 4}, Text: "Unsupported option: " + param}
}
