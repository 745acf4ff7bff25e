package sender_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
	"github.com/smtpsec/smtpsec/spf"
)

// ourID is the receiver's authserv-id in these tests; backupID the backup
// MX's.
const (
	ourID    = "mx.example.test"
	backupID = "backup.mx.example.test"
)

func checkZone() string {
	var b strings.Builder
	b.WriteString(`$TTL 300
_dmarc.example.com.      TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
example.com.             TXT "v=spf1 ip4:192.0.2.0/28 -all"
mail.example.com.        A   192.0.2.11
mail.example.com.        TXT "v=spf1 a -all"
fwd.example.net.         TXT "v=spf1 ip4:198.51.100.0/24 -all"
out1.fwd.example.net.    A   198.51.100.7
other.example.           A   203.0.113.9
other.example.           TXT "v=spf1 ip4:203.0.113.9 -all"
lists.example.org.       TXT "v=spf1 ip4:203.0.113.50 -all"
list.example.org.        A   203.0.113.50
_dmarc.none.example.     TXT "v=DMARC1; p=none"
_dmarc.quarantine.example. TXT "v=DMARC1; p=quarantine; pct=10"
`)
	b.WriteString(ptr("192.0.2.11", "mail.example.com."))
	b.WriteString(ptr("198.51.100.7", "out1.fwd.example.net."))
	b.WriteString(ptr("203.0.113.9", "other.example."))
	b.WriteString(ptr("203.0.113.50", "list.example.org."))
	return b.String()
}

func newChecker(r resolver.Resolver) *sender.Checker {
	return &sender.Checker{
		AuthservID: ourID,
		Resolver:   r,
		Rand:       fixedRand(99),
		OwnNames:   []string{ourID},
		Relays: []sender.Relay{
			{Name: "content filter", Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}, Mode: sender.RelaySkipChecks},
			{Name: "backup MX", Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:2::25/128")},
				Mode: sender.RelayTrustAuthResults, AuthservIDs: []string{backupID}},
		},
		Forwarders: []sender.Forwarder{
			{Name: "alias service", NameSuffixes: []string{"fwd.example.net"}},
			{Name: "scoped", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.8/32")},
				Recipients: []string{"rcpt.example"}, Disposition: sender.DispositionQuarantine},
		},
		MailingLists:      []sender.MailingList{{Name: "lists", Domains: []string{"lists.example.org"}}},
		TrustedARCSealers: []string{"arc.example.net"},
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	bodyHashFail := []sender.DKIMResult{{Status: sender.DKIMFail, Domain: "example.com", Selector: "s1", BodyHashMismatch: true, Reason: "body hash did not verify"}}
	tests := []struct {
		name     string
		session  sender.Session
		msg      sender.Message
		tweak    func(*sender.Checker)
		disp     sender.Disposition
		dmarc    sender.Status
		override sender.OverrideReason
		spfFrom  string
		remove   []int
		ar       []string // substrings of the Authentication-Results field
		arAbsent []string
		check    func(t *testing.T, v sender.Verdict)
	}{
		{
			name:    "plain pass",
			session: sender.Session{ClientIP: netip.MustParseAddr("192.0.2.11"), HELO: "mail.example.com", MailFrom: "bob@example.com"},
			msg:     sender.Message{From: []string{"Bob <bob@example.com>"}},
			disp:    sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "check",
			ar: []string{"Authentication-Results: " + ourID + ";", "iprev=pass (mail.example.com) policy.iprev=192.0.2.11",
				"spf=pass smtp.mailfrom=bob@example.com", "spf=pass smtp.helo=mail.example.com", "dmarc=pass (p=reject dis=accept) header.from=example.com"},
		},
		{
			name:    "plain reject",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "bob@example.com"},
			msg:     sender.Message{From: []string{"bob@example.com"}},
			disp:    sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check",
			ar: []string{"spf=fail smtp.mailfrom=bob@example.com", "dmarc=fail (p=reject dis=reject) header.from=example.com"},
		},
		{
			name: "trusted forwarder by iprev name softens reject",
			session: sender.Session{ClientIP: netip.MustParseAddr("198.51.100.7"), HELO: "out1.fwd.example.net",
				MailFrom: "SRS0=HHH=TT=example.com=alice@fwd.example.net"},
			msg:  sender.Message{From: []string{"alice@example.com"}, DKIM: bodyHashFail},
			disp: sender.DispositionAccept, dmarc: sender.StatusFail, override: sender.OverrideTrustedForwarder, spfFrom: "check",
			ar: []string{"spf=pass smtp.mailfrom=SRS0=HHH=TT=example.com=alice@fwd.example.net",
				`dkim=fail reason="body hash did not verify" header.d=example.com header.s=s1`,
				"dmarc=fail (p=reject dis=accept override=trusted_forwarder)", "reason=trusted_forwarder"},
			check: func(t *testing.T, v sender.Verdict) {
				assert.Equal(t, "alice@example.com", v.SRSOriginal)
				require.NotNil(t, v.Forwarder)
				assert.Equal(t, "alias service", v.OverrideBy)
				assert.False(t, v.DMARC.SPFAligned, "an SRS sender never aligns")
			},
		},
		{
			name: "untrusted forwarder does not soften",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example",
				MailFrom: "SRS0=HHH=TT=example.com=alice@other.example"},
			msg:  sender.Message{From: []string{"alice@example.com"}, DKIM: bodyHashFail},
			disp: sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check",
			arAbsent: []string{"trusted_forwarder"},
			check: func(t *testing.T, v sender.Verdict) {
				assert.Nil(t, v.Forwarder)
				assert.Equal(t, "alice@example.com", v.SRSOriginal)
			},
		},
		{
			name: "scoped forwarder in scope",
			session: sender.Session{ClientIP: netip.MustParseAddr("198.51.100.8"), HELO: "x.fwd.example.net",
				MailFrom: "bounce@fwd.example.net", Recipients: []string{"u@rcpt.example", "v@Sub.Rcpt.Example"}},
			msg:  sender.Message{From: []string{"alice@example.com"}},
			disp: sender.DispositionQuarantine, dmarc: sender.StatusFail, override: sender.OverrideTrustedForwarder, spfFrom: "check",
		},
		{
			name: "scoped forwarder out of scope",
			session: sender.Session{ClientIP: netip.MustParseAddr("198.51.100.8"), HELO: "x.fwd.example.net",
				MailFrom: "bounce@fwd.example.net", Recipients: []string{"u@rcpt.example", "w@elsewhere.example"}},
			msg:  sender.Message{From: []string{"alice@example.com"}},
			disp: sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check",
		},
		{
			name:    "internal relay skips every check",
			session: sender.Session{ClientIP: netip.MustParseAddr("2001:db8:1::5"), HELO: "filter.example.test", MailFrom: "bob@example.com"},
			msg: sender.Message{From: []string{"bob@example.com"},
				AuthResults: []string{ourID + "; spf=pass smtp.mailfrom=bob@example.com"}},
			disp: sender.DispositionAccept, dmarc: "",
			check: func(t *testing.T, v sender.Verdict) {
				assert.Empty(t, v.AuthResults)
				assert.Nil(t, v.SPF)
				require.NotNil(t, v.Relay)
				assert.Equal(t, sender.IPRevNone, v.IPRev.Status)
			},
		},
		{
			name:    "backup MX: its pinned A-R is honoured",
			session: sender.Session{ClientIP: netip.MustParseAddr("2001:db8:2::25"), HELO: "backup.mx.example.test", MailFrom: "bob@example.com"},
			msg: sender.Message{From: []string{"bob@example.com"}, AuthResults: []string{
				backupID + ";\r\n\tiprev=pass policy.iprev=192.0.2.11;\r\n\tspf=pass smtp.mailfrom=bob@example.com",
				"elsewhere.example; spf=fail smtp.mailfrom=bob@example.com",
			}},
			disp: sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "relay " + backupID,
			ar:       []string{"spf=pass (from trusted relay " + backupID + ") smtp.mailfrom=bob@example.com", "dmarc=pass"},
			arAbsent: []string{"iprev="},
		},
		{
			name:    "backup MX: an A-R under another id is ignored",
			session: sender.Session{ClientIP: netip.MustParseAddr("2001:db8:2::25"), HELO: "backup.mx.example.test", MailFrom: "bob@example.com"},
			msg: sender.Message{From: []string{"bob@example.com"}, AuthResults: []string{
				"evil.example; spf=pass smtp.mailfrom=bob@example.com",
			}},
			disp: sender.DispositionReject, dmarc: sender.StatusFail,
			check: func(t *testing.T, v sender.Verdict) { assert.Nil(t, v.SPF) },
		},
		{
			name:    "the backup MX's id from outside its CIDR is stripped and ignored",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "bob@example.com"},
			msg: sender.Message{From: []string{"bob@example.com"}, AuthResults: []string{
				"mail.example.net; dkim=none",
				backupID + "; spf=pass smtp.mailfrom=bob@example.com",
			}},
			disp: sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check", remove: []int{1},
		},
		{
			name:    "a forged A-R with our own id is stripped",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "bob@example.com"},
			msg: sender.Message{From: []string{"bob@example.com"}, AuthResults: []string{
				"MX.Example.Test; dmarc=pass header.from=example.com",
				"mx.example.net; spf=pass",
				"(unreadable",
			}},
			disp: sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check", remove: []int{0, 2},
		},
		{
			name: "mailing list allowance",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.50"), HELO: "list.example.org",
				MailFrom: "list-bounces@lists.example.org"},
			msg: sender.Message{From: []string{"alice@example.com"}, DKIM: []sender.DKIMResult{
				{Status: sender.DKIMPass, Domain: "lists.example.org"}, bodyHashFail[0]}},
			disp: sender.DispositionAccept, dmarc: sender.StatusFail, override: sender.OverrideMailingList, spfFrom: "check",
			ar: []string{"reason=mailing_list"},
		},
		{
			name:    "trusted ARC sealer",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "x@other.example"},
			msg: sender.Message{From: []string{"alice@example.com"}, DKIM: bodyHashFail,
				ARC: &sender.ARCResult{Status: sender.ARCPass, Sealers: []string{"first.example", "ARC.example.net"}}},
			disp: sender.DispositionAccept, dmarc: sender.StatusFail, override: sender.OverrideLocalPolicy, spfFrom: "check",
			ar: []string{"arc=pass", "reason=local_policy"},
		},
		{
			name:    "ARC sealer not last in the chain",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "x@other.example"},
			msg: sender.Message{From: []string{"alice@example.com"},
				ARC: &sender.ARCResult{Status: sender.ARCPass, Sealers: []string{"arc.example.net", "evil.example"}}},
			disp: sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check",
		},
		{
			name:    "several From domains: the strictest wins",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "x@other.example"},
			msg:     sender.Message{From: []string{"a@none.example", "b@example.com", "c@NONE.example"}},
			disp:    sender.DispositionReject, dmarc: sender.StatusFail, spfFrom: "check",
			ar: []string{"header.from=none.example", "header.from=example.com"},
			check: func(t *testing.T, v sender.Verdict) {
				assert.Len(t, v.DMARCAll, 2)
				assert.Equal(t, "example.com", v.DMARC.Domain)
			},
		},
		{
			name:    "missing From",
			session: sender.Session{ClientIP: netip.MustParseAddr("192.0.2.11"), HELO: "mail.example.com", MailFrom: "bob@example.com"},
			msg:     sender.Message{From: []string{"undisclosed-recipients:;"}},
			disp:    sender.DispositionReject, dmarc: sender.StatusPermError, spfFrom: "check",
			ar: []string{`dmarc=permerror reason="no RFC5322.From domain"`},
		},
		{
			name:    "missing From, configured",
			session: sender.Session{ClientIP: netip.MustParseAddr("192.0.2.11"), HELO: "mail.example.com", MailFrom: "bob@example.com"},
			tweak:   func(c *sender.Checker) { c.MissingFrom = sender.DispositionQuarantine },
			disp:    sender.DispositionQuarantine, dmarc: sender.StatusPermError, spfFrom: "check",
		},
		{
			name:    "null sender aligns through HELO",
			session: sender.Session{ClientIP: netip.MustParseAddr("192.0.2.11"), HELO: "mail.example.com", MailFrom: "<>"},
			msg:     sender.Message{From: []string{"MAILER-DAEMON@example.com"}},
			disp:    sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "check",
			ar: []string{"spf=pass smtp.helo=mail.example.com"},
			check: func(t *testing.T, v sender.Verdict) {
				assert.True(t, v.DMARC.SPFAligned)
				assert.Equal(t, spf.IdentityHELO, v.SPF.Identity)
			},
		},
		{
			name:    "DNS temperror is a tempfail",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "x@other.example"},
			msg:     sender.Message{From: []string{"a@tempfail.example"}},
			disp:    sender.DispositionTempFail, dmarc: sender.StatusTempError, spfFrom: "check",
			ar: []string{`dmarc=temperror (dis=tempfail) reason="DNS failure for _dmarc.tempfail.example"`},
		},
		{
			name:    "authenticated submission",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "laptop", Authenticated: true, AuthUser: "bob@example.com"},
			msg:     sender.Message{From: []string{"bob@example.com"}},
			disp:    sender.DispositionAccept,
			ar:      []string{"auth=pass smtp.auth=bob@example.com"},
		},
		{
			name: "pre-computed SPF outcome",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "bob@example.com",
				SPF: &spf.Outcome{Result: spf.Pass, Identity: spf.IdentityMailFrom, Sender: "bob@example.com", Domain: "example.com"}},
			msg:  sender.Message{From: []string{"bob@example.com"}},
			disp: sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "session",
		},
		{
			name: "pre-computed SPF outcome without a sender",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "<bob@example.com>",
				SPF: &spf.Outcome{Result: spf.Pass}},
			msg:  sender.Message{From: []string{"bob@example.com"}},
			disp: sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "session",
			ar: []string{"spf=pass smtp.mailfrom=bob@example.com"},
		},
		{
			name:    "HELO claiming our name is a signal, not a rejection",
			session: sender.Session{ClientIP: netip.MustParseAddr("192.0.2.11"), HELO: ourID, MailFrom: "bob@example.com"},
			msg:     sender.Message{From: []string{"bob@example.com"}},
			disp:    sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "check",
			check: func(t *testing.T, v sender.Verdict) {
				assert.True(t, v.HELO.Has(sender.HELOClaimsOurs))
				assert.True(t, v.HELO.Has(sender.HELONotIPRevName))
			},
		},
		{
			name:    "caller statuses that are not keywords cannot break the field",
			session: sender.Session{ClientIP: netip.MustParseAddr("192.0.2.11"), HELO: "mail.example.com", MailFrom: "bob@example.com"},
			msg: sender.Message{From: []string{"bob@example.com"},
				DKIM: []sender.DKIMResult{{Status: "pass; dmarc=pass", Domain: "example.com"}},
				ARC:  &sender.ARCResult{Status: "pass pass"}},
			disp: sender.DispositionAccept, dmarc: sender.StatusPass, spfFrom: "check",
			ar:       []string{"dkim=none header.d=example.com", "arc=none"},
			arAbsent: []string{"dkim=pass"},
			check: func(t *testing.T, v sender.Verdict) {
				assert.False(t, v.DMARC.DKIMAligned, "an unknown DKIM status never counts as pass")
			},
		},
		{
			name:    "pct sampled out",
			session: sender.Session{ClientIP: netip.MustParseAddr("203.0.113.9"), HELO: "other.example", MailFrom: "x@other.example"},
			msg:     sender.Message{From: []string{"a@quarantine.example"}},
			disp:    sender.DispositionAccept, dmarc: sender.StatusFail, override: sender.OverrideSampledOut, spfFrom: "check",
		},
	}
	for _, e := range envs(t, checkZone()) {
		require.NoError(t, e.zone.SetFailure("_dmarc.tempfail.example.", dns.TypeTXT, resolver.FailServFail))
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					c := newChecker(e.r)
					if tt.tweak != nil {
						tt.tweak(c)
					}
					v, err := c.Check(context.Background(), tt.session, tt.msg)
					require.NoError(t, err)
					assert.Equal(t, tt.disp, v.Disposition, "reasons: %q", v.Reasons)
					assert.Equal(t, tt.dmarc, v.DMARC.Status, "reasons: %q", v.Reasons)
					assert.Equal(t, tt.override, v.Override)
					assert.Equal(t, tt.spfFrom, v.SPFFrom)
					assert.Equal(t, tt.remove, v.RemoveAuthResults)
					for _, s := range tt.ar {
						assert.Contains(t, unfold(v.AuthResults), s)
					}
					for _, s := range tt.arAbsent {
						assert.NotContains(t, v.AuthResults, s)
					}
					if v.AuthResults != "" {
						assertSafeField(t, v.AuthResults)
						_, err := sender.ParseAuthResults(v.AuthResults)
						assert.NoError(t, err)
					}
					if tt.override != "" {
						assert.NotEqual(t, sender.StatusPass, v.DMARC.Status, "an override never makes a pass")
					}
					assert.NotEmpty(t, v.Reasons)
					if tt.check != nil {
						tt.check(t, v)
					}
				})
			}
		})
	}
}

// unfold removes folding, so tests can look for a method on one line.
func unfold(s string) string { return strings.ReplaceAll(s, "\r\n\t", " ") }

func TestCheckInternalRelayMakesNoQueries(t *testing.T) {
	t.Parallel()
	c := newChecker(failingResolver{t})
	var logged strings.Builder
	c.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer func() { assert.Contains(t, logged.String(), "internal relay") }()
	v, err := c.Check(context.Background(), sender.Session{ClientIP: netip.MustParseAddr("2001:db8:1::5"), MailFrom: "bob@example.com"},
		sender.Message{From: []string{"bob@example.com"}})
	require.NoError(t, err)
	assert.Equal(t, sender.DispositionAccept, v.Disposition)
}

func TestCheckErrors(t *testing.T) {
	t.Parallel()
	z := newZone(t, checkZone())
	ip := netip.MustParseAddr("192.0.2.11")
	tests := []struct {
		name string
		c    *sender.Checker
		s    sender.Session
		err  error
	}{
		{"no client IP", &sender.Checker{Resolver: z}, sender.Session{}, sender.ErrNoClientIP},
		{"relay without pinned ids", &sender.Checker{Resolver: z, Relays: []sender.Relay{
			{Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Mode: sender.RelayTrustAuthResults}}}, sender.Session{ClientIP: ip}, sender.ErrConfig},
		{"relay without mode", &sender.Checker{Resolver: z, Relays: []sender.Relay{
			{Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}}}, sender.Session{ClientIP: ip}, sender.ErrConfig},
		{"relay without prefixes", &sender.Checker{Resolver: z, Relays: []sender.Relay{{Mode: sender.RelaySkipChecks}}}, sender.Session{ClientIP: ip}, sender.ErrConfig},
		{"forwarder matching nothing", &sender.Checker{Resolver: z, Forwarders: []sender.Forwarder{{Name: "x"}}}, sender.Session{ClientIP: ip}, sender.ErrConfig},
		{"forwarder bad disposition", &sender.Checker{Resolver: z, Forwarders: []sender.Forwarder{{NameSuffixes: []string{"x.example"}, Disposition: "drop"}}}, sender.Session{ClientIP: ip}, sender.ErrConfig},
		{"list without domains", &sender.Checker{Resolver: z, MailingLists: []sender.MailingList{{Name: "x"}}}, sender.Session{ClientIP: ip}, sender.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.c.Check(context.Background(), tt.s, sender.Message{From: []string{"a@example.com"}})
			assert.ErrorIs(t, err, tt.err)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&sender.Checker{Resolver: z}).Check(ctx, sender.Session{ClientIP: ip}, sender.Message{From: []string{"a@example.com"}})
	assert.ErrorIs(t, err, context.Canceled)
}

// FuzzCheck feeds hostile session and message facts to Check: the verdict
// must always come, its Authentication-Results field must be one safe,
// parseable field, and an override must never sit on a pass.
func FuzzCheck(f *testing.F) {
	f.Add("mail.example.com", "bob@example.com", "bob@example.com", "example.com", "mx.example.test; spf=pass", uint8(11))
	f.Add("x; dkim=pass\r\nX-Evil: 1", "\"a;b\"@example.com", "\"x\" <a@example.com>, b@none.example", "ex\x00ample.com", "(", uint8(7))
	f.Add("[192.0.2.11]", "<>", "", "", "backup.mx.example.test; spf=pass smtp.mailfrom=bob@example.com", uint8(25))
	f.Add("out1.fwd.example.net", "SRS0=HHH=TT=example.com=alice@fwd.example.net", "alice@example.com", "example.com", "", uint8(7))
	z := newZone(f, checkZone())
	ips := []netip.Addr{netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("198.51.100.7"),
		netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:2::25"), netip.MustParseAddr("2001:db8:1::5")}
	f.Fuzz(func(t *testing.T, helo, mailFrom, from, dkimDomain, authRes string, pick uint8) {
		c := newChecker(z)
		s := sender.Session{ClientIP: ips[int(pick)%len(ips)], HELO: helo, MailFrom: mailFrom, Recipients: []string{mailFrom}}
		m := sender.Message{From: strings.Split(from, ","), AuthResults: []string{authRes},
			DKIM: []sender.DKIMResult{{Status: sender.DKIMPass, Domain: dkimDomain, Selector: helo, Reason: authRes}}}
		v, err := c.Check(context.Background(), s, m)
		require.NoError(t, err)
		require.Contains(t, []sender.Disposition{sender.DispositionAccept, sender.DispositionQuarantine,
			sender.DispositionReject, sender.DispositionTempFail}, v.Disposition)
		if v.Override != "" {
			require.Equal(t, sender.StatusFail, v.DMARC.Status)
		}
		if v.AuthResults == "" {
			require.NotNil(t, v.Relay)
			return
		}
		assertSafeField(t, v.AuthResults)
		a, err := sender.ParseAuthResults(v.AuthResults)
		require.NoError(t, err, "%q", v.AuthResults)
		require.Equal(t, ourID, a.AuthservID)
		for _, mr := range a.Results {
			require.Contains(t, []string{"iprev", "spf", "dkim", "arc", "dmarc", "auth"}, mr.Method, "%q", v.AuthResults)
		}
	})
}
