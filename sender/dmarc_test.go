package sender_test

import (
	"context"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
)

func TestOrganizationalDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"mail.example.com", "example.com"},
		{"a.b.example.co.uk", "example.co.uk"},
		{"co.uk", "co.uk"}, // a public suffix is its own organizational domain
		{"com", "com"},
		{"foo.github.io", "github.io"},               // private-section rule skipped (RFC 7489 erratum 6729)
		{"a.foo.github.io", "github.io"},             // likewise
		{"www.city.kawasaki.jp", "city.kawasaki.jp"}, // exception rule
		{"a.b.example.test", "example.test"},         // no rule: the default "*"
		{"example", "example"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, sender.OrganizationalDomain(nil, tt.in))
		})
	}
}

// listFunc adapts a function to SuffixList.
type listFunc func(string) (string, bool)

func (f listFunc) PublicSuffix(d string) (string, bool) { return f(d) }

func TestOrganizationalDomainCustomList(t *testing.T) {
	t.Parallel()
	// A fresher list that knows a suffix x/net does not.
	list := listFunc(func(d string) (string, bool) {
		if d == "new-suffix.example" || len(d) > len(".new-suffix.example") && d[len(d)-len(".new-suffix.example"):] == ".new-suffix.example" {
			return "new-suffix.example", true
		}
		return sender.XNetSuffixList{}.PublicSuffix(d)
	})
	assert.Equal(t, "org.new-suffix.example", sender.OrganizationalDomain(list, "a.b.org.new-suffix.example"))
	assert.Equal(t, "new-suffix.example", sender.OrganizationalDomain(nil, "a.b.org.new-suffix.example"))
	// A misbehaving list cannot make the result longer than the name.
	bad := listFunc(func(string) (string, bool) { return "not.a.suffix.of.it", true })
	assert.Equal(t, "b.example", sender.OrganizationalDomain(bad, "a.b.example"))
}

func TestAligned(t *testing.T) {
	t.Parallel()
	// No DNS in RFC 7489 mode: the public suffix list decides.
	c := &sender.Checker{Resolver: failingResolver{t}}
	tests := []struct {
		name            string
		from, id        string
		relaxed, strict bool
	}{
		// RFC 7489 Appendix B.1.1 (SPF) and B.1.2 (DKIM).
		{"B.1 same domain", "example.com", "example.com", true, true},
		{"B.1 child identifier", "example.com", "child.example.com", true, false},
		// B.1.3: the From domain is the subdomain.
		{"B.1.3 child From", "child.example.com", "example.com", true, false},
		{"different organization", "example.com", "example.net", false, false},
		{"sibling subdomains", "z.example.org", "a.b.c.example.org", true, false},
		{"case and trailing dot", "Example.COM.", "mail.example.com", true, false},
		{"public suffix with itself", "co.uk", "co.uk", true, true},
		{"public suffix with a registered domain", "co.uk", "example.co.uk", false, false},
		{"registered domain with its public suffix", "example.co.uk", "co.uk", false, false},
		{"private PSL section ignored", "foo.github.io", "bar.github.io", true, false},
		{"empty identifier", "example.com", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Aligned(context.Background(), tt.from, tt.id, sender.AlignRelaxed)
			require.NoError(t, err)
			assert.Equal(t, tt.relaxed, got, "relaxed")
			got, err = c.Aligned(context.Background(), tt.from, tt.id, sender.AlignStrict)
			require.NoError(t, err)
			assert.Equal(t, tt.strict, got, "strict")
		})
	}
}

func TestStrictNeverConsultsPSL(t *testing.T) {
	t.Parallel()
	called := false
	c := &sender.Checker{
		Resolver:   failingResolver{t},
		SuffixList: listFunc(func(d string) (string, bool) { called = true; return "example.com", true }),
	}
	for _, id := range []string{"example.com", "mail.example.com", "example.net"} {
		_, err := c.Aligned(context.Background(), "example.com", id, sender.AlignStrict)
		require.NoError(t, err)
	}
	assert.False(t, called, "strict alignment consulted the public suffix list")
}

func TestEvaluateDMARC(t *testing.T) {
	t.Parallel()
	pass := func(d string) []sender.DKIMResult {
		return []sender.DKIMResult{{Status: sender.DKIMPass, Domain: d, Selector: "s1"}}
	}
	tests := []struct {
		name       string
		in         sender.DMARCInput
		rand       func(int) int
		status     sender.Status
		policyDom  string
		policy     sender.Policy
		tag        string
		applied    sender.Policy
		sampledOut bool
		spf, dkim  bool
		err        error
	}{
		{name: "SPF aligned pass", in: sender.DMARCInput{From: "example.com", SPFResult: "pass", SPFDomain: "mail.example.com"},
			status: sender.StatusPass, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, spf: true},
		{name: "DKIM aligned pass", in: sender.DMARCInput{From: "example.com", SPFResult: "fail", SPFDomain: "example.net", DKIM: pass("example.com")},
			status: sender.StatusPass, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, dkim: true},
		{name: "unaligned passes fail", in: sender.DMARCInput{From: "example.com", SPFResult: "pass", SPFDomain: "example.net", DKIM: pass("example.net")},
			status: sender.StatusFail, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "DKIM fail does not count", in: sender.DMARCInput{From: "example.com", DKIM: []sender.DKIMResult{{Status: sender.DKIMFail, Domain: "example.com"}}},
			status: sender.StatusFail, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "sp from the organizational domain", in: sender.DMARCInput{From: "mail.example.com"},
			status: sender.StatusFail, policyDom: "example.com", policy: sender.PolicyQuarantine, tag: "sp", applied: sender.PolicyQuarantine},
		{name: "sp not used for the domain's own record", in: sender.DMARCInput{From: "a.sub.example"},
			status: sender.StatusFail, policyDom: "a.sub.example", policy: sender.PolicyQuarantine, tag: "p", applied: sender.PolicyQuarantine},
		{name: "sp=none for a sibling", in: sender.DMARCInput{From: "b.sub.example"},
			status: sender.StatusFail, policyDom: "sub.example", policy: sender.PolicyNone, tag: "sp", applied: sender.PolicyNone},
		{name: "strict SPF", in: sender.DMARCInput{From: "strict.example", SPFResult: "pass", SPFDomain: "mail.strict.example"},
			status: sender.StatusFail, policyDom: "strict.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "strict DKIM exact", in: sender.DMARCInput{From: "strict.example", DKIM: pass("STRICT.example")},
			status: sender.StatusPass, policyDom: "strict.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, dkim: true},
		{name: "multiple records are none", in: sender.DMARCInput{From: "two.example"},
			status: sender.StatusNone, policyDom: "two.example", err: sender.ErrMultipleRecords},
		{name: "broken record", in: sender.DMARCInput{From: "broken.example"},
			status: sender.StatusPermError, policyDom: "broken.example", err: sender.ErrSyntax},
		{name: "invalid p with rua is p=none", in: sender.DMARCInput{From: "defaulted.example"},
			status: sender.StatusFail, policyDom: "defaulted.example", policy: sender.PolicyNone, tag: "p", applied: sender.PolicyNone},
		{name: "no record", in: sender.DMARCInput{From: "nothing.example"}, status: sender.StatusNone},
		{name: "non-DMARC TXT at _dmarc", in: sender.DMARCInput{From: "onlyspf.example"}, status: sender.StatusNone},
		{name: "public suffix aligns only with itself", in: sender.DMARCInput{From: "co.uk", DKIM: pass("example.co.uk")},
			status: sender.StatusFail, policyDom: "co.uk", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "DNS temperror", in: sender.DMARCInput{From: "tempfail.example", DKIM: pass("tempfail.example")},
			status: sender.StatusTempError, err: sender.ErrDNS},
		{name: "aligned SPF temperror", in: sender.DMARCInput{From: "example.com", SPFResult: "temperror", SPFDomain: "example.com"},
			status: sender.StatusTempError, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, err: sender.ErrDNS},
		{name: "aligned DKIM temperror", in: sender.DMARCInput{From: "example.com", DKIM: []sender.DKIMResult{{Status: sender.DKIMTempError, Domain: "example.com"}}},
			status: sender.StatusTempError, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, err: sender.ErrDNS},
		{name: "unaligned DKIM temperror", in: sender.DMARCInput{From: "example.com", DKIM: []sender.DKIMResult{{Status: sender.DKIMTempError, Domain: "example.net"}}},
			status: sender.StatusFail, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "temperror with a pass elsewhere", in: sender.DMARCInput{From: "example.com", SPFResult: "temperror", SPFDomain: "example.com", DKIM: pass("example.com")},
			status: sender.StatusPass, policyDom: "example.com", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, dkim: true},
		{name: "pct=0 samples everything out", in: sender.DMARCInput{From: "pct0.example"}, rand: fixedRand(0),
			status: sender.StatusFail, policyDom: "pct0.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyQuarantine, sampledOut: true},
		{name: "pct=50 draw 49 applies", in: sender.DMARCInput{From: "pct50.example"}, rand: fixedRand(49),
			status: sender.StatusFail, policyDom: "pct50.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "pct=50 draw 50 samples out", in: sender.DMARCInput{From: "pct50.example"}, rand: fixedRand(50),
			status: sender.StatusFail, policyDom: "pct50.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyQuarantine, sampledOut: true},
		{name: "pct=100 never draws", in: sender.DMARCInput{From: "pct100.example"}, rand: func(int) int { panic("drew") },
			status: sender.StatusFail, policyDom: "pct100.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject},
		{name: "pct does not touch a pass", in: sender.DMARCInput{From: "pct0.example", DKIM: pass("pct0.example")}, rand: func(int) int { panic("drew") },
			status: sender.StatusPass, policyDom: "pct0.example", policy: sender.PolicyReject, tag: "p", applied: sender.PolicyReject, dkim: true},
	}
	for _, e := range envs(t, baseZone) {
		require.NoError(t, e.zone.SetFailure("_dmarc.tempfail.example.", dns.TypeTXT, resolver.FailServFail))
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					c := &sender.Checker{Resolver: e.r, Rand: tt.rand}
					got, err := c.EvaluateDMARC(context.Background(), tt.in)
					assert.Equal(t, tt.status, got.Status)
					if tt.status == sender.StatusTempError || tt.status == sender.StatusPermError {
						require.Error(t, err)
					} else {
						require.NoError(t, err)
					}
					if tt.err != nil {
						assert.ErrorIs(t, got.Err, tt.err)
						assert.NotEmpty(t, got.Err.Error())
					}
					assert.Equal(t, tt.policyDom, got.PolicyDomain)
					assert.Equal(t, tt.policy, got.Policy)
					assert.Equal(t, tt.tag, got.PolicyTag)
					assert.Equal(t, tt.applied, got.Applied)
					assert.Equal(t, tt.sampledOut, got.SampledOut)
					assert.Equal(t, tt.spf, got.SPFAligned, "SPF aligned")
					assert.Equal(t, tt.dkim, got.DKIMAligned, "DKIM aligned")
				})
			}
		})
	}
}

func TestLookupDMARCQueries(t *testing.T) {
	t.Parallel()
	z := newZone(t, baseZone)
	tests := []struct {
		domain  string
		queries []string
	}{
		{"example.com", []string{"_dmarc.example.com."}},
		{"a.b.mail.example.com", []string{"_dmarc.a.b.mail.example.com.", "_dmarc.example.com."}},
		{"two.example", []string{"_dmarc.two.example."}}, // several records: no fallback
		{"com", []string{"_dmarc.com."}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			t.Parallel()
			cr := &countingResolver{Resolver: z}
			c := &sender.Checker{Resolver: cr}
			d, _ := c.LookupDMARC(context.Background(), tt.domain)
			assert.Equal(t, tt.queries, cr.queries())
			assert.Len(t, d.Queries, len(tt.queries))
		})
	}
	c := &sender.Checker{Resolver: failingResolver{t}}
	for _, bad := range []string{"bad..name", "[192.0.2.1]", "", "a b.example"} {
		d, err := c.LookupDMARC(context.Background(), bad)
		assert.ErrorIs(t, err, sender.ErrInvalidDomain, bad)
		assert.Equal(t, sender.StatusPermError, d.Status, bad)
	}
}

// bisZone exercises the RFC 9989 tree walk.
const bisZone = `$TTL 300
_dmarc.example.net.           TXT "v=DMARC1; p=reject; sp=quarantine; np=none"
mail.example.net.             A   192.0.2.20
_dmarc.psd.                   TXT "v=DMARC1; p=reject; psd=y"
_dmarc.dept.corp.example.     TXT "v=DMARC1; p=none; psd=n"
_dmarc.corp.example.          TXT "v=DMARC1; p=reject"
_dmarc.testing.example.       TXT "v=DMARC1; p=reject; t=y"
_dmarc.pct0.example.          TXT "v=DMARC1; p=reject; pct=0"
_dmarc.example.org.           TXT "v=DMARC1; p=reject"
_dmarc.mail.example.org.      TXT "v=DMARC1; p=quarantine"
_dmarc.dup.example.net.       TXT "v=DMARC1; p=none"
dup.example.net.              A   192.0.2.21
_dmarc.dup.example.net.       TXT "v=DMARC1; p=none; adkim=s"
`

func TestDMARCbis(t *testing.T) {
	t.Parallel()
	pass := func(d string) []sender.DKIMResult { return []sender.DKIMResult{{Status: sender.DKIMPass, Domain: d}} }
	long := "a.b.c.d.e.f.g.h.i.j.mail.example.net"
	tests := []struct {
		name      string
		in        sender.DMARCInput
		status    sender.Status
		policyDom string
		orgDom    string
		tag       string
		applied   sender.Policy
		queries   []string // TXT names, when checked
	}{
		{name: "long name: 8 queries, np for a non-existent subdomain", in: sender.DMARCInput{From: long},
			status: sender.StatusFail, policyDom: "example.net", orgDom: "example.net", tag: "np", applied: sender.PolicyNone,
			// RFC 9989 §4.10's own example list.
			queries: []string{
				"_dmarc." + long + ".", "_dmarc.g.h.i.j.mail.example.net.", "_dmarc.h.i.j.mail.example.net.",
				"_dmarc.i.j.mail.example.net.", "_dmarc.j.mail.example.net.", "_dmarc.mail.example.net.",
				"_dmarc.example.net.", "_dmarc.net.",
			}},
		{name: "sp for an existing subdomain", in: sender.DMARCInput{From: "mail.example.net"},
			status: sender.StatusFail, policyDom: "example.net", orgDom: "example.net", tag: "sp", applied: sender.PolicyQuarantine},
		{name: "psd=y: policy of the public suffix domain", in: sender.DMARCInput{From: "x.org1.psd", DKIM: pass("other.psd")},
			status: sender.StatusFail, policyDom: "psd", orgDom: "org1.psd", tag: "p", applied: sender.PolicyReject,
			queries: []string{"_dmarc.x.org1.psd.", "_dmarc.org1.psd.", "_dmarc.psd."}},
		{name: "psd=y: one label below aligns", in: sender.DMARCInput{From: "x.org1.psd", DKIM: pass("y.org1.psd")},
			status: sender.StatusPass, policyDom: "psd", orgDom: "org1.psd", tag: "p", applied: sender.PolicyReject},
		{name: "psd=n stops the walk", in: sender.DMARCInput{From: "mail.dept.corp.example", DKIM: pass("corp.example")},
			status: sender.StatusFail, policyDom: "dept.corp.example", orgDom: "dept.corp.example", tag: "p", applied: sender.PolicyNone,
			// corp.example is not below dept.corp.example: no second walk.
			queries: []string{"_dmarc.mail.dept.corp.example.", "_dmarc.dept.corp.example."}},
		{name: "t=y demotes reject to quarantine", in: sender.DMARCInput{From: "testing.example"},
			status: sender.StatusFail, policyDom: "testing.example", orgDom: "testing.example", tag: "p", applied: sender.PolicyQuarantine},
		{name: "pct ignored", in: sender.DMARCInput{From: "pct0.example"},
			status: sender.StatusFail, policyDom: "pct0.example", orgDom: "pct0.example", tag: "p", applied: sender.PolicyReject},
		{name: "author record, organization above", in: sender.DMARCInput{From: "mail.example.org", SPFResult: "pass", SPFDomain: "z.example.org"},
			status: sender.StatusPass, policyDom: "mail.example.org", orgDom: "example.org", tag: "p", applied: sender.PolicyQuarantine},
		{name: "sibling subdomains align", in: sender.DMARCInput{From: "z.example.org", DKIM: pass("a.b.c.example.org")},
			status: sender.StatusPass, policyDom: "example.org", orgDom: "example.org", tag: "p", applied: sender.PolicyReject},
		{name: "duplicate records skipped, walk continues", in: sender.DMARCInput{From: "dup.example.net"},
			status: sender.StatusFail, policyDom: "example.net", orgDom: "example.net", tag: "sp", applied: sender.PolicyQuarantine},
		{name: "nothing found", in: sender.DMARCInput{From: "a.b.nothing.test"}, status: sender.StatusNone, orgDom: "a.b.nothing.test"},
	}
	for _, e := range envs(t, bisZone) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					cr := &countingResolver{Resolver: e.r}
					c := &sender.Checker{Resolver: cr, DMARCbis: true, Rand: func(int) int { panic("pct used in DMARCbis mode") }}
					got, _ := c.EvaluateDMARC(context.Background(), tt.in)
					assert.Equal(t, tt.status, got.Status)
					assert.Equal(t, tt.policyDom, got.PolicyDomain)
					assert.Equal(t, tt.orgDom, got.OrgDomain)
					assert.Equal(t, tt.tag, got.PolicyTag)
					assert.Equal(t, tt.applied, got.Applied)
					if tt.queries != nil {
						assert.Equal(t, tt.queries, cr.queries())
					}
					assert.LessOrEqual(t, len(cr.queries()), 3*8, "three walks at most")
				})
			}
		})
	}
}

func TestDMARCbisWalkTempError(t *testing.T) {
	t.Parallel()
	z := newZone(t, bisZone)
	require.NoError(t, z.SetFailure("_dmarc.example.net.", dns.TypeTXT, resolver.FailServFail))
	c := &sender.Checker{Resolver: z, DMARCbis: true}
	got, err := c.EvaluateDMARC(context.Background(), sender.DMARCInput{From: "mail.example.net"})
	require.Error(t, err)
	assert.Equal(t, sender.StatusTempError, got.Status)
	var le *sender.LookupError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "_dmarc.example.net", le.Name)
	// The organizational domain cannot be found either.
	_, err = c.OrganizationalDomain(context.Background(), "mail.example.net")
	assert.ErrorIs(t, err, sender.ErrDNS)
}

func TestDKIMAlignmentBound(t *testing.T) {
	t.Parallel()
	var sigs []sender.DKIMResult
	for range 16 {
		sigs = append(sigs, sender.DKIMResult{Status: sender.DKIMPass, Domain: "example.net"})
	}
	aligned := sender.DKIMResult{Status: sender.DKIMPass, Domain: "example.com"}
	c := &sender.Checker{Resolver: newZone(t, baseZone)}
	got, err := c.EvaluateDMARC(context.Background(), sender.DMARCInput{From: "example.com", DKIM: append(sigs, aligned)})
	require.NoError(t, err)
	assert.Equal(t, sender.StatusFail, got.Status, "the 17th passing signature is not considered")
	got, err = c.EvaluateDMARC(context.Background(), sender.DMARCInput{From: "example.com", DKIM: append(sigs[:15], aligned)})
	require.NoError(t, err)
	assert.Equal(t, sender.StatusPass, got.Status)
}
