package smtpserver_test

import (
	"context"
	"fmt"
	"net"

	"github.com/smtpsec/smtpsec"
	"github.com/smtpsec/smtpsec/internal/smtpserver"
	"github.com/smtpsec/smtpsec/starttls"
)

func ExampleConfig_Serve() {
	got := make(chan *smtpserver.Message, 1)
	cfg := &smtpserver.Config{
		Hostname: "mx.example.test",
		Deliver: func(_ context.Context, m *smtpserver.Message) *smtpsec.ReplyError {
			got <- m
			return nil
		},
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- cfg.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	conn, _ := net.Dial("tcp", ln.Addr().String())
	// Plaintext (level none), to keep the example short.
	s, err := (&starttls.Client{Hostname: "client.example.org"}).Upgrade(ctx, conn, "mx.example.test", &starttls.Policy{Level: starttls.None})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = s.Command(ctx, "MAIL FROM:<a@example.org>")
	_, _ = s.Command(ctx, "RCPT TO:<b@example.test>")
	r, _ := s.Data(ctx, []byte("Subject: hi\r\n\r\nHello.\r\n"))
	_ = s.Quit(ctx)
	m := <-got
	fmt.Println(r.String()[:3], m.Helo, m.Mail.Path, m.Rcpts[0].Path, m.TLS == nil)
	// Output: 250 client.example.org a@example.org b@example.test true
}
