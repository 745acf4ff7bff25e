package requiretls

import (
	"fmt"
	"testing"

	"github.com/smtpsec/smtpsec/starttls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verif is one way a certificate can have been checked, as the matrix rows
// name it.
type verif struct {
	name  string
	auth  starttls.Authentication
	level starttls.Level
}

var verifs = []verif{
	{"none", starttls.Unauthenticated, starttls.Encrypt},
	{"fingerprint", starttls.AuthFingerprint, starttls.Fingerprint},
	{"pkix-no-mta-sts", starttls.AuthPKIX, starttls.Verify},
	{"mta-sts-pkix", starttls.AuthPKIX, starttls.MTASTS},
	{"dane-ee", starttls.AuthDANEEE, starttls.DANE},
	{"dane-ta", starttls.AuthDANETA, starttls.DANEOnly},
}

var mxAuths = []MXAuth{MXUnauthenticated, MXDNSSEC, MXMTASTS, MXImplicit}

// TestGateMatrix runs every cell of hop facts × message tag. The expected
// outcome of each REQUIRETLS cell is written out literally below (which
// cells send, which bounce with 5.7.30), not computed by the code under test.
func TestGateMatrix(t *testing.T) {
	t.Parallel()
	// The cells in which a REQUIRETLS message goes, with the parameter:
	// TLS, DANE or MTA-STS PKIX, an authenticated MX name, the keyword.
	sends := map[string]bool{
		"tls/mta-sts-pkix/dnssec/kw": true, "tls/mta-sts-pkix/mta-sts/kw": true, "tls/mta-sts-pkix/implicit/kw": true,
		"tls/dane-ee/dnssec/kw": true, "tls/dane-ee/mta-sts/kw": true, "tls/dane-ee/implicit/kw": true,
		"tls/dane-ta/dnssec/kw": true, "tls/dane-ta/mta-sts/kw": true, "tls/dane-ta/implicit/kw": true,
	}
	// The cells that met every requirement but the keyword: 5.7.30.
	needsKeyword := map[string]bool{
		"tls/mta-sts-pkix/dnssec/no-kw": true, "tls/mta-sts-pkix/mta-sts/no-kw": true, "tls/mta-sts-pkix/implicit/no-kw": true,
		"tls/dane-ee/dnssec/no-kw": true, "tls/dane-ee/mta-sts/no-kw": true, "tls/dane-ee/implicit/no-kw": true,
		"tls/dane-ta/dnssec/no-kw": true, "tls/dane-ta/mta-sts/no-kw": true, "tls/dane-ta/implicit/no-kw": true,
	}
	cells := 0
	for _, tlsOn := range []bool{false, true} {
		for _, v := range verifs {
			for _, mx := range mxAuths {
				for _, kw := range []bool{false, true} {
					hop := Hop{TLS: tlsOn, Auth: v.auth, Level: v.level, MX: mx, RequireTLS: kw}
					name := fmt.Sprintf("%s/%s/%s/%s", map[bool]string{false: "plain", true: "tls"}[tlsOn], v.name, mx,
						map[bool]string{false: "no-kw", true: "kw"}[kw])
					for _, tag := range []Tag{TagRequireTLS, TagTLSRequiredNo, TagNone} {
						cells++
						t.Run(tag.String()+"/"+name, func(t *testing.T) {
							t.Parallel()
							d := CheckHop(tag, hop)
							if tag != TagRequireTLS {
								assert.True(t, d.Send(), "only REQUIRETLS messages are held back by the gate")
								assert.False(t, d.RequireTLS(), "REQUIRETLS only for REQUIRETLS messages")
								assert.Equal(t, FailNone, d.Failure())
								return
							}
							switch {
							case sends[name]:
								assert.True(t, d.Send())
								assert.True(t, d.RequireTLS())
								assert.Equal(t, FailNone, d.Failure())
								assert.Zero(t, d.Reply())
							case needsKeyword[name]:
								assert.False(t, d.Send())
								assert.False(t, d.RequireTLS())
								assert.Equal(t, FailNoExtension, d.Failure())
								assert.Equal(t, "550 5.7.30 REQUIRETLS support required\r\n", d.Reply().String())
							default:
								assert.False(t, d.Send())
								assert.False(t, d.RequireTLS())
								r := d.Reply()
								assert.Equal(t, 550, r.Code)
								assert.Equal(t, "7.10", r.Enhanced.String())
								switch {
								case !tlsOn:
									assert.Equal(t, FailNoTLS, d.Failure())
								case v.name == "none" || v.name == "fingerprint" || v.name == "pkix-no-mta-sts":
									assert.Equal(t, FailUnverified, d.Failure())
								default:
									assert.Equal(t, FailMXName, d.Failure())
									assert.Equal(t, MXUnauthenticated, mx)
								}
							}
						})
					}
				}
			}
		}
	}
	require.Equal(t, 2*len(verifs)*len(mxAuths)*2*3, cells)
}

func TestGateInvalidTagIsStrict(t *testing.T) {
	t.Parallel()
	d := CheckHop(Tag("garbage"), Hop{})
	assert.False(t, d.Send())
	assert.Equal(t, FailNoTLS, d.Failure())
}

func TestZeroDecisionAllowsNothing(t *testing.T) {
	t.Parallel()
	var d Decision
	assert.False(t, d.Send())
	assert.False(t, d.RequireTLS())
	_, err := d.MailFrom("a@example.test", nil)
	require.ErrorIs(t, err, ErrRefused)
	assert.Equal(t, "7.10", d.Reply().Enhanced.String())
}

func TestMailFromLine(t *testing.T) {
	t.Parallel()
	good := Hop{TLS: true, Auth: starttls.AuthDANEEE, Level: starttls.DANE, MX: MXDNSSEC, RequireTLS: true}
	tests := []struct {
		name    string
		tag     Tag
		hop     Hop
		path    string
		params  []Param
		want    string
		wantErr error
	}{
		{name: "requiretls on a qualified hop", tag: TagRequireTLS, hop: good, path: "alice@example.test",
			params: []Param{{Keyword: "SIZE", Value: "100", HasValue: true}},
			want:   "MAIL FROM:<alice@example.test> SIZE=100 REQUIRETLS\r\n"},
		{name: "untagged message on the same hop", tag: TagNone, hop: good, path: "alice@example.test",
			want: "MAIL FROM:<alice@example.test>\r\n"},
		{name: "TLS-Required No on plaintext", tag: TagTLSRequiredNo, hop: Hop{}, path: "",
			want: "MAIL FROM:<>\r\n"},
		{name: "requiretls on plaintext", tag: TagRequireTLS, hop: Hop{RequireTLS: true}, path: "alice@example.test",
			wantErr: ErrRefused},
		{name: "caller smuggles the parameter", tag: TagNone, hop: good, path: "alice@example.test",
			params: []Param{{Keyword: "requiretls"}}, wantErr: ErrReservedParam},
		{name: "line injection in the path", tag: TagNone, hop: good, path: "a@example.test> REQUIRETLS\r\nRSET",
			wantErr: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			line, err := CheckHop(tt.tag, tt.hop).MailFrom(tt.path, tt.params)
			if tt.want == "" {
				require.Error(t, err)
				if tt.wantErr != nil {
					assert.ErrorIs(t, err, tt.wantErr)
				}
				assert.Empty(t, line)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, line)
		})
	}
}

func TestExhausted(t *testing.T) {
	t.Parallel()
	noTLS := CheckHop(TagRequireTLS, Hop{})
	noKW := CheckHop(TagRequireTLS, Hop{TLS: true, Auth: starttls.AuthDANETA, MX: MXDNSSEC})
	pkix := CheckHop(TagRequireTLS, Hop{TLS: true, Auth: starttls.AuthPKIX, Level: starttls.Verify, MX: MXDNSSEC, RequireTLS: true})
	assert.Equal(t, "7.10", Exhausted().Enhanced.String())
	assert.Equal(t, "7.10", Exhausted(noTLS, pkix).Enhanced.String())
	assert.Contains(t, Exhausted(noTLS, pkix).Text, "no TLS")
	assert.Equal(t, "7.30", Exhausted(noTLS, noKW, pkix).Enhanced.String())
	assert.True(t, Exhausted(noKW).Permanent())
}

func TestRepliesAreFresh(t *testing.T) {
	t.Parallel()
	a := ReplySupportRequired()
	a.Text = "changed"
	assert.Equal(t, "REQUIRETLS support required", ReplySupportRequired().Text)
}

func TestRelax(t *testing.T) {
	t.Parallel()
	for _, l := range []starttls.Level{starttls.Verify, starttls.May, starttls.Encrypt, starttls.Fingerprint,
		starttls.DANE, starttls.DANEOnly, starttls.MTASTS} {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			p := &starttls.Policy{Level: l, Names: []string{"mx.example.test"}, Pins: []starttls.Pin{{1}},
				MinVersion: 0x0304, Verifier: starttls.VerifierFunc(nil), SNI: "x.example.test"}
			r := Relax(p)
			assert.Equal(t, starttls.May, r.Level)
			assert.Nil(t, r.Verifier)
			assert.Empty(t, r.Pins)
			assert.Empty(t, r.SNI)
			assert.Equal(t, uint16(0x0304), r.MinVersion)
			assert.Equal(t, l, p.Level, "the input is not modified")
		})
	}
	assert.Equal(t, starttls.None, Relax(&starttls.Policy{Level: starttls.None}).Level)
	assert.Equal(t, starttls.May, Relax(nil).Level)
}

func BenchmarkCheckHop(b *testing.B) {
	b.ReportAllocs()
	hop := Hop{TLS: true, Auth: starttls.AuthDANEEE, Level: starttls.DANE, MX: MXDNSSEC, RequireTLS: true}
	for b.Loop() {
		if d := CheckHop(TagRequireTLS, hop); !d.Send() {
			b.Fatal("refused")
		}
	}
}

func BenchmarkMailFrom(b *testing.B) {
	b.ReportAllocs()
	d := CheckHop(TagRequireTLS, Hop{TLS: true, Auth: starttls.AuthDANEEE, Level: starttls.DANE, MX: MXDNSSEC, RequireTLS: true})
	params := []Param{{Keyword: "SIZE", Value: "12345", HasValue: true}}
	for b.Loop() {
		if _, err := d.MailFrom("alice@example.test", params); err != nil {
			b.Fatal(err)
		}
	}
}
