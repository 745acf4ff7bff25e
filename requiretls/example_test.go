package requiretls_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/requiretls"
	"github.com/smtpsec/smtpsec/starttls"
)

// A receiver offers REQUIRETLS only inside TLS, refuses the parameter on
// plaintext and with a value, and tags the message.
func ExampleServerSession_ParseMailFrom() {
	for _, c := range []struct {
		tls  bool
		line string
	}{
		{false, "MAIL FROM:<alice@example.test> REQUIRETLS"},
		{true, "MAIL FROM:<alice@example.test> REQUIRETLS=YES"},
		{true, "MAIL FROM:<alice@example.test> REQUIRETLS"},
	} {
		s := requiretls.ServerSession{TLS: c.tls}
		m, err := s.ParseMailFrom(c.line)
		var re *smtpsec.ReplyError
		if errors.As(err, &re) {
			fmt.Printf("tls=%v advertise=%v: %s\n", c.tls, s.Advertise(), oneLine(re.Reply.String()))
			continue
		}
		header := requiretls.ParseHeader([]byte("Subject: hi\r\nTLS-Required: No\r\n\r\n"))
		tag := requiretls.MessageTag(requiretls.TagInput{RequireTLS: m.RequireTLS, Header: header})
		fmt.Printf("tls=%v advertise=%v: 250 accepted, tag %s\n", c.tls, s.Advertise(), tag)
	}
	// Output:
	// tls=false advertise=false: 555 5.5.4 Unsupported option: REQUIRETLS
	// tls=true advertise=true: 555 5.5.4 Unsupported option: REQUIRETLS=YES
	// tls=true advertise=true: 250 accepted, tag REQUIRETLS
}

// The sender-side gate decides per hop; only its Decision writes REQUIRETLS.
func ExampleCheckHop() {
	hops := []requiretls.Hop{
		// A man in the middle stripped STARTTLS and advertised REQUIRETLS.
		{TLS: false, RequireTLS: true},
		// TLS, certificate verified by DANE-EE, DNSSEC-secure MX, no keyword.
		{TLS: true, Auth: starttls.AuthDANEEE, Level: starttls.DANE, MX: requiretls.MXDNSSEC},
		// TLS, PKIX under an MTA-STS enforce policy that matched the MX.
		{TLS: true, Auth: starttls.AuthPKIX, Level: starttls.MTASTS, MX: requiretls.MXMTASTS, RequireTLS: true},
	}
	var decisions []requiretls.Decision
	for _, hop := range hops {
		d := requiretls.CheckHop(requiretls.TagRequireTLS, hop)
		decisions = append(decisions, d)
		line, err := d.MailFrom("alice@example.test", nil)
		if err != nil {
			fmt.Println("refused:", oneLine(d.Reply().String()))
			continue
		}
		fmt.Println("send:", oneLine(line))
	}
	fmt.Println("if none had qualified:", oneLine(requiretls.Exhausted(decisions[:2]...).String()))
	// Output:
	// refused: 550 5.7.10 Encryption needed: REQUIRETLS message and no authenticated TLS session to the destination (no TLS)
	// refused: 550 5.7.30 REQUIRETLS support required
	// send: MAIL FROM:<alice@example.test> REQUIRETLS
	// if none had qualified: 550 5.7.30 REQUIRETLS support required
}

// A REQUIRETLS message that could not be delivered bounces with its headers
// only, from the null sender and without REQUIRETLS.
func ExampleBuildNDR() {
	ndr, err := requiretls.BuildNDR(requiretls.NDRInput{
		ReportingMTA: "mta.example.test",
		Sender:       "alice@example.test",
		Original:     []byte("From: alice@example.test\r\nSubject: plans\r\n\r\nsecret body\r\n"),
		Recipients: []requiretls.FailedRecipient{{
			Recipient: "bob@example.net",
			Reply:     requiretls.ReplySupportRequired(),
			RemoteMTA: "mx.example.net",
		}},
		Date: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := mail.ReadMessage(bytes.NewReader(ndr.Message))
	fmt.Printf("MAIL FROM:<%s> tag %s, RCPT TO:<%s>\n", ndr.ReversePath, ndr.Tag, ndr.Recipient)
	fmt.Println(msg.Header.Get("Subject"))
	fmt.Println(bytes.Contains(ndr.Message, []byte("Status: 5.7.30")))
	fmt.Println(bytes.Contains(ndr.Message, []byte("Content-Type: text/rfc822-headers")))
	fmt.Println(bytes.Contains(ndr.Message, []byte("secret body")))
	// Output:
	// MAIL FROM:<> tag none, RCPT TO:<alice@example.test>
	// Undelivered Mail Returned to Sender
	// true
	// true
	// false
}

// A "TLS-Required: No" message relaxes the destination's policy to
// opportunistic TLS.
func ExampleRelax() {
	strict := &starttls.Policy{Level: starttls.MTASTS, Names: []string{"mx.example.net"}}
	tag := requiretls.MessageTag(requiretls.TagInput{Header: requiretls.ParseHeaderValues("No")})
	p := strict
	if tag == requiretls.TagTLSRequiredNo {
		p = requiretls.Relax(strict)
	}
	fmt.Println(tag, p.Level, strict.Level)
	// Output:
	// TLS-Required: No may mta-sts
}

// oneLine drops the CRLF that ends wire-form replies and commands.
func oneLine(s string) string { return strings.TrimSuffix(s, "\r\n") }
