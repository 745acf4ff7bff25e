package requiretls

import "fmt"

// Tag is what RFC 8689 §4.1 asks a receiver to remember about a message:
// whether it must travel over authenticated TLS (REQUIRETLS), may ignore the
// recipient's TLS policy (TLS-Required: No), or neither. Its values are the
// protocol tokens, so a queue can store them as text.
//
// # Carrying the tag
//
// The tag belongs to the message and survives every local step (RFC 8689
// §4.1: "the tagging MUST persist" through aliasing and expansion):
//
//   - Store it with the queued message, next to the envelope, as
//     [Tag.MarshalText] writes it.
//   - When an alias or a list expands one recipient into several, copy the
//     tag to every new recipient; when a forwarder re-sends the message under
//     a new envelope (an SRS reverse path, a new recipient), the new
//     transaction carries the same tag. Re-originators such as mailing lists
//     should keep REQUIRETLS too (RFC 8689 §6).
//   - On every outgoing hop, pass the tag to [CheckHop] or [CheckSession];
//     they alone decide whether REQUIRETLS goes on MAIL FROM.
//   - A message tagged [TagTLSRequiredNo] keeps its TLS-Required field in the
//     header, so the next hop tags it again; a message tagged TagRequireTLS
//     carries the tag in the MAIL FROM parameter, and its TLS-Required field,
//     if any, may be relayed but is ignored (§4.1).
type Tag string

// The tags.
const (
	// TagNone: neither the parameter nor the header; the sender's own
	// TLS policy (MTA-STS, DANE, local levels) applies unchanged.
	TagNone Tag = ""
	// TagRequireTLS: MAIL FROM carried REQUIRETLS (RFC 8689 §4.1). Every
	// hop must meet RFC 8689 §4.2.1, or the message bounces.
	TagRequireTLS Tag = "REQUIRETLS"
	// TagTLSRequiredNo: no REQUIRETLS parameter and the header said
	// "TLS-Required: No" (RFC 8689 §4.1, §3). Recipient-side TLS policy is
	// ignored (§4.2.2); see [Relax].
	TagTLSRequiredNo Tag = "TLS-Required: No"
)

// TagInput is what a receiver has seen of a message when it tags it.
type TagInput struct {
	// RequireTLS reports whether MAIL FROM carried an accepted REQUIRETLS
	// parameter ([MailFrom.RequireTLS]).
	RequireTLS bool
	// Header is the message's TLS-Required fields, parsed by [ParseHeader]
	// or [ParseHeaderValues].
	Header Header
}

// MessageTag returns the tag of a received message (RFC 8689 §4.1): the
// REQUIRETLS parameter wins, and only when it is absent does a header that
// says "TLS-Required: No" count ("If the REQUIRETLS MAIL FROM parameter is
// specified, the TLS-Required header field MUST be ignored").
func MessageTag(in TagInput) Tag {
	switch {
	case in.RequireTLS:
		return TagRequireTLS
	case in.Header.No:
		return TagTLSRequiredNo
	}
	return TagNone
}

// String returns the tag's token, "none" for TagNone.
func (t Tag) String() string {
	if t == TagNone {
		return "none"
	}
	return string(t)
}

// Valid reports whether t is one of the three tags.
func (t Tag) Valid() bool {
	return t == TagNone || t == TagRequireTLS || t == TagTLSRequiredNo
}

// MarshalText writes the tag for storage: "", "REQUIRETLS" or
// "TLS-Required: No". An invalid tag is an error, so a corrupt value is never
// stored.
func (t Tag) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("requiretls: invalid tag %q", string(t))
	}
	return []byte(t), nil
}

// UnmarshalText reads a tag written by MarshalText. Anything else is an
// error: a queue must not silently drop a REQUIRETLS tag it cannot read.
func (t *Tag) UnmarshalText(b []byte) error {
	v := Tag(b)
	if !v.Valid() {
		return fmt.Errorf("requiretls: invalid tag %q", string(b))
	}
	*t = v
	return nil
}
