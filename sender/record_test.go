package sender_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/sender"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		txt  string
		want *sender.Record
		err  error
	}{
		// RFC 7489 Appendix B.2.1: entry-level monitoring.
		{"B.2.1 monitor", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
			&sender.Record{Policy: sender.PolicyNone, AggregateURIs: []sender.ReportURI{{URI: "mailto:dmarc-feedback@example.com"}}}, nil},
		// B.2.3: per-message failure reports directed to a third party.
		{"B.2.3 third-party ruf", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net",
			&sender.Record{Policy: sender.PolicyNone,
				AggregateURIs: []sender.ReportURI{{URI: "mailto:dmarc-feedback@example.com"}},
				FailureURIs:   []sender.ReportURI{{URI: "mailto:auth-reports@thirdparty.example.net"}}}, nil},
		// B.2.4: subdomain, sampling and multiple aggregate URIs, folded
		// as the RFC prints it.
		{"B.2.4 sampling", "v=DMARC1; p=quarantine;\r\n rua=mailto:dmarc-feedback@example.com,\r\n mailto:tld-test@thirdparty.example.net!10m;\r\n pct=25",
			&sender.Record{Policy: sender.PolicyQuarantine, Percent: 25, HasPercent: true,
				AggregateURIs: []sender.ReportURI{{URI: "mailto:dmarc-feedback@example.com"}, {URI: "mailto:tld-test@thirdparty.example.net", MaxSize: 10, Unit: 'm'}}}, nil},
		{"all tags", "v=DMARC1;p=reject;sp=quarantine;np=reject;adkim=s;aspf=r;pct=0;fo=1:d;rf=afrf;ri=3600;rua=mailto:a@example.com!5;ruf=mailto:b@example.com;psd=n;t=y",
			&sender.Record{Policy: sender.PolicyReject, SubdomainPolicy: sender.PolicyQuarantine, NonexistentPolicy: sender.PolicyReject,
				DKIMAlignment: sender.AlignStrict, SPFAlignment: sender.AlignRelaxed, Percent: 0, HasPercent: true,
				FailureOptions: []string{"1", "d"}, ReportFormats: []string{"afrf"}, ReportInterval: 3600,
				AggregateURIs: []sender.ReportURI{{URI: "mailto:a@example.com", MaxSize: 5}},
				FailureURIs:   []sender.ReportURI{{URI: "mailto:b@example.com"}}, PSD: sender.PSDNo, Testing: true}, nil},
		{"spaces and case", "  V = DMARC1 ;  P = Reject ; SP=NONE;  ", &sender.Record{Policy: sender.PolicyReject, SubdomainPolicy: sender.PolicyNone}, nil},
		{"unknown tags ignored", "v=DMARC1; p=reject; future=yes; x-tag=1", &sender.Record{Policy: sender.PolicyReject}, nil},
		{"invalid p with rua is none", "v=DMARC1; p=bogus; rua=mailto:a@example.com",
			&sender.Record{Policy: sender.PolicyNone, PolicyDefaulted: true, AggregateURIs: []sender.ReportURI{{URI: "mailto:a@example.com"}}}, nil},
		{"missing p with rua is none", "v=DMARC1; rua=mailto:a@example.com",
			&sender.Record{Policy: sender.PolicyNone, PolicyDefaulted: true, AggregateURIs: []sender.ReportURI{{URI: "mailto:a@example.com"}}}, nil},
		{"invalid sp with rua is none", "v=DMARC1; p=reject; sp=maybe; rua=mailto:a@example.com",
			&sender.Record{Policy: sender.PolicyNone, PolicyDefaulted: true, AggregateURIs: []sender.ReportURI{{URI: "mailto:a@example.com"}}}, nil},
		{"invalid p without rua", "v=DMARC1; p=bogus", nil, sender.ErrNoPolicy},
		{"invalid p with bad rua", "v=DMARC1; p=bogus; rua=not a uri", nil, sender.ErrNoPolicy},
		{"no p", "v=DMARC1", nil, sender.ErrNoPolicy},
		{"v not first", "p=reject; v=DMARC1", nil, sender.ErrNotDMARC},
		{"v lower-case value", "v=dmarc1; p=reject", nil, sender.ErrNotDMARC},
		{"other version", "v=DMARC2; p=reject", nil, sender.ErrNotDMARC},
		{"spf record", "v=spf1 -all", nil, sender.ErrNotDMARC},
		{"empty", "", nil, sender.ErrNotDMARC},
		{"duplicate tag", "v=DMARC1; p=reject; p=none", nil, sender.ErrDuplicateTag},
		{"pct too big", "v=DMARC1; p=reject; pct=101", nil, sender.ErrSyntax},
		{"pct negative", "v=DMARC1; p=reject; pct=-1", nil, sender.ErrSyntax},
		{"pct plus", "v=DMARC1; p=reject; pct=+5", nil, sender.ErrSyntax},
		{"bad adkim", "v=DMARC1; p=reject; adkim=x", nil, sender.ErrSyntax},
		{"bad fo", "v=DMARC1; p=reject; fo=2", nil, sender.ErrSyntax},
		{"bad psd", "v=DMARC1; p=reject; psd=maybe", nil, sender.ErrSyntax},
		{"tag without value", "v=DMARC1; p=reject; adkim", nil, sender.ErrSyntax},
		{"too long", "v=DMARC1; p=reject; x=" + strings.Repeat("a", 70000), nil, sender.ErrRecordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sender.ParseRecord(tt.txt)
			if tt.err != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.err)
				assert.Nil(t, got)
				assert.Contains(t, err.Error(), "sender: ")
				if !errors.Is(err, sender.ErrNotDMARC) {
					var se *sender.SyntaxError
					require.ErrorAs(t, err, &se)
					assert.Equal(t, tt.txt, se.Record)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			// The canonical form parses back to the same record.
			again, err := sender.ParseRecord(got.String())
			require.NoError(t, err, got.String())
			want := *got
			want.PolicyDefaulted = false
			assert.Equal(t, &want, again)
		})
	}
}

func TestRecordDefaults(t *testing.T) {
	t.Parallel()
	r, err := sender.ParseRecord("v=DMARC1; p=none")
	require.NoError(t, err)
	assert.Equal(t, sender.AlignRelaxed, r.EffectiveDKIMAlignment())
	assert.Equal(t, sender.AlignRelaxed, r.EffectiveSPFAlignment())
	assert.Equal(t, 100, r.EffectivePercent())
	assert.Equal(t, sender.PSDUnknown, r.EffectivePSD())
	assert.Equal(t, "v=DMARC1; p=none", r.String())
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
		"v=DMARC1; p=quarantine; rua=mailto:a@example.com,mailto:b@example.net!10m; pct=25",
		"v=DMARC1;p=reject;sp=quarantine;np=reject;adkim=s;aspf=r;pct=0;fo=1:d;rf=afrf;ri=3600;psd=n;t=y",
		"v=DMARC1; p=bogus; rua=mailto:a@example.com",
		"v=DMARC1; p=reject; x=y; ;;",
		"v=spf1 -all",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := sender.ParseRecord(s)
		if err != nil {
			require.Nil(t, r)
			var se *sender.SyntaxError
			require.True(t, errors.Is(err, sender.ErrNotDMARC) || errors.As(err, &se), "%v", err)
			return
		}
		// Invariants of a parsed record.
		require.Contains(t, []sender.Policy{sender.PolicyNone, sender.PolicyQuarantine, sender.PolicyReject}, r.Policy)
		require.True(t, r.EffectivePercent() >= 0 && r.EffectivePercent() <= 100)
		if r.PolicyDefaulted {
			require.NotEmpty(t, r.AggregateURIs)
		}
		// Round trip through the canonical form.
		again, err := sender.ParseRecord(r.String())
		require.NoError(t, err, "%q -> %q", s, r.String())
		want := *r
		want.PolicyDefaulted = false
		require.Equal(t, &want, again)
	})
}
