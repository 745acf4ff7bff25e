package mtasts

import (
	"strings"

	"github.com/smtpsec/smtpsec/starttls/internal/txtrecord"
)

// Version is the only MTA-STS version, in both the TXT record and the policy
// file (RFC 8461 §3.1, §3.2).
const Version = "STSv1"

// Extension is a key/value field that this package does not interpret, kept
// in the order it appeared.
type Extension struct {
	Key   string
	Value string
}

// Record is a parsed _mta-sts TXT record (RFC 8461 §3.1).
type Record struct {
	// ID identifies the current policy: 1 to 32 letters and digits. A change
	// of ID tells senders to fetch the policy again.
	ID string
	// Extensions holds the fields other than v and id.
	Extensions []Extension
}

// String returns the record in its canonical text form.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=" + Version + "; id=" + r.ID)
	for _, e := range r.Extensions {
		b.WriteString("; " + e.Key + "=" + e.Value)
	}
	return b.String()
}

// isSTSRecord reports whether txt starts with the version field, the test
// RFC 8461 §3.1 uses to keep or drop TXT records at _mta-sts.<domain>.
func isSTSRecord(txt string) bool {
	rest, ok := strings.CutPrefix(txt, "v="+Version)
	return ok && (rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t')
}

// ParseRecord parses the text of one _mta-sts TXT record (its character
// strings already joined). It returns a *SyntaxError wrapping
// ErrRecordSyntax when the record does not follow the grammar of RFC 8461
// §3.1:
//
//	sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-sep         = *WSP %x3B *WSP
//	sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//
// Field names are case-sensitive (%s). A record must hold exactly one id.
func ParseRecord(txt string) (*Record, error) {
	fail := func(reason string) (*Record, error) {
		return nil, &SyntaxError{Text: truncate(txt), Reason: reason, Err: ErrRecordSyntax}
	}
	if !isSTSRecord(txt) {
		return fail("does not start with v=STSv1")
	}
	var r Record
	haveID := false
	// After "v=STSv1" only white space may come before the first ";".
	first, rest, found := strings.Cut(txt[len("v="+Version):], ";")
	if strings.Trim(first, " \t") != "" {
		return fail("fields must be separated by ';'")
	}
	for n := 0; found; n++ {
		var f string
		f, rest, found = strings.Cut(rest, ";")
		// RFC 8461 §3.1: sts-sep = *WSP %x3B *WSP.
		f = strings.Trim(f, " \t")
		if f == "" {
			if !found && n > 0 {
				break // the optional trailing sts-sep
			}
			return fail("empty field")
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fail("field without '='")
		}
		switch {
		case k == "id":
			if haveID {
				return fail("more than one id")
			}
			if len(v) < 1 || len(v) > 32 || !isAlnum(v) {
				return fail("id is not 1 to 32 letters and digits")
			}
			r.ID, haveID = v, true
		case k == "v":
			return fail("version repeated")
		default:
			if !txtrecord.IsExtName(k) {
				return fail("invalid extension name")
			}
			if !txtrecord.IsExtValue(v) {
				return fail("invalid extension value")
			}
			r.Extensions = append(r.Extensions, Extension{Key: k, Value: v})
		}
	}
	if !haveID {
		return fail("no id")
	}
	return &r, nil
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}
