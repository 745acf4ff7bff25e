package main

import (
	"context"
	"strings"
	"testing"

	"github.com/smtpsec/smtpsec/internal/postfix"
)

// FuzzPolicyDecide feeds hostile attribute values to the policy: it must
// return a sendable action (one line, no NUL), or an error only for a
// request type other than smtpd_access_policy.
func FuzzPolicyDecide(f *testing.F) {
	f.Add("smtpd_access_policy", "RCPT", "192.0.2.10", "mx.pass.test", "alice@pass.test", "", "1a.2b")
	f.Add("smtpd_access_policy", "MAIL", "::ffff:192.0.2.10", "[192.0.2.10]", "", "", "")
	f.Add("smtpd_access_policy", "RCPT", "192.0.2.66", "x\r\nPREPEND X: y", "m@fail.test\nX-Injected: 1", "", "")
	f.Add("smtpd_access_policy", "DATA", "2001:db8::1", "badhelo.test", "<>", "", "")
	f.Add("junk", "RCPT", "", "", "", "", "")
	f.Add("smtpd_access_policy", "rcpt", "192.0.2.10", strings.Repeat("a.", 200), "a@"+strings.Repeat("b", 300)+".test", "", "")
	f.Fuzz(func(t *testing.T, request, state, client, helo, sender, sasl, instance string) {
		p := testPolicy(t, nil)
		r := postfix.NewPolicyRequest("request", request, "protocol_state", state, "client_address", client,
			"helo_name", helo, "sender", sender, "sasl_username", sasl, "instance", instance)
		act, err := p.decide(context.Background(), r)
		if err != nil {
			if request == "smtpd_access_policy" {
				t.Fatalf("error for a policy request: %v", err)
			}
			return
		}
		if request != "smtpd_access_policy" {
			t.Fatalf("request type %q answered %q", request, act)
		}
		if err := act.Valid(); err != nil {
			t.Fatalf("invalid action %q: %v", act, err)
		}
		if s := string(act); !strings.HasPrefix(s, "PREPEND Received-SPF: ") && s != "DUNNO" &&
			!strings.HasPrefix(s, "550 5.7.") && !strings.HasPrefix(s, "451 4.7.24 ") {
			t.Fatalf("unexpected action %q", act)
		}
	})
}
