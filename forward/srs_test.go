package forward

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectorDay is the UTC day on which the postsrsd vectors below were
// captured; its timestamp is "JR" (day 20785, 305 mod 1024).
var vectorDay = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTestSRS(t testing.TB, mod func(*Config)) *SRS {
	t.Helper()
	c := Config{
		Domain:  "fwd.example",
		Secrets: [][]byte{[]byte("tops3cret"), []byte("old")},
		Now:     fixedNow(vectorDay),
	}
	if mod != nil {
		mod(&c)
	}
	s, err := NewSRS(c)
	require.NoError(t, err)
	return s
}

// postsrsdVectors were produced by Debian's postsrsd 1.10 running on this
// project's CI machine on 2026-11-28 with the secrets file "tops3cret\nold\n"
// and -d fwd.example (see interop/srs_test.go, which checks the same
// against a live postsrsd every run).
var postsrsdVectors = []struct {
	name, sep string
	hashLen   int
	in, out   string
}{
	{"plain", "=", 4, "alice@sender.example", "SRS0=qtZ4=JR=sender.example=alice@fwd.example"},
	{"plain2", "=", 4, "user@example.com", "SRS0=P338=JR=example.com=user@fwd.example"},
	{"case kept, hash folded", "=", 4, "UsEr@EXAMPLE.com", "SRS0=P338=JR=EXAMPLE.com=UsEr@fwd.example"},
	{"space", "=", 4, "user x@example.com", "SRS0=mW2Z=JR=example.com=user x@fwd.example"},
	{"utf8", "=", 4, "mü@münchen.example", "SRS0=VkHb=JR=münchen.example=mü@fwd.example"},
	{"equals in user", "=", 4, "first.last=x@example.org", "SRS0=jRAk=JR=example.org=first.last=x@fwd.example"},
	{"literal", "=", 4, "user@[192.0.2.1]", "SRS0=ZXIk=JR=[192.0.2.1]=user@fwd.example"},
	{"trailing dot", "=", 4, "user@example.com.", "SRS0=10NF=JR=example.com.=user@fwd.example"},
	{"subdomain of ours", "=", 4, "user@sub.fwd.example", "SRS0=3BtO=JR=sub.fwd.example=user@fwd.example"},
	{"resplit source", "=", 4, "mvictim@target.co", "SRS0=V+9w=JR=target.co=mvictim@fwd.example"},
	{"bare SRS0", "=", 4, "SRS0@example.com", "SRS1=amGr=example.com=@fwd.example"},
	{"SRS0 to SRS1", "=", 4, "SRS0=abcd=AB=orig.example=bob@hop1.example", "SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example"},
	{"SRS0+ to SRS1", "=", 4, "SRS0+abcd=AB=orig.example=bob@hop1.example", "SRS1=Y3By=hop1.example=+abcd=AB=orig.example=bob@fwd.example"},
	{"SRS1 to SRS1", "=", 4, "SRS1=wxyz=hop1.example==abcd=AB=orig.example=bob@hop2.example", "SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example"},
	{"plus plain", "+", 4, "alice@sender.example", "SRS0+qtZ4=JR=sender.example=alice@fwd.example"},
	{"plus SRS0", "+", 4, "SRS0=abcd=AB=orig.example=bob@hop1.example", "SRS1+jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example"},
	{"plus SRS1", "+", 4, "SRS1=wxyz=hop1.example==abcd=AB=orig.example=bob@hop2.example", "SRS1+jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example"},
	{"minus n8", "-", 8, "alice@sender.example", "SRS0-qtZ4UMfm=JR=sender.example=alice@fwd.example"},
	{"minus n8 SRS0", "-", 8, "SRS0=abcd=AB=orig.example=bob@hop1.example", "SRS1-jAhFgQDh=hop1.example==abcd=AB=orig.example=bob@fwd.example"},
	{"minus n8 SRS0+", "-", 8, "SRS0+abcd=AB=orig.example=bob@hop1.example", "SRS1-Y3ByBMOu=hop1.example=+abcd=AB=orig.example=bob@fwd.example"},
}

func TestForwardPostsrsdVectors(t *testing.T) {
	t.Parallel()
	for _, v := range postsrsdVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSRS(t, func(c *Config) { c.Separator = v.sep[0]; c.HashLength = v.hashLen })
			got, err := s.Forward(v.in)
			require.NoError(t, err)
			assert.Equal(t, v.out, got)
			// And the way back: SRS0 to the sender, SRS1 to the first
			// hop's SRS0 address.
			back, err := s.Reverse(got)
			require.NoError(t, err)
			want := v.in
			if strings.HasPrefix(got, "SRS1") {
				a, err := Parse(got)
				require.NoError(t, err)
				want = "SRS0" + a.Opaque + "@" + a.FirstHop
			}
			assert.Equal(t, want, back)
		})
	}
}

func TestReversePostsrsdQuotedAt(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, nil)
	// postsrsd 1.10 minted this for "a@b"@example.com (split at the first
	// '@'); splitting at the last '@' we still reverse it correctly.
	got, err := s.Reverse(`SRS0=gD6l=JR=b"@example.com="a@fwd.example`)
	require.NoError(t, err)
	assert.Equal(t, `"a@b"@example.com`, got)
	// Ours splits at the last '@' and embeds the real domain.
	fwd, err := s.Forward(`"a@b"@example.com`)
	require.NoError(t, err)
	assert.Equal(t, `SRS0=SRnQ=JR=example.com="a@b"@fwd.example`, fwd)
	back, err := s.Reverse(fwd)
	require.NoError(t, err)
	assert.Equal(t, `"a@b"@example.com`, back)
	// Postfix's internal (unquoted) form.
	fwd, err = s.Forward("a@b@example.com")
	require.NoError(t, err)
	back, err = s.Reverse(fwd)
	require.NoError(t, err)
	assert.Equal(t, "a@b@example.com", back)
}

func TestForwardCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mod     func(*Config)
		in      string
		want    string // "" with wantErr
		wantErr error
	}{
		{name: "own domain unchanged", in: "user@fwd.example", want: "user@fwd.example"},
		{name: "own domain any case", in: "user@FWD.Example", want: "user@FWD.Example"},
		{name: "own domain trailing dot", in: "user@fwd.example.", want: "user@fwd.example."},
		{name: "own domain always rewrite", mod: func(c *Config) { c.AlwaysRewrite = true }, in: "user@fwd.example", want: "SRS0=6vrr=JR=fwd.example=user@fwd.example"},
		{name: "own U-label domain", mod: func(c *Config) { c.Domain = "bücher.example" }, in: "user@bücher.example", want: "user@bücher.example"},
		{name: "own domain as A-label", mod: func(c *Config) { c.Domain = "bücher.example" }, in: "user@XN--bcher-kva.example", want: "user@XN--bcher-kva.example"},
		{name: "no at", in: "user", wantErr: ErrNoAt},
		{name: "empty", in: "", wantErr: ErrNoAt},
		{name: "excluded exact", mod: func(c *Config) { c.ExcludeDomains = []string{"Example.NET"} }, in: "u@example.net", wantErr: ErrExcluded},
		{name: "excluded exact not sub", mod: func(c *Config) { c.ExcludeDomains = []string{"example.net"} }, in: "u@a.example.net", want: "SRS0=P8ff=JR=a.example.net=u@fwd.example"},
		{name: "excluded sub", mod: func(c *Config) { c.ExcludeDomains = []string{".example.com"} }, in: "u@a.B.example.com", wantErr: ErrExcluded},
		{name: "excluded sub not apex", mod: func(c *Config) { c.ExcludeDomains = []string{".example.com"} }, in: "u@example.com", want: "SRS0=iaSI=JR=example.com=u@fwd.example"},
		{name: "excluded U-label", mod: func(c *Config) { c.ExcludeDomains = []string{"xn--mnchen-3ya.example"} }, in: "u@münchen.example", wantErr: ErrExcluded},
		{name: "excluded not suffix of label", mod: func(c *Config) { c.ExcludeDomains = []string{"example.com"} }, in: "u@badexample.com", want: "SRS0=PnGF=JR=badexample.com=u@fwd.example"},
		{name: "already ours SRS0", in: "SRS0=P338=JR=example.com=user@elsewhere.example", wantErr: ErrAlreadyRewritten},
		{name: "already ours SRS0 lower case", in: "srs0=p338=jr=example.com=user@fwd.example", wantErr: ErrAlreadyRewritten},
		{name: "already ours SRS1", in: "SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example", wantErr: ErrAlreadyRewritten},
		{name: "our expired SRS0 at our domain", mod: func(c *Config) { c.Now = fixedNow(vectorDay.Add(30 * 24 * time.Hour)) }, in: "SRS0=P338=JR=example.com=user@fwd.example", want: "SRS0=P338=JR=example.com=user@fwd.example"},
		{name: "equals in domain", in: "a@b=c", wantErr: ErrBadSender},
		{name: "SRS1 opaque without separator", in: "SRS1=h=host=3g=x@hop2.example", want: "SRS0=V6PG=JR=hop2.example=SRS1=h=host=3g=x@fwd.example"},
		{name: "SRS1 missing host", in: "SRS1=abc@hop.example", want: "SRS0=49dH=JR=hop.example=SRS1=abc@fwd.example"},
		{name: "too long", in: strings.Repeat("a", 1000) + "@example.com", wantErr: ErrTooLong},
		{name: "local part limit", mod: func(c *Config) { c.LimitLocalPart = true }, in: strings.Repeat("a", 40) + "@example.com", wantErr: ErrLocalPartTooLong},
		{name: "local part limit edge", mod: func(c *Config) { c.LimitLocalPart = true }, in: strings.Repeat("a", 39) + "@example.com", want: "SRS0=AtQt=JR=example.com=" + strings.Repeat("a", 39) + "@fwd.example"},
		{name: "url-safe mint", mod: func(c *Config) { c.URLSafeHash = true }, in: "mvictim@target.co", want: "SRS0=V-9w=JR=target.co=mvictim@fwd.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSRS(t, tt.mod)
			got, err := s.Forward(tt.in)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "forward", e.Op)
				assert.Equal(t, tt.in, e.Address)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			if got != tt.in {
				back, err := s.Reverse(got)
				require.NoError(t, err)
				assert.Equal(t, tt.in, back)
			}
		})
	}
}

func TestForwardLengthBoundary(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, nil)
	// SRS0 adds "SRS0=" hash "=" TT "=" "=" "@" domain: 5+4+1+2+1+1+1+11 = 26
	// octets and loses the sender's '@'.
	host := "example.com"
	for _, n := range []int{MaxAddressLength - 26 - len(host), MaxAddressLength - 25 - len(host)} {
		local := strings.Repeat("x", n)
		out, err := s.Forward(local + "@" + host)
		if 26+len(host)+n <= MaxAddressLength {
			require.NoError(t, err)
			assert.Len(t, out, MaxAddressLength)
		} else {
			require.ErrorIs(t, err, ErrTooLong)
		}
	}
}

func TestReverseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr error
		field   string
	}{
		{"not SRS", "user@example.com", ErrNotSRS, ""},
		{"no separator", "SRS0xabcd=JR=h=u@x", ErrNotSRS, ""},
		{"SRS2", "SRS2=abcd=JR=h=u@x", ErrNotSRS, ""},
		{"bare SRS0", "SRS0@x", ErrNotSRS, ""},
		{"empty", "", ErrNotSRS, ""},
		{"SRS0 no hash", "SRS0=@x", ErrMalformed, FieldHash},
		{"SRS0 no timestamp", "SRS0=x", ErrMalformed, FieldTimestamp},
		{"SRS0 no host", "SRS0=h=JR", ErrMalformed, FieldHost},
		{"SRS0 no user", "SRS0=h=JR=host", ErrMalformed, FieldUser},
		{"SRS1 no hash", "SRS1=", ErrMalformed, FieldHash},
		{"SRS1 no host", "SRS1=h", ErrMalformed, FieldFirstHop},
		{"SRS1 no opaque", "SRS1=h=host@x", ErrMalformed, FieldOpaque},
		{"stamp too long", "SRS0=abcd=JRX=example.com=user@x", ErrBadTimestamp, FieldTimestamp},
		{"stamp bad char", "SRS0=ab=J1=example.com=user@x", ErrBadTimestamp, FieldTimestamp},
		{"stamp empty", "SRS0=abcd==example.com=user@x", ErrBadTimestamp, FieldTimestamp},
		{"expired", "SRS0=6QqU=ND=target.com=victim@x", ErrExpired, FieldTimestamp},
		{"tomorrow plus one", "SRS0=abcd=JT=example.com=user@x", ErrExpired, FieldTimestamp},
		{"empty hash", "SRS0==JR=h=u", ErrHashTooShort, FieldHash},
		{"short hash", "SRS0=P33=JR=example.com=user@fwd.example", ErrHashTooShort, FieldHash},
		{"wrong hash", "SRS0=P339=JR=example.com=user@fwd.example", ErrHashInvalid, FieldHash},
		{"tampered user", "SRS0=P338=JR=example.com=usen@fwd.example", ErrHashInvalid, FieldHash},
		{"tampered host", "SRS0=P338=JR=example.con=user@fwd.example", ErrHashInvalid, FieldHash},
		{"tampered stamp", "SRS0=P338=JQ=example.com=user@fwd.example", ErrHashInvalid, FieldHash},
		{"SRS1 wrong hash", "srs1=abcd=host==x@y", ErrHashInvalid, FieldHash},
		{"too long", "SRS0=P338=JR=example.com=" + strings.Repeat("u", 1024), ErrTooLong, ""},
	}
	s := newTestSRS(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Reverse(tt.in)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Empty(t, got)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "reverse", e.Op)
			assert.Equal(t, tt.field, e.Field)
			assert.Contains(t, err.Error(), "forward: reverse ")
		})
	}
}

func TestReverseAccepts(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, nil)
	tests := []struct{ name, in, want string }{
		{"exact", "SRS0=P338=JR=example.com=user@fwd.example", "user@example.com"},
		{"other domain ignored", "SRS0=P338=JR=example.com=user@other.example", "user@example.com"},
		{"local part alone", "SRS0=P338=JR=example.com=user", "user@example.com"},
		{"lower-cased by an MTA", "srs0=p338=jr=example.com=user@fwd.example", "user@example.com"},
		{"upper-cased by an MTA", "SRS0=P338=JR=EXAMPLE.COM=USER@FWD.EXAMPLE", "USER@EXAMPLE.COM"},
		{"other separator", "SRS0+P338=JR=example.com=user@fwd.example", "user@example.com"},
		{"longer hash truncated", "SRS0=P338xyz=JR=example.com=user@fwd.example", "user@example.com"},
		{"base64url", "SRS0=V-9w=JR=target.co=mvictim@fwd.example", "mvictim@target.co"},
		{"base64 std", "SRS0=V+9w=JR=target.co=mvictim@fwd.example", "mvictim@target.co"},
		{"old secret", "", ""}, // filled below
		{"SRS1", "SRS1=jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example", "SRS0=abcd=AB=orig.example=bob@hop1.example"},
		{"SRS1 plus inner", "SRS1=Y3By=hop1.example=+abcd=AB=orig.example=bob@x", "SRS0+abcd=AB=orig.example=bob@hop1.example"},
		{"SRS1 empty opaque", "SRS1=amGr=example.com=@fwd.example", "SRS0@example.com"},
	}
	old := newTestSRS(t, func(c *Config) { c.Secrets = [][]byte{[]byte("old")} })
	minted, err := old.Forward("user@example.com")
	require.NoError(t, err)
	tests[9].in, tests[9].want = minted, "user@example.com"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Reverse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTimestampWindow(t *testing.T) {
	t.Parallel()
	minter := newTestSRS(t, nil)
	addr, err := minter.Forward("user@example.com")
	require.NoError(t, err)
	day := 24 * time.Hour
	tests := []struct {
		name   string
		offset time.Duration // verifier's clock minus minting time
		maxAge time.Duration
		ok     bool
	}{
		{"same day", 0, 0, true},
		{"end of same day", 11*time.Hour + 59*time.Minute, 0, true},
		{"day 21", 21 * day, 0, true},
		{"day 22", 22 * day, 0, false},
		{"day 3 of max 2", 3 * day, 2 * day, false},
		{"day 2 of max 2", 2 * day, 2 * day, true},
		{"max age rounded down", 2 * day, 2*day + 23*time.Hour, true},
		{"minted tomorrow", -day, 0, true},
		{"minted in two days", -2 * day, 0, false},
		{"wrapped after 1024 days", 1024 * day, 0, true},
		{"1024 days and 22", (1024 + 22) * day, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSRS(t, func(c *Config) { c.Now = fixedNow(vectorDay.Add(tt.offset)); c.MaxAge = tt.maxAge })
			got, err := s.Reverse(addr)
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, "user@example.com", got)
			} else {
				require.ErrorIs(t, err, ErrExpired)
			}
		})
	}
}

func TestStampEncoding(t *testing.T) {
	t.Parallel()
	for day := int64(-2048); day < 4096; day++ {
		st := encodeStamp(day)
		v, ok := decodeStamp(string(st[:]))
		require.True(t, ok)
		require.Equal(t, int(day&1023), v)
		lower := strings.ToLower(string(st[:]))
		v2, ok := decodeStamp(lower)
		require.True(t, ok)
		require.Equal(t, v, v2)
	}
	assert.Equal(t, int64(20785), dayNumber(vectorDay))
	assert.Equal(t, int64(-1), dayNumber(time.Unix(-1, 0)))
	assert.Equal(t, [2]byte{'J', 'R'}, encodeStamp(20785))
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldOnly := newTestSRS(t, func(c *Config) { c.Secrets = [][]byte{[]byte("2025-secret")} })
	both := newTestSRS(t, func(c *Config) { c.Secrets = [][]byte{[]byte("2026-secret"), []byte("2025-secret")} })
	newOnly := newTestSRS(t, func(c *Config) { c.Secrets = [][]byte{[]byte("2026-secret")} })

	inFlight, err := oldOnly.Forward("user@example.com")
	require.NoError(t, err)
	fresh, err := both.Forward("user@example.com")
	require.NoError(t, err)
	assert.NotEqual(t, inFlight, fresh, "the first secret signs")

	for _, s := range []*SRS{both} {
		got, err := s.Reverse(inFlight)
		require.NoError(t, err)
		assert.Equal(t, "user@example.com", got)
	}
	got, err := newOnly.Reverse(fresh)
	require.NoError(t, err)
	assert.Equal(t, "user@example.com", got)
	_, err = newOnly.Reverse(inFlight)
	require.ErrorIs(t, err, ErrHashInvalid, "dropped secret no longer verifies")
	_, err = oldOnly.Reverse(fresh)
	require.ErrorIs(t, err, ErrHashInvalid)
}

func TestHashLengths(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, func(c *Config) { c.HashLength = 8; c.HashMinLength = 4 })
	addr, err := s.Forward("alice@sender.example")
	require.NoError(t, err)
	assert.Equal(t, "SRS0=qtZ4UMfm=JR=sender.example=alice@fwd.example", addr)
	for _, h := range []string{"qtZ4", "qtZ4U", "qtZ4UMfm", "QTZ4UMFM", "qtZ4UMfmXYZ"} {
		got, err := s.Reverse("SRS0=" + h + "=JR=sender.example=alice@fwd.example")
		require.NoError(t, err, h)
		assert.Equal(t, "alice@sender.example", got)
	}
	_, err = s.Reverse("SRS0=qtZ=JR=sender.example=alice@fwd.example")
	require.ErrorIs(t, err, ErrHashTooShort)
	_, err = s.Reverse("SRS0=qtZ4UMfx=JR=sender.example=alice@fwd.example")
	require.ErrorIs(t, err, ErrHashInvalid)
	// The longest hash is the whole digest.
	full := newTestSRS(t, func(c *Config) { c.HashLength = 27 })
	addr, err = full.Forward("alice@sender.example")
	require.NoError(t, err)
	a, err := Parse(addr)
	require.NoError(t, err)
	assert.Len(t, a.Hash, 27)
	_, err = full.Reverse(addr)
	require.NoError(t, err)
}

// TestStrictMAC shows the field-boundary weakness of compat mode with a
// vector minted by postsrsd 1.10, and that StrictMAC defeats it.
func TestStrictMAC(t *testing.T) {
	t.Parallel()
	compat := newTestSRS(t, nil)
	strict := newTestSRS(t, func(c *Config) { c.StrictMAC = true })

	// postsrsd minted this for a spoofed sender mvictim@target.co.
	minted := "SRS0=V+9w=JR=target.co=mvictim@fwd.example"
	resplits := []struct{ addr, to string }{
		{"SRS0=V+9w=JR=target.com=victim@fwd.example", "victim@target.com"},
		{"SRS0=V+9w=JR=targ=et.comvictim@fwd.example", "et.comvictim@targ"},
	}
	for _, r := range resplits {
		got, err := compat.Reverse(r.addr)
		require.NoError(t, err, "compat mode accepts a re-split of the same bytes")
		assert.Equal(t, r.to, got)
	}

	addr, err := strict.Forward("mvictim@target.co")
	require.NoError(t, err)
	a, err := Parse(addr)
	require.NoError(t, err)
	got, err := strict.Reverse(addr)
	require.NoError(t, err)
	assert.Equal(t, "mvictim@target.co", got)
	for _, forged := range []string{
		"SRS0=" + a.Hash + "=JR=target.com=victim@fwd.example",
		"SRS0=" + a.Hash + "=JR=targ=et.comvictim@fwd.example",
		"SRS1=" + a.Hash + "=JRtarget.co=mvictim@fwd.example",
	} {
		_, err := strict.Reverse(forged)
		require.ErrorIs(t, err, ErrHashInvalid, forged)
	}
	// The modes do not verify each other's addresses.
	_, err = strict.Reverse(minted)
	require.ErrorIs(t, err, ErrHashInvalid)
	_, err = compat.Reverse(addr)
	require.ErrorIs(t, err, ErrHashInvalid)

	// SRS1 in strict mode round-trips and resists the SRS0/SRS1 confusion.
	s1, err := strict.Forward("SRS0=abcd=AB=orig.example=bob@hop1.example")
	require.NoError(t, err)
	got, err = strict.Reverse(s1)
	require.NoError(t, err)
	assert.Equal(t, "SRS0=abcd=AB=orig.example=bob@hop1.example", got)
}

func TestNewSRSConfig(t *testing.T) {
	t.Parallel()
	ok := Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("k")}}
	tests := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"zero config", func(c *Config) { *c = Config{} }, "Domain"},
		{"no secrets", func(c *Config) { c.Secrets = nil }, "Secrets"},
		{"empty secret", func(c *Config) { c.Secrets = [][]byte{[]byte("a"), {}} }, "Secrets"},
		{"bad domain", func(c *Config) { c.Domain = "a..b" }, "Domain"},
		{"root domain", func(c *Config) { c.Domain = "." }, "Domain"},
		{"user@domain", func(c *Config) { c.Domain = "srs@fwd.example" }, "Domain"},
		{"underscore", func(c *Config) { c.Domain = "_srs.fwd.example" }, "Domain"},
		{"bad separator", func(c *Config) { c.Separator = '_' }, "Separator"},
		{"hash too long", func(c *Config) { c.HashLength = 28 }, "HashLength"},
		{"hash negative", func(c *Config) { c.HashLength = -1 }, "HashLength"},
		{"min above length", func(c *Config) { c.HashMinLength = 5 }, "HashMinLength"},
		{"min negative", func(c *Config) { c.HashMinLength = -1 }, "HashMinLength"},
		{"max age under a day", func(c *Config) { c.MaxAge = time.Hour }, "MaxAge"},
		{"max age negative", func(c *Config) { c.MaxAge = -24 * time.Hour }, "MaxAge"},
		{"max age too long", func(c *Config) { c.MaxAge = 1001 * 24 * time.Hour }, "MaxAge"},
		{"bad exclude", func(c *Config) { c.ExcludeDomains = []string{"."} }, "ExcludeDomains"},
		{"empty exclude", func(c *Config) { c.ExcludeDomains = []string{""} }, "ExcludeDomains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tt.mod(&c)
			s, err := NewSRS(c)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, s)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
		})
	}

	s, err := NewSRS(Config{Domain: "Bücher.Example.", Secrets: [][]byte{[]byte("k")}})
	require.NoError(t, err)
	assert.Equal(t, "xn--bcher-kva.example", s.Domain())
	assert.Equal(t, 4, s.hashLen)
	assert.Equal(t, 4, s.hashMin)
	assert.Equal(t, 21, s.maxAgeDays)
	assert.Equal(t, byte('='), s.sep)
}

func TestSecretsCopied(t *testing.T) {
	t.Parallel()
	key := []byte("tops3cret")
	s := newTestSRS(t, func(c *Config) { c.Secrets = [][]byte{key} })
	copy(key, "XXXXXXXXX")
	got, err := s.Forward("user@example.com")
	require.NoError(t, err)
	assert.Equal(t, "SRS0=P338=JR=example.com=user@fwd.example", got)
}

func TestFoldHashByte(t *testing.T) {
	t.Parallel()
	for c := 0; c < 256; c++ {
		want := byte(c)
		switch {
		case 'A' <= c && c <= 'Z':
			want = byte(c) + 32
		case c == '-':
			want = '+'
		case c == '_':
			want = '/'
		}
		require.Equal(t, want, foldHashByte(byte(c)), "byte %#x", c)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, func(c *Config) { c.Secrets = [][]byte{[]byte("a"), []byte("b"), []byte("c")} })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				sender := "user" + string(rune('a'+g)) + "@example.com"
				out, err := s.Forward(sender)
				if err != nil {
					errs <- err
					return
				}
				back, err := s.Reverse(out)
				if err != nil || back != sender {
					errs <- errors.Join(err, errors.New("round trip of "+sender+" gave "+back))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	s := newTestSRS(t, nil)
	addr, err := s.Forward("alice@sender.example")
	require.NoError(t, err)
	// Warm the pool.
	_, _ = s.Reverse(addr)
	fwd := testing.AllocsPerRun(200, func() { _, _ = s.Forward("alice@sender.example") })
	rev := testing.AllocsPerRun(200, func() { _, _ = s.Reverse(addr) })
	assert.LessOrEqual(t, fwd, 2.0, "Forward allocations")
	assert.LessOrEqual(t, rev, 2.0, "Reverse allocations")
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, nil)
	_, err := s.Reverse("SRS0=h=JR\x00")
	require.Error(t, err)
	assert.Equal(t, `forward: reverse "SRS0=h=JR\x00": malformed SRS address (host)`, err.Error())
	_, err = s.Forward(strings.Repeat("a", 300) + "@example.com")
	require.NoError(t, err)
	_, err = NewSRS(Config{Domain: "fwd.example"})
	assert.Equal(t, "forward: invalid config: Secrets: at least one secret is required", err.Error())
}

func TestSystemClock(t *testing.T) {
	t.Parallel()
	s := newTestSRS(t, func(c *Config) { c.Now = nil })
	require.NotNil(t, s.sys)
	for range 3 {
		if got := s.day(); got == dayNumber(time.Now()) {
			break
		}
		time.Sleep(10 * time.Millisecond) // crossed midnight UTC: try again
	}
	assert.Equal(t, dayNumber(time.Now()), s.day())

	var c sysDay
	noon := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, sysDayRefresh, c.refresh(noon))
	assert.Equal(t, int64(20785), c.day.Load())
	assert.Equal(t, 30*time.Second, c.refresh(time.Date(2026, 11, 28, 23, 59, 30, 0, time.UTC)))
	assert.Equal(t, time.Millisecond, c.refresh(time.Date(2026, 11, 28, 23, 59, 59, 999999999, time.UTC)))
	assert.Equal(t, sysDayRefresh, c.refresh(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, int64(20786), c.day.Load())
	// Negative times round down.
	c.refresh(time.Unix(-1, 0))
	assert.Equal(t, int64(-1), c.day.Load())

	// An injected clock needs no timer.
	assert.Nil(t, newTestSRS(t, nil).sys)
}

// TestSystemClockTimerStops checks that the refresh timer of an SRS that
// is no longer referenced is stopped.
func TestSystemClockTimerStops(t *testing.T) {
	t.Parallel()
	s, err := NewSRS(Config{Domain: "fwd.example", Secrets: [][]byte{[]byte("k")}})
	require.NoError(t, err)
	c := s.sys
	_, err = s.Forward("user@example.com")
	require.NoError(t, err)
	s = nil
	_ = s
	deadline := time.Now().Add(10 * time.Second)
	for !c.isStopped() {
		require.True(t, time.Now().Before(deadline), "timer not stopped after the SRS became garbage")
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLowerInPlace(t *testing.T) {
	t.Parallel()
	// Every octet, at every offset of an eight-octet word, with and
	// without slack capacity, against the C locale's tolower.
	for off := 0; off < 9; off++ {
		for _, slack := range []int{0, 8} {
			in := []byte(strings.Repeat("Q", off))
			for i := 0; i < 256; i++ {
				in = append(in, byte(i))
			}
			p := make([]byte, len(in), len(in)+slack)
			copy(p, in)
			lowerInPlace(p)
			for i, c := range in {
				want := c
				if 'A' <= c && c <= 'Z' {
					want = c + 'a' - 'A'
				}
				require.Equal(t, want, p[i], "offset %d octet %#x slack %d", off, c, slack)
			}
		}
	}
	assert.Equal(t, []byte("jrmÜnchen.exampleÜser\xff"), appendMACInput(nil, false, SRS0, "JR", "MÜNCHEN.example", "Üser\xff"))
	// Appended after what dst holds, which is not lower-cased.
	assert.Equal(t, []byte("KEEPjrab"), appendMACInput([]byte("KEEP"), false, SRS0, "JR", "A", "B"))
	// Strict mode: tag, then lengths, which must not be lower-cased
	// (0x41 is 'A').
	long := strings.Repeat("B", 0x41)
	assert.Equal(t, "SRS0\x00\x02jr\x00\x41"+strings.Repeat("b", 0x41)+"\x00\x01u",
		string(appendMACInput(nil, true, SRS0, "JR", long, "U")))
	assert.Equal(t, "SRS1\x00\x01h\x00\x02=x", string(appendMACInput(nil, true, SRS1, "H", "=X", "ignored")))
}

func TestIsASCII(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", "example.com", "0123456789abcdefg", strings.Repeat("x", 33)} {
		assert.True(t, isASCII(s), s)
		for i := range len(s) {
			b := []byte(s)
			b[i] = 0x80 | b[i]
			assert.False(t, isASCII(string(b)), "%q", b)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		want     Address
		original string // "" when Original reports false
	}{
		{"SRS0", "SRS0=P338=JR=example.com=user@fwd.example",
			Address{Kind: SRS0, Separator: '=', Hash: "P338", Timestamp: "JR", Host: "example.com", User: "user", Domain: "fwd.example"}, "user@example.com"},
		{"SRS0 user with =", "srs0-h=jr=example.org=first.last=x",
			Address{Kind: SRS0, Separator: '-', Hash: "h", Timestamp: "jr", Host: "example.org", User: "first.last=x"}, "first.last=x@example.org"},
		{"SRS0 quoted @", `SRS0=h=JR=example.com="a@b"@fwd.example`,
			Address{Kind: SRS0, Separator: '=', Hash: "h", Timestamp: "JR", Host: "example.com", User: `"a@b"`, Domain: "fwd.example"}, `"a@b"@example.com`},
		{"SRS1", "SRS1+jAhF=hop1.example==abcd=AB=orig.example=bob@fwd.example",
			Address{Kind: SRS1, Separator: '+', Hash: "jAhF", FirstHop: "hop1.example", Opaque: "=abcd=AB=orig.example=bob", Domain: "fwd.example"}, "bob@orig.example"},
		{"SRS1 opaque not SRS0", "SRS1=h=host=3g=x@hop2.example",
			Address{Kind: SRS1, Separator: '=', Hash: "h", FirstHop: "host", Opaque: "3g=x", Domain: "hop2.example"}, ""},
		{"SRS1 empty fields", "SRS1===@",
			Address{Kind: SRS1, Separator: '='}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, a)
			orig, ok := a.Original()
			assert.Equal(t, tt.original != "", ok)
			assert.Equal(t, tt.original, orig)
		})
	}
	_, err := Parse(strings.Repeat("x", MaxAddressLength+1))
	require.ErrorIs(t, err, ErrTooLong)
	_, err = Parse("SRS0=h=XX1=h=u")
	require.ErrorIs(t, err, ErrBadTimestamp)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "parse", e.Op)
	assert.Equal(t, "SRS0", SRS0.String())
	assert.Equal(t, "SRS1", SRS1.String())
	assert.Equal(t, "Kind(12)", Kind(12).String())
	orig, ok := Address{Kind: 7}.Original()
	assert.False(t, ok)
	assert.Empty(t, orig)
}
