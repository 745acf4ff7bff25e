package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// Media types of a report (RFC 8460 §6.4, §6.5).
const (
	MediaTypeGzip = "application/tlsrpt+gzip"
	MediaTypeJSON = "application/tlsrpt+json"
)

// ErrHeader: a value for a mail header holds a character that would break
// the header (CR, LF or another control character).
var ErrHeader = errors.New("tlsrpt: invalid character in a mail header value")

// Gzip returns the report's JSON compressed with gzip, the body of a report
// sent as application/tlsrpt+gzip (RFC 8460 §5.3, §5.4).
func (r *Report) Gzip() ([]byte, error) {
	j, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(j); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FileName returns the report's file name (RFC 8460 §5.1):
//
//	filename = sender "!" policy-domain "!" begin-timestamp "!"
//	           end-timestamp [ "!" unique-id ] "." extension
//
// with sender the submitter's domain, timestamps in seconds since the Unix
// epoch, unique-id optional ("" leaves it out) and the extension "json.gz"
// or, when compressed is false, "json". Names must be valid domain names
// and uniqueID alphanumeric; otherwise an error wrapping ErrDomain or
// ErrHeader is returned.
func FileName(submitter, policyDomain string, r DateRange, uniqueID string, compressed bool) (string, error) {
	s, err := dnsname.Normalize(submitter)
	if err != nil {
		return "", errors.Join(ErrDomain, err)
	}
	d, err := dnsname.Normalize(policyDomain)
	if err != nil {
		return "", errors.Join(ErrDomain, err)
	}
	name := s + "!" + d + "!" + strconv.FormatInt(r.Start.Unix(), 10) + "!" + strconv.FormatInt(r.End.Unix(), 10)
	if uniqueID != "" {
		for i := 0; i < len(uniqueID); i++ {
			c := uniqueID[i]
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
				return "", ErrHeader
			}
		}
		name += "!" + uniqueID
	}
	if compressed {
		return name + ".json.gz", nil
	}
	return name + ".json", nil
}

// Mail is a report e-mail message.
type Mail struct {
	// From and To are the addresses (addr-spec, without display names).
	From, To string
	// Now is the Date of the message. If zero, time.Now() is used.
	Now time.Time
	// MessageID is the Message-ID without angle brackets. If empty, a
	// random one at the submitter's domain is made.
	MessageID string
}

// Subject returns the subject of the report mail for r (RFC 8460 §5.3):
// "Report Domain: <policy domain> Submitter: <submitter> Report-ID: <id>".
func Subject(r *Report, policyDomain, submitter string) string {
	return "Report Domain: " + policyDomain + " Submitter: " + submitter + " Report-ID: <" + r.ReportID + ">"
}

// Message returns a complete RFC 5322 message carrying r as a gzip
// attachment, as RFC 8460 §5.3 describes: a multipart/report with
// report-type "tlsrpt", a short text part, and the report as
// application/tlsrpt+gzip; the headers TLS-Report-Domain and
// TLS-Report-Submitter; and the Subject of Subject.
//
// It also carries "TLS-Required: No" (RFC 8689 §3): a report about broken
// TLS must reach a domain whose TLS is broken, so its delivery must not be
// held to the recipient's MTA-STS or DANE policy. Senders should treat the
// message that way whatever their REQUIRETLS support. Sending the message
// is the caller's job.
func (m Mail) Message(r *Report, policyDomain string, meta Meta) ([]byte, error) {
	d, err := dnsname.Normalize(policyDomain)
	if err != nil {
		return nil, errors.Join(ErrDomain, err)
	}
	sub, err := dnsname.Normalize(meta.Submitter)
	if err != nil {
		return nil, errors.Join(ErrDomain, err)
	}
	for _, v := range []string{m.From, m.To, m.MessageID, r.ReportID, meta.OrganizationName} {
		if !headerSafe(v) {
			return nil, ErrHeader
		}
	}
	gz, err := r.Gzip()
	if err != nil {
		return nil, err
	}
	fname, err := FileName(sub, d, r.DateRange, "", true)
	if err != nil {
		return nil, err
	}
	now := m.Now
	if now.IsZero() {
		now = time.Now()
	}
	msgID := m.MessageID
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	if msgID == "" {
		msgID = hex.EncodeToString(rnd[:]) + "@" + sub
	}
	boundary := "tlsrpt-" + hex.EncodeToString(rnd[:])

	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", "<"+m.From+">")
	h("To", "<"+m.To+">")
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+msgID+">")
	h("Subject", Subject(r, d, sub))
	h("TLS-Report-Domain", d)
	h("TLS-Report-Submitter", sub)
	h("TLS-Required", "No")
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/report; report-type="tlsrpt";`+"\r\n\t"+`boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a multipart message in MIME format.\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString("This is an aggregate TLS report (RFC 8460) from " + sub + " for " + d + ",\r\n")
	b.WriteString("covering " + r.DateRange.Start.UTC().Format(time.RFC3339) + " to " + r.DateRange.End.UTC().Format(time.RFC3339) + ".\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: " + MediaTypeGzip + "\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString(`Content-Disposition: attachment; filename="` + fname + `"` + "\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	b.WriteString("--" + boundary + "--\r\n")
	return []byte(b.String()), nil
}

func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
