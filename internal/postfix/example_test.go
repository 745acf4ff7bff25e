package postfix_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
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

// A policy service that prepends a header naming the client, served on a
// loopback port and asked once, as Postfix's check_policy_service would.
func ExamplePolicyServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &postfix.PolicyServer{Handler: func(ctx context.Context, req *postfix.PolicyRequest) (postfix.Action, error) {
		if req.Get("protocol_state") != "RCPT" {
			return postfix.Dunno, nil
		}
		return postfix.Prepend("X-Client: " + req.Get("client_address")), nil
	}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	req := postfix.NewPolicyRequest("request", "smtpd_access_policy", "protocol_state", "RCPT", "client_address", "192.0.2.1")
	c.Write(req.AppendTo(nil))
	reply, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(reply)
	c.Close()

	stop() // graceful shutdown: Serve returns nil
	fmt.Println(<-done)
	// Output:
	// action=PREPEND X-Client: 192.0.2.1
	// <nil>
}
