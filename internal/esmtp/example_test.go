package esmtp_test

import (
	"errors"
	"fmt"

	"github.com/smtpsec/smtpsec/internal/esmtp"
)

func ExampleParseCommand() {
	opts := esmtp.Options{MaxLine: esmtp.MailLineLimit("REQUIRETLS")}
	c, err := esmtp.ParseCommand("MAIL FROM:<alice@example.test> size=2048 RequireTLS\r\n", opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Verb, c.Path, c.Params.Has("REQUIRETLS"))
	for _, p := range c.Params {
		fmt.Println(p)
	}

	_, err = esmtp.ParseCommand("MAIL FROM:<alice@example.test> REQUIRETLS REQUIRETLS", opts)
	var se *esmtp.SyntaxError
	if errors.As(err, &se) {
		fmt.Print(se.Reply())
	}
	// Output:
	// MAIL FROM alice@example.test true
	// SIZE=2048
	// REQUIRETLS
	// 501 5.5.4 Duplicate parameter REQUIRETLS
}
