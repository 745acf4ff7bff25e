package postfix_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/postfix"
)

func ExampleReadPolicyRequest() {
	wire := "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nsender=alice@example.com\n\n"
	req, err := postfix.ReadPolicyRequest(bufio.NewReader(strings.NewReader(wire)), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Get("protocol_state"), req.Get("client_address"), req.Get("sender"))
	// Output: RCPT 192.0.2.1 alice@example.com
}

func ExampleReply() {
	r := smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 23}, Text: "SPF MAIL FROM check failed"}
	fmt.Println("action=" + postfix.Reply(r))
	fmt.Println("action=" + postfix.Prepend("Received-SPF: pass (mx.example.org: domain of\r\n\talice@example.com designates 192.0.2.1 as permitted sender)"))
	// Output:
	// action=550 5.7.23 SPF MAIL FROM check failed
	// action=PREPEND Received-SPF: pass (mx.example.org: domain of alice@example.com designates 192.0.2.1 as permitted sender)
}

func ExampleParseTCPTableRequest() {
	key, err := postfix.ParseTCPTableRequest("get alice%20smith@example.com")
	fmt.Printf("%q %v\n", key, err)
	fmt.Printf("%q\n", postfix.AppendTCPTableReply(nil, postfix.MapReply{Status: postfix.MapOK, Text: "SRS0=HHHH=TT=example.com=alice smith@fwd.example"}))
	// Output:
	// "alice smith@example.com" <nil>
	// "200 SRS0=HHHH=TT=example.com=alice%20smith@fwd.example\n"
}

func ExampleAppendSocketmapReply() {
	req, _ := postfix.ReadNetstring(bufio.NewReader(strings.NewReader("25:forward alice@example.com,")), 0)
	name, key, _ := postfix.ParseSocketmapRequest(req)
	fmt.Println(name, key)
	fmt.Printf("%s\n", postfix.AppendSocketmapReply(nil, postfix.MapReply{Status: postfix.MapNotFound}))
	// Output:
	// forward alice@example.com
	// 9:NOTFOUND ,
}
