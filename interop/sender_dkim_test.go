package interop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
)

// dkimResults fills sender's DKIM input from go-msgauth's verifications.
// go-msgauth v0.7.0 does not report the selector, and tells a body hash
// mismatch only by its error text.
func dkimResults(vs []*dkim.Verification) []sender.DKIMResult {
	out := make([]sender.DKIMResult, 0, len(vs))
	for _, v := range vs {
		r := sender.DKIMResult{Domain: v.Domain, AUID: v.Identifier}
		switch {
		case v.Err == nil:
			r.Status = sender.DKIMPass
		case dkim.IsTempFail(v.Err):
			r.Status = sender.DKIMTempError
		case dkim.IsPermFail(v.Err):
			r.Status = sender.DKIMPermError
		default:
			r.Status = sender.DKIMFail
		}
		if v.Err != nil {
			r.Reason = v.Err.Error()
			r.BodyHashMismatch = strings.Contains(r.Reason, "body hash did not verify")
		}
		out = append(out, r)
	}
	return out
}

// Example_dkimVerification signs a message from example.com with
// go-msgauth, verifies it the way a receiving MTA would, and hands the
// verifications to sender.Checker. The message arrives through a forwarder,
// so SPF for example.com fails; DKIM survives the forwarding and DMARC
// passes. Once the forwarder appends a footer, the body hash breaks and
// DMARC fails.
func Example_dkimVerification() {
	ctx := context.Background()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	z, err := resolver.ParseZone(strings.NewReader(`
_dmarc.example.com.          300 TXT "v=DMARC1; p=reject"
example.com.                 300 TXT "v=spf1 ip4:192.0.2.0/24 -all"
s1._domainkey.example.com.   300 TXT "v=DKIM1; k=ed25519; p=`+pub+`"
`), ".")
	if err != nil {
		panic(err)
	}

	msg := "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hello\r\n" +
		"Message-ID: <1@example.com>\r\n\r\nHi Bob.\r\n"
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{
		Domain: "example.com", Selector: "s1", Signer: key,
		HeaderKeys: []string{"From", "To", "Subject", "Message-ID"},
	}); err != nil {
		panic(err)
	}

	c := &sender.Checker{AuthservID: "mx.example.org", Resolver: z, DisableIPRev: true, DisableHELOSPF: true}
	session := sender.Session{
		ClientIP: netip.MustParseAddr("198.51.100.7"), HELO: "forwarder.example.net",
		MailFrom: "alice@example.com", // a forwarder that keeps the envelope sender
	}
	for _, body := range []string{"", "-- \r\nSent through the forwarder\r\n"} {
		verifs, err := dkim.VerifyWithOptions(strings.NewReader(signed.String()+body), &dkim.VerifyOptions{
			LookupTXT: func(name string) ([]string, error) { return z.LookupTXT(ctx, name) },
		})
		if err != nil {
			panic(err)
		}
		results := dkimResults(verifs)
		v, err := c.Check(ctx, session, sender.Message{From: []string{"alice@example.com"}, DKIM: results})
		if err != nil {
			panic(err)
		}
		fmt.Printf("dkim=%s body-hash-mismatch=%t spf=%s dmarc=%s disposition=%s\n",
			results[0].Status, results[0].BodyHashMismatch, v.SPF.Result, v.DMARC.Status, v.Disposition)
	}
	// Output:
	// dkim=pass body-hash-mismatch=false spf=fail dmarc=pass disposition=accept
	// dkim=fail body-hash-mismatch=true spf=fail dmarc=fail disposition=reject
}
