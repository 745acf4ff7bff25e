// Package smtpwire reads and writes SMTP lines with hard bounds: replies
// (RFC 5321 §4.2), command lines (RFC 5321 §4.1), message data (RFC 5321
// §4.5.2) and the EHLO extension list (RFC 5321 §4.1.1.1). It is the layer
// under the starttls client and server and the internal SMTP receiver.
//
// Every read is bounded: a line longer than the reader's buffer, a reply with
// too many lines or too many bytes, and message data over its size limit are
// errors, never a larger allocation. Timeouts are the caller's: set deadlines
// on the connection before reading.
//
// # Security considerations
//
// After an error that leaves the stream in an unknown position (a line too
// long, a malformed reply), the connection must be closed: the next bytes
// could be the tail of the bad line, and an attacker could have crafted them
// to parse as a command or reply.
//
// Replies must end in CRLF, and a bare CR or LF inside a line is an error:
// a reader that accepted other line ends would parse differently from the
// peer's other readers (the class of SMTP smuggling). Command lines may end in
// a bare LF, as Postfix accepts, but may not contain a CR elsewhere; message
// data ends only at CRLF "." CRLF, and a bare CR or LF in data is an error
// (ErrBareLineEnding), so that "\n.\n" can never end a message here while a
// downstream server sees it as text, or the reverse.
//
// # Limits
//
// MaxLineLimit (4096 octets, eight times RFC 5321 §4.5.3.1.5's 512) caps
// every line limit. Limits of 0 select the defaults documented on [Limits].
package smtpwire
