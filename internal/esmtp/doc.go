// Package esmtp parses and writes the ESMTP parameters of the MAIL FROM and
// RCPT TO commands (RFC 5321 §4.1.2), shared by the protocol packages:
//
//	Mail-parameters = esmtp-param *(SP esmtp-param)
//	esmtp-param     = esmtp-keyword ["=" esmtp-value]
//	esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//	esmtp-value     = 1*(%d33-60 / %d62-126)
//
// Keywords are case-insensitive (RFC 5321 §2.4) and are returned upper-case;
// values are kept as sent, because their case can matter (ENVID, ORCPT). A
// keyword may appear only once per command (RFC 5321 §4.1.2 leaves this to the
// extensions; every registered extension defines its parameter once, and a
// repeated parameter is a classic smuggling vector, so it is rejected).
//
// Values that are xtext (RFC 3461 §4: ENVID, ORCPT, AUTH) are decoded and
// encoded with [DecodeXText] and [EncodeXText].
//
// # Limits
//
// A command line is at most 512 octets with its CRLF (RFC 5321 §4.5.3.1.4).
// Service extensions raise the limit of MAIL FROM by the size of their
// parameter; [MailLineLimit] adds the raise of each extension the server
// offers (11 octets for REQUIRETLS, RFC 8689 §2). Parsing is linear in the
// line length, allocates at most one Param per parameter, and refuses more
// than [MaxParams] parameters.
//
// # Security considerations
//
// Parameters are parsed strictly: control characters, "=" and spaces cannot
// hide inside a value, an empty value ("KEY=") is an error, and duplicates
// are refused, so two parsers of the same line cannot disagree about which
// parameters it carries. [FormatParams] and [FormatCommand] write only what
// parses back to itself.
package esmtp
