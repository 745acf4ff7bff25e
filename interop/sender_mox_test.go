package interop

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	moxdkim "github.com/mjl-/mox/dkim"
	moxdmarc "github.com/mjl-/mox/dmarc"
	moxdns "github.com/mjl-/mox/dns"
	moxspf "github.com/mjl-/mox/spf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/sender"
)

// TestDMARCDifferentialMox compares sender's RFC 7489 evaluation with mox
// v0.0.15's dmarc.Verify, the only other complete DMARC evaluator in Go, on
// generated scenarios: records at the From domain and/or its organizational
// domain (p, sp, adkim, aspf), several records, broken records, SERVFAIL,
// and random SPF and DKIM results. Both see the same DNS data (a
// resolver.Zone for us, mox's MockResolver for mox). OpenDMARC, the other
// reference, cannot be driven offline: see the sender package's report.
//
// Known, intended differences, counted and checked to be only these:
//   - mox makes the result temperror for any SPF or DKIM temperror; we only
//     for one whose identifier is aligned (an unaligned identifier could
//     never have produced a pass, so its outcome cannot change the verdict).
//   - mox treats quarantine like reject (Result.Reject); we keep them apart,
//     so we compare mox's Reject with "fail and a policy other than none".
func TestDMARCDifferentialMox(t *testing.T) {
	orgs := []string{"example.com", "example.net", "example.org", "example.co.uk", "other.com"}
	policies := []string{"none", "quarantine", "reject"}
	aligns := []string{"", "r", "s"}
	r := rand.New(rand.NewPCG(7489, 2015))
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	domainIn := func(org string) string {
		switch r.IntN(3) {
		case 0:
			return org
		case 1:
			return "mail." + org
		default:
			return "a.b." + org
		}
	}
	record := func() string {
		s := "v=DMARC1; p=" + pick(policies)
		if r.IntN(2) == 0 {
			s += "; sp=" + pick(policies)
		}
		if a := pick(aligns); a != "" {
			s += "; adkim=" + a
		}
		if a := pick(aligns); a != "" {
			s += "; aspf=" + a
		}
		return s
	}
	spfResults := []string{"pass", "pass", "fail", "softfail", "none", "neutral", "temperror"}
	dkimResults := []sender.DKIMStatus{sender.DKIMPass, sender.DKIMPass, sender.DKIMFail, sender.DKIMNone, sender.DKIMTempError}

	const n = 600
	agree, tempDiff := 0, 0
	byStatus := map[sender.Status]int{}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for i := range n {
		from := domainIn(pick(orgs))
		org := sender.OrganizationalDomain(nil, from)
		txt := map[string][]string{}
		var fail []string
		var zoneText strings.Builder
		zoneText.WriteString("$TTL 300\n")
		add := func(name, rec string) {
			txt["_dmarc."+name+"."] = append(txt["_dmarc."+name+"."], rec)
			fmt.Fprintf(&zoneText, "_dmarc.%s. TXT %q\n", name, rec)
		}
		switch r.IntN(10) {
		case 0: // nothing published
		case 1:
			add(org, record())
			add(org, record()+"; ri=7") // several records (distinct: DNS holds no duplicate RRs)
		case 2:
			add(from, "v=DMARC1; p=reject; pct=abc") // broken
		case 3:
			fail = append(fail, "txt _dmarc."+from+".")
		default:
			if r.IntN(2) == 0 || from == org {
				add(org, record())
			}
			if from != org && r.IntN(2) == 0 {
				add(from, record())
			}
		}
		z, err := resolver.ParseZone(strings.NewReader(zoneText.String()), ".")
		require.NoError(t, err)
		for _, f := range fail {
			require.NoError(t, z.SetFailure(strings.TrimPrefix(f, "txt "), dns.TypeTXT, resolver.FailServFail))
		}

		spfRes := pick(spfResults)
		// Half the identifiers are in the From's organization.
		idDomain := func() string {
			if r.IntN(2) == 0 {
				return domainIn(org)
			}
			return domainIn(pick(orgs))
		}
		spfDom := idDomain()
		in := sender.DMARCInput{From: from, SPFResult: spfRes, SPFDomain: spfDom}
		var moxDKIM []moxdkim.Result
		for range r.IntN(3) {
			k := sender.DKIMResult{Status: dkimResults[r.IntN(len(dkimResults))], Domain: idDomain()}
			in.DKIM = append(in.DKIM, k)
			moxDKIM = append(moxDKIM, moxdkim.Result{Status: moxdkim.Status(k.Status),
				Sig: &moxdkim.Sig{Domain: moxdns.Domain{ASCII: k.Domain}}})
		}

		ours, _ := (&sender.Checker{Resolver: z}).EvaluateDMARC(ctx, in)
		spfID := moxdns.Domain{ASCII: spfDom}
		_, theirs := moxdmarc.Verify(ctx, log, moxdns.MockResolver{TXT: txt, Fail: fail},
			moxdns.Domain{ASCII: from}, moxDKIM, moxspf.Status(spfRes), &spfID, false)

		desc := fmt.Sprintf("case %d: From %s, DNS %v fail %v, SPF %s for %s, DKIM %+v", i, from, txt, fail, spfRes, spfDom, in.DKIM)
		if string(theirs.Status) == string(sender.StatusTempError) && ours.Status != sender.StatusTempError {
			// First known difference: the temperror came from an unaligned
			// identifier (or one that cannot matter).
			hasTemp := spfRes == "temperror"
			for _, k := range in.DKIM {
				hasTemp = hasTemp || k.Status == sender.DKIMTempError
			}
			require.True(t, hasTemp, "mox temperror without an authentication temperror: %s; ours %+v", desc, ours)
			require.Contains(t, []sender.Status{sender.StatusFail, sender.StatusPass}, ours.Status, desc)
			tempDiff++
			continue
		}
		require.Equal(t, string(theirs.Status), string(ours.Status), "%s\nours %+v\nmox %+v", desc, ours, theirs)
		oursReject := ours.Status == sender.StatusFail && ours.Policy != sender.PolicyNone
		require.Equal(t, theirs.Reject, oursReject, "%s\nours %+v\nmox %+v", desc, ours, theirs)
		if ours.Status == sender.StatusPass || ours.Status == sender.StatusFail {
			assert.Equal(t, theirs.AlignedDKIMPass, ours.DKIMAligned, desc)
			assert.Equal(t, theirs.AlignedSPFPass, ours.SPFAligned, desc)
			assert.Equal(t, theirs.Domain.ASCII, ours.PolicyDomain, desc)
		}
		agree++
		byStatus[ours.Status]++
	}
	t.Logf("sender vs mox dmarc.Verify: %d/%d agree (by status %v), %d differ only by an unaligned temperror", agree, n, byStatus, tempDiff)
	assert.Greater(t, agree, n*3/4)
	for _, s := range []sender.Status{sender.StatusNone, sender.StatusPass, sender.StatusFail, sender.StatusTempError, sender.StatusPermError} {
		assert.Positive(t, byStatus[s], "no agreeing case with status %s", s)
	}
}
