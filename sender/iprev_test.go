package sender_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
)

func ptr(ip, name string) string {
	r, err := dns.ReverseAddr(ip)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s PTR %s\n", r, name)
}

// clientZone holds reverse and forward data for iprev and HELO tests.
func clientZone() string {
	var b strings.Builder
	b.WriteString("$TTL 300\n")
	b.WriteString("mail.example.com. A 192.0.2.11\nexample.com. A 192.0.2.10\n")
	b.WriteString("v6.example.com. AAAA 2001:db8::25\n")
	b.WriteString(ptr("192.0.2.11", "mail.example.com."))
	b.WriteString(ptr("192.0.2.12", "liar.example."))
	b.WriteString("liar.example. A 192.0.2.99\n")
	// Twelve PTR names; only the last one resolves back, beyond the cap.
	for i := 1; i <= 12; i++ {
		b.WriteString(ptr("192.0.2.13", fmt.Sprintf("n%02d.many.example.", i)))
		if i == 12 {
			b.WriteString("n12.many.example. A 192.0.2.13\n")
		} else {
			b.WriteString(fmt.Sprintf("n%02d.many.example. A 192.0.2.200\n", i))
		}
	}
	b.WriteString(ptr("192.0.2.14", "broken.example."))
	b.WriteString(ptr("192.0.2.15", "nxname.example."))
	b.WriteString(ptr("192.0.2.18", "first.bad.example."))
	b.WriteString(ptr("192.0.2.18", "second.good.example."))
	b.WriteString("first.bad.example. A 192.0.2.99\nsecond.good.example. A 192.0.2.18\n")
	b.WriteString(ptr("2001:db8::25", "v6.example.com."))
	return b.String()
}

func TestIPRev(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip     string
		status sender.IPRevStatus
		name   string
		names  int
		err    error
	}{
		{"192.0.2.11", sender.IPRevPass, "mail.example.com", 1, nil},
		{"::ffff:192.0.2.11", sender.IPRevPass, "mail.example.com", 1, nil},
		{"2001:db8::25", sender.IPRevPass, "v6.example.com", 1, nil},
		{"192.0.2.18", sender.IPRevPass, "second.good.example", 2, nil},
		{"192.0.2.12", sender.IPRevFail, "", 1, sender.ErrNotConfirmed},
		{"192.0.2.15", sender.IPRevFail, "", 1, sender.ErrNotConfirmed},
		{"192.0.2.13", sender.IPRevFail, "", 10, sender.ErrNotConfirmed}, // the 12th name is never asked
		{"192.0.2.16", sender.IPRevPermError, "", 0, sender.ErrNoPTR},
		{"192.0.2.14", sender.IPRevTempError, "", 1, sender.ErrDNS},
		{"192.0.2.17", sender.IPRevTempError, "", 0, sender.ErrDNS},
	}
	for _, e := range envs(t, clientZone()) {
		require.NoError(t, e.zone.SetFailure("broken.example.", 0, resolver.FailServFail))
		rev, _ := dns.ReverseAddr("192.0.2.17")
		require.NoError(t, e.zone.SetFailure(rev, dns.TypePTR, resolver.FailServFail))
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.ip, func(t *testing.T) {
					t.Parallel()
					c := &sender.Checker{Resolver: e.r}
					got, err := c.IPRev(context.Background(), netip.MustParseAddr(tt.ip))
					assert.Equal(t, tt.status, got.Status)
					assert.Equal(t, tt.name, got.Name)
					assert.Len(t, got.Names, tt.names)
					if tt.err != nil {
						assert.ErrorIs(t, got.Err, tt.err)
					}
					if tt.status == sender.IPRevTempError || tt.status == sender.IPRevPermError {
						assert.Error(t, err)
					} else {
						assert.NoError(t, err)
					}
				})
			}
		})
	}
}

func TestIPRevBounded(t *testing.T) {
	t.Parallel()
	z := newZone(t, clientZone())
	srv := newServer(t, z)
	srv.SetLatency(300 * time.Millisecond)
	c := &sender.Checker{Resolver: srv.Client(), IPRevTimeout: 100 * time.Millisecond}
	start := time.Now()
	got, err := c.IPRev(context.Background(), netip.MustParseAddr("192.0.2.11"))
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, sender.IPRevTempError, got.Status)
	assert.ErrorIs(t, err, sender.ErrDNS)
}

func TestCheckHELO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		helo string
		ip   string
		want []sender.HELOSignal
	}{
		{"mail.example.com", "192.0.2.11", nil},
		{"MAIL.Example.COM.", "192.0.2.11", nil},
		{"localhost", "192.0.2.11", []sender.HELOSignal{sender.HELONotFQDN}},
		{"under_score.example", "192.0.2.11", []sender.HELOSignal{sender.HELONotFQDN}},
		{"", "192.0.2.11", []sender.HELOSignal{sender.HELONotFQDN}},
		{"[192.0.2.11]", "192.0.2.11", nil},
		{"[192.0.2.11]", "192.0.2.12", []sender.HELOSignal{sender.HELOLiteralMismatch}},
		{"[IPv6:2001:db8::25]", "2001:db8::25", nil},
		{"[198.51.100.1]", "192.0.2.11", []sender.HELOSignal{sender.HELOLiteralMismatch, sender.HELOClaimsOurs}},
		{"mx.example.org", "192.0.2.11", []sender.HELOSignal{sender.HELOClaimsOurs, sender.HELONoAddress}},
		{"nx.example", "192.0.2.11", []sender.HELOSignal{sender.HELONoAddress}},
		{"example.com", "192.0.2.11", []sender.HELOSignal{sender.HELONotClientIP}},
		{"v6.example.com", "192.0.2.11", []sender.HELOSignal{sender.HELONotClientIP}},
	}
	for _, e := range envs(t, clientZone()) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.helo+"/"+tt.ip, func(t *testing.T) {
					t.Parallel()
					c := &sender.Checker{
						Resolver: e.r, OwnNames: []string{"mx.example.org"},
						OwnAddrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, DisableHELOSPF: true,
					}
					got := c.CheckHELO(context.Background(), tt.helo, netip.MustParseAddr(tt.ip))
					assert.Equal(t, tt.want, got.Signals)
					assert.Empty(t, got.SPFResult)
				})
			}
		})
	}
}

func TestCheckHELOSPF(t *testing.T) {
	t.Parallel()
	z := newZone(t, clientZone()+"mail.example.com. TXT \"v=spf1 ip4:192.0.2.11 -all\"\n")
	c := &sender.Checker{Resolver: z}
	got := c.CheckHELO(context.Background(), "mail.example.com", netip.MustParseAddr("192.0.2.11"))
	assert.Equal(t, "pass", got.SPFResult)
	assert.Empty(t, got.Signals)
	got = c.CheckHELO(context.Background(), "mail.example.com", netip.MustParseAddr("192.0.2.99"))
	assert.Equal(t, "fail", got.SPFResult)
	assert.True(t, got.Has(sender.HELOSPFFail))
	assert.True(t, got.Has(sender.HELONotClientIP))
}
