package smtpwire_test

import (
	"fmt"
	"strings"

	"github.com/smtpsec/smtpsec/internal/smtpwire"
)

func ExampleReader_ReadReply() {
	wire := "250-mx.example.test greets client.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n"
	r := smtpwire.NewReader(strings.NewReader(wire), smtpwire.Limits{})
	reply, err := r.ReadReply()
	if err != nil {
		fmt.Println(err)
		return
	}
	domain, ext := smtpwire.ParseEHLO(reply)
	fmt.Println(reply.Code, domain)
	for _, e := range ext {
		fmt.Printf("%s %q\n", e.Keyword, e.Params)
	}
	// Output:
	// 250 mx.example.test
	// PIPELINING ""
	// SIZE "10240000"
	// STARTTLS ""
}

func ExampleReader_ReadCommand() {
	r := smtpwire.NewReader(strings.NewReader("mail FROM:<a@example.test> SIZE=10\r\n"), smtpwire.Limits{})
	cmd, err := r.ReadCommand()
	fmt.Printf("%q %q %v\n", cmd.Verb, cmd.Arg, err)
	// Output: "MAIL" "FROM:<a@example.test> SIZE=10" <nil>
}
