package requiretls

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/esmtp"
)

// MaxReturnedHeader bounds the original header section an NDR returns, in
// octets; a longer section is cut at a line boundary.
const MaxReturnedHeader = 64 << 10

// ErrNDRInput is wrapped by every error of BuildNDR: the input cannot make a
// well-formed report.
var ErrNDRInput = errors.New("requiretls: invalid NDR input")

// FailedRecipient is one recipient a non-delivery report covers.
type FailedRecipient struct {
	// Recipient is the address the message could not be delivered to
	// (Final-Recipient, RFC 3464 §2.3.2). Required.
	Recipient string
	// OriginalRecipient is the ORCPT of RFC 3461 §4.2 as received,
	// "addr-type;xtext", reported decoded as Original-Recipient. Optional.
	OriginalRecipient string
	// Reply is why delivery failed, usually from [Exhausted]: its code
	// must be 5xx (Action: failed); its enhanced code gives the Status
	// ("5.7.30", "5.7.10"; "5.0.0" when it has none), and the whole reply
	// the Diagnostic-Code.
	Reply smtpsec.Reply
	// RemoteMTA is the host that gave Reply, when one did (Remote-MTA).
	// Optional.
	RemoteMTA string
}

// NDRInput is what BuildNDR needs. There is deliberately no field for the
// DSN RET parameter: RFC 8689 §5 has RET=FULL disregarded for REQUIRETLS
// messages, so only the header section is ever returned.
type NDRInput struct {
	// ReportingMTA is the host name of the MTA writing the report
	// (Reporting-MTA, RFC 3464 §2.2.2; the From address is
	// MAILER-DAEMON@ReportingMTA). Required.
	ReportingMTA string
	// Sender is the reverse path of the failed message: the report goes
	// to it. Required: a message with the null reverse path is never
	// bounced (RFC 5321 §6.1, RFC 3464).
	Sender string
	// Original is the failed message, or only its header section. Only
	// the header section is returned (RFC 8689 §5), at most
	// MaxReturnedHeader octets.
	Original []byte
	// Recipients are the recipients the report covers. At least one.
	Recipients []FailedRecipient
	// EnvelopeID is the ENVID of RFC 3461 §4.4, decoded; optional.
	EnvelopeID string
	// ArrivalDate is when the message arrived; the zero time omits it.
	ArrivalDate time.Time
	// Date is the report's date. The zero time means time.Now().
	Date time.Time
}

// NDR is a non-delivery report ready to send. It goes from the null reverse
// path and without REQUIRETLS: RFC 8689 §5 redacts the report to the
// original header section precisely so that it can travel over a return path
// that does not support REQUIRETLS.
type NDR struct {
	// ReversePath is always "": MAIL FROM:<>.
	ReversePath string
	// Recipient is the original sender.
	Recipient string
	// Tag is always TagNone: pass it to the gate like any message, and no
	// REQUIRETLS is added.
	Tag Tag
	// Message is the report, an RFC 3464 multipart/report with CRLF line
	// endings.
	Message []byte
	// SMTPUTF8 reports whether the report holds UTF-8 header text (an
	// internationalized original, RFC 6532): its parts are then
	// message/global-delivery-status and message/global-headers (RFC 6533),
	// and it must be sent with the SMTPUTF8 parameter (RFC 6531) to a
	// server that offers it.
	SMTPUTF8 bool
}

// BuildNDR builds the non-delivery report for a message tagged REQUIRETLS
// (RFC 8689 §5): a multipart/report; report-type=delivery-status (RFC 3464)
// whose three parts are a short text, the message/delivery-status fields
// (Action: failed, Status from the reply, e.g. 5.7.30 or 5.7.10) and the
// original message's header section alone, as text/rfc822-headers (RFC 6522
// §4): the body is never returned, whatever RET the sender asked for. A
// report holding UTF-8 header text uses the RFC 6533 types instead and says
// so in NDR.SMTPUTF8.
//
// The output is deterministic for a given input; the MIME boundary and
// Message-ID derive from a hash of it. Errors wrap ErrNDRInput: a missing
// field, a null sender, a reply that is not 5xx, or a control character or
// space in an address or host name (header injection).
func BuildNDR(in NDRInput) (*NDR, error) {
	if err := checkNDR(in); err != nil {
		return nil, err
	}
	date := in.Date
	if date.IsZero() {
		date = time.Now()
	}
	headers := headerSection(in.Original)

	var status bytes.Buffer
	// RFC 3464 §2.2: per-message fields.
	status.WriteString("Reporting-MTA: dns; " + in.ReportingMTA + "\r\n")
	if in.EnvelopeID != "" {
		status.WriteString("Original-Envelope-Id: " + esmtp.EncodeXText(in.EnvelopeID) + "\r\n")
	}
	if !in.ArrivalDate.IsZero() {
		status.WriteString("Arrival-Date: " + in.ArrivalDate.Format(time.RFC1123Z) + "\r\n")
	}
	// RFC 3464 §2.3: per-recipient fields, each group after an empty line.
	for _, r := range in.Recipients {
		status.WriteString("\r\n")
		if r.OriginalRecipient != "" {
			status.WriteString("Original-Recipient: " + originalRecipient(r.OriginalRecipient) + "\r\n")
		}
		status.WriteString("Final-Recipient: rfc822; " + r.Recipient + "\r\n")
		status.WriteString("Action: failed\r\n")
		status.WriteString("Status: " + statusCode(r.Reply) + "\r\n")
		if r.RemoteMTA != "" {
			status.WriteString("Remote-MTA: dns; " + r.RemoteMTA + "\r\n")
		}
		status.WriteString("Diagnostic-Code: smtp; " + diagnostic(r.Reply) + "\r\n")
	}

	var text bytes.Buffer
	text.WriteString("This is the mail system at " + in.ReportingMTA + ".\r\n\r\n")
	text.WriteString("Your message could not be delivered to the recipients below.\r\n")
	text.WriteString("It was sent with REQUIRETLS (RFC 8689), and no server was found that\r\n")
	text.WriteString("meets its requirements. Only the headers of your message are returned.\r\n\r\n")
	for _, r := range in.Recipients {
		text.WriteString("<" + r.Recipient + ">: " + diagnostic(r.Reply) + "\r\n")
	}

	sum := sha256.New()
	for _, s := range []string{in.ReportingMTA, in.Sender, date.UTC().Format(time.RFC3339Nano)} {
		sum.Write([]byte(s))
		sum.Write([]byte{0})
	}
	sum.Write(status.Bytes())
	sum.Write(headers)
	digest := hex.EncodeToString(sum.Sum(nil))
	boundary := "=_requiretls_" + digest[:32]
	for n := 0; bytes.Contains(headers, []byte(boundary)); n++ {
		boundary = "=_requiretls_" + digest[:32] + "_" + strconv.Itoa(n)
	}

	// RFC 6533: an internationalized report uses the "global" types.
	utf8Report := !isASCII(headers) || !isASCII(status.Bytes()) || !isASCII(text.Bytes())
	statusType, headersType := "message/delivery-status", "text/rfc822-headers"
	if utf8Report {
		statusType, headersType = "message/global-delivery-status", "message/global-headers"
	}

	var m bytes.Buffer
	m.WriteString("From: Mail Delivery System <MAILER-DAEMON@" + in.ReportingMTA + ">\r\n")
	m.WriteString("To: <" + in.Sender + ">\r\n")
	m.WriteString("Subject: Undelivered Mail Returned to Sender\r\n")
	m.WriteString("Date: " + date.Format(time.RFC1123Z) + "\r\n")
	m.WriteString("Message-ID: <" + digest[32:56] + "@" + in.ReportingMTA + ">\r\n")
	m.WriteString("Auto-Submitted: auto-replied\r\n") // RFC 3834 §5
	m.WriteString("MIME-Version: 1.0\r\n")
	m.WriteString("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n")
	m.WriteString("\r\nThis is a MIME-encapsulated message.\r\n")
	m.WriteString("\r\n--" + boundary + "\r\n")
	m.WriteString("Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	m.Write(text.Bytes())
	m.WriteString("\r\n--" + boundary + "\r\n")
	m.WriteString("Content-Description: Delivery report\r\nContent-Type: " + statusType + "\r\n\r\n")
	m.Write(status.Bytes())
	m.WriteString("\r\n--" + boundary + "\r\n")
	// RFC 8689 §5: only the headers of the original; RFC 6522 §4 type.
	m.WriteString("Content-Description: Undelivered message headers\r\nContent-Type: " + headersType + "\r\n\r\n")
	m.Write(headers)
	m.WriteString("\r\n--" + boundary + "--\r\n")

	return &NDR{ReversePath: "", Recipient: in.Sender, Tag: TagNone, Message: m.Bytes(), SMTPUTF8: utf8Report}, nil
}

func checkNDR(in NDRInput) error {
	bad := func(what string) error { return &ndrError{what: what} }
	switch {
	case in.Sender == "":
		return bad("null sender: a report to the null reverse path is never sent")
	case !headerSafe(in.Sender):
		return bad("sender")
	case in.ReportingMTA == "" || !headerSafe(in.ReportingMTA):
		return bad("reporting MTA")
	case len(in.Recipients) == 0:
		return bad("no recipients")
	case !headerSafe(esmtp.EncodeXText(in.EnvelopeID)):
		return bad("envelope id")
	}
	for _, r := range in.Recipients {
		switch {
		case r.Recipient == "" || !headerSafe(r.Recipient):
			return bad("recipient")
		case !r.Reply.Permanent():
			return bad("reply for " + r.Recipient + " is not 5xx")
		case r.RemoteMTA != "" && !headerSafe(r.RemoteMTA):
			return bad("remote MTA")
		case r.OriginalRecipient != "" && !strings.Contains(r.OriginalRecipient, ";"):
			return bad("original recipient")
		}
	}
	return nil
}

type ndrError struct{ what string }

func (e *ndrError) Error() string { return ErrNDRInput.Error() + ": " + e.what }
func (e *ndrError) Unwrap() error { return ErrNDRInput }

// headerSafe reports whether s can go into a header field as one token:
// printable, no space, not too long.
func headerSafe(s string) bool {
	if len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// statusCode returns the RFC 3463 status of a 5xx reply, "5.0.0" without an
// enhanced code.
func statusCode(r smtpsec.Reply) string {
	if r.Enhanced.IsZero() {
		return "5.0.0"
	}
	return "5." + r.Enhanced.String()
}

// diagnostic returns the reply on one line, as Diagnostic-Code takes it.
func diagnostic(r smtpsec.Reply) string {
	w := strings.TrimRight(r.String(), "\r\n")
	code := w[:3]
	lines := r.Lines()
	return code + " " + strings.Join(lines, " ")
}

// originalRecipient renders an ORCPT value "addr-type;xtext" decoded, as
// RFC 3464 §2.3.1 wants it: "addr-type; address". A value that does not
// decode is kept in its xtext form, still without control characters.
func originalRecipient(orcpt string) string {
	typ, addr, _ := strings.Cut(orcpt, ";")
	if d, err := esmtp.DecodeXText(addr); err == nil && headerSafe(d) {
		addr = d
	} else {
		addr = esmtp.EncodeXText(addr)
	}
	return strings.Map(printable, strings.TrimSpace(typ)) + "; " + addr
}

// headerSection returns the header section of msg (up to, not including,
// the empty line), with CRLF line endings, at most MaxReturnedHeader octets,
// cut at a line boundary.
func headerSection(msg []byte) []byte {
	var out bytes.Buffer
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if out.Len()+len(line)+2 > MaxReturnedHeader {
			break
		}
		// A bare CR inside a line would end it for some readers.
		out.Write(bytes.ReplaceAll(line, []byte("\r"), []byte(" ")))
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
