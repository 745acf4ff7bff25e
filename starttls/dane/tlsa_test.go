package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	digest256 = strings.Repeat("ab", 32)
	digest512 = strings.Repeat("cd", 64)
)

func TestParseTLSA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       string // String() of the result, "" for a syntax error
		usable     bool
	}{
		{"DANE-EE SPKI SHA-256", "3 1 1 " + digest256, "3 1 1 " + digest256, true},
		{"upper-case hex split", "3 1 1 " + strings.ToUpper(digest256[:20]) + " " + digest256[20:], "3 1 1 " + digest256, true},
		{"tabs and newline", "2\t0\t2\n" + digest512, "2 0 2 " + digest512, true},
		{"DANE-TA full", "2 0 0 3082", "2 0 0 3082", true},
		{"PKIX-TA", "0 0 1 " + digest256, "0 0 1 " + digest256, false},
		{"PKIX-EE", "1 1 1 " + digest256, "1 1 1 " + digest256, false},
		{"unknown usage", "4 1 1 " + digest256, "4 1 1 " + digest256, false},
		{"unknown selector", "3 2 1 " + digest256, "3 2 1 " + digest256, false},
		{"unknown matching type", "3 1 3 " + digest256, "3 1 3 " + digest256, false},
		{"short SHA-256", "3 1 1 " + digest256[:62], "3 1 1 " + digest256[:62], false},
		{"SHA-512 length for SHA-256", "3 1 1 " + digest512, "3 1 1 " + digest512, false},
		{"long SHA-512", "3 1 2 " + digest512 + "00", "3 1 2 " + digest512 + "00", false},
		{"too few fields", "3 1 1", "", false},
		{"field above 255", "256 1 1 " + digest256, "", false},
		{"negative field", "-1 1 1 " + digest256, "", false},
		{"mnemonic", "DANE-EE 1 1 " + digest256, "", false},
		{"odd hex", "3 1 1 abc", "", false},
		{"not hex", "3 1 1 zz", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseTLSA(tt.text)
			if tt.want == "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrTLSASyntax)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.String())
			assert.Equal(t, tt.usable, r.Usable())
			if !tt.usable {
				assert.ErrorIs(t, r.Check(), ErrUnusable)
			}
			// Through miekg/dns and back.
			rr := r.RR("_25._tcp.mx.example.test", 300)
			parsed, err := dns.NewRR(rr.String())
			require.NoError(t, err)
			r2, err := FromRR(parsed.(*dns.TLSA))
			require.NoError(t, err)
			assert.Equal(t, r, r2)
		})
	}
}

func TestFromRRBadHex(t *testing.T) {
	t.Parallel()
	_, err := FromRR(&dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Certificate: "xyz"})
	assert.ErrorIs(t, err, ErrTLSASyntax)
}

func TestMatches(t *testing.T) {
	t.Parallel()
	leaf := newCA(t).Leaf("mx.example.test").Cert
	spki256 := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	cert512 := sha512.Sum512(leaf.Raw)
	for _, tt := range []struct {
		name string
		r    TLSA
		want bool
	}{
		{"3 1 1", TLSA{DANEEE, SPKI, SHA256, spki256[:]}, true},
		{"3 0 2", TLSA{DANEEE, Cert, SHA512, cert512[:]}, true},
		{"3 0 0", TLSA{DANEEE, Cert, Full, leaf.Raw}, true},
		{"3 1 0", TLSA{DANEEE, SPKI, Full, leaf.RawSubjectPublicKeyInfo}, true},
		{"selector mismatch", TLSA{DANEEE, Cert, SHA256, spki256[:]}, false},
		{"one bit off", TLSA{DANEEE, SPKI, SHA256, append(spki256[:31:31], spki256[31]^1)}, false},
		{"unknown matching type", TLSA{DANEEE, SPKI, 7, spki256[:]}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.r.Matches(leaf))
		})
	}
}

func FuzzParseTLSA(f *testing.F) {
	for _, s := range []string{"3 1 1 " + digest256, "2 0 0 30 82", "0 0 1 00", "3 1 1", "255 255 255 ff", "3 1 1 " + digest512} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTLSA(s)
		if err != nil {
			return
		}
		if len(r.Data) == 0 || len(r.Data) > MaxDataSize {
			t.Fatalf("data length %d accepted", len(r.Data))
		}
		// Round trip through the canonical form.
		r2, err := ParseTLSA(r.String())
		if err != nil || r2.String() != r.String() {
			t.Fatalf("round trip of %q: %v", r.String(), err)
		}
		// Usable agrees with the RFC 7672 §3.1 rules.
		want := (r.Usage == 2 || r.Usage == 3) && r.Selector <= 1 &&
			(r.MatchingType == 0 || r.MatchingType == 1 && len(r.Data) == 32 || r.MatchingType == 2 && len(r.Data) == 64)
		if r.Usable() != want {
			t.Fatalf("Usable(%s) = %v", r, r.Usable())
		}
		if hex.EncodeToString(r.Data) != strings.Fields(r.String())[3] {
			t.Fatal("String does not carry the data")
		}
	})
}
