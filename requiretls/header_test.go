package requiretls

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		fields  int
		no      bool
		ignored []string
	}{
		{name: "absent", raw: "From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n"},
		{name: "plain", raw: "TLS-Required: No\r\n\r\n", fields: 1, no: true},
		{name: "lower case value and name", raw: "tls-required: no\r\n\r\n", fields: 1, no: true},
		{name: "upper case", raw: "TLS-REQUIRED: NO\r\n\r\n", fields: 1, no: true},
		{name: "no space", raw: "TLS-Required:No\r\n\r\n", fields: 1, no: true},
		{name: "tabs and trailing space", raw: "TLS-Required:\t No \t\r\n\r\n", fields: 1, no: true},
		{name: "folded", raw: "Subject: x\r\nTLS-Required:\r\n No\r\nTo: b@example.test\r\n\r\n", fields: 1, no: true},
		{name: "folded twice", raw: "TLS-Required:\r\n\t\r\n  No\r\n\r\n", fields: 1, no: true},
		{name: "bare LF", raw: "TLS-Required: No\nFrom: a@example.test\n\n", fields: 1, no: true},
		{name: "space before colon (obsolete syntax)", raw: "TLS-Required : No\r\n\r\n", fields: 1, no: true},
		{name: "duplicated, both No", raw: "TLS-Required: No\r\nX: y\r\nTLS-Required: no\r\n\r\n", fields: 2, no: true},
		{name: "duplicated, one Yes", raw: "TLS-Required: No\r\nTLS-Required: Yes\r\n\r\n", fields: 2, no: false, ignored: []string{"Yes"}},
		{name: "value Yes", raw: "TLS-Required: Yes\r\n\r\n", fields: 1, ignored: []string{"Yes"}},
		{name: "empty value", raw: "TLS-Required:\r\n\r\n", fields: 1, ignored: []string{""}},
		{name: "comment", raw: "TLS-Required: No (really)\r\n\r\n", fields: 1, ignored: []string{"No (really)"}},
		{name: "quoted", raw: "TLS-Required: \"No\"\r\n\r\n", fields: 1, ignored: []string{"\"No\""}},
		{name: "split word", raw: "TLS-Required: N\r\n o\r\n\r\n", fields: 1, ignored: []string{"N o"}},
		{name: "false", raw: "TLS-Required: false\r\n\r\n", fields: 1, ignored: []string{"false"}},
		{name: "similar name", raw: "TLS-Required-X: No\r\nX-TLS-Required: No\r\n\r\n"},
		{name: "in the body only", raw: "From: a@example.test\r\n\r\nTLS-Required: No\r\n"},
		{name: "no colon line skipped", raw: "garbage line\r\nTLS-Required: No\r\n\r\n", fields: 1, no: true},
		{name: "continuation of another field", raw: "Subject: a\r\n TLS-Required: No\r\n\r\n"},
		{name: "header only, no empty line", raw: "TLS-Required: No", fields: 1, no: true},
		{name: "control characters reported as spaces", raw: "TLS-Required: N\x00o\r\n\r\n", fields: 1, ignored: []string{"N o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := ParseHeader([]byte(tt.raw))
			assert.Equal(t, tt.fields, h.Fields)
			assert.Equal(t, tt.no, h.No)
			assert.Equal(t, tt.ignored, h.Ignored)
		})
	}
}

func TestParseHeaderValues(t *testing.T) {
	t.Parallel()
	assert.False(t, ParseHeaderValues().No)
	assert.True(t, ParseHeaderValues(" No").No)
	assert.True(t, ParseHeaderValues("No", "\r\n no").No)
	h := ParseHeaderValues("No", "maybe")
	assert.False(t, h.No)
	assert.Equal(t, []string{"maybe"}, h.Ignored)
}

func TestParseHeaderBounds(t *testing.T) {
	t.Parallel()
	raw := strings.Repeat("TLS-Required: "+strings.Repeat("x", 200)+"\r\n", 50) + "\r\n"
	h := ParseHeader([]byte(raw))
	assert.Equal(t, 50, h.Fields)
	assert.False(t, h.No)
	require.Len(t, h.Ignored, MaxIgnored)
	for _, v := range h.Ignored {
		assert.Len(t, v, MaxIgnoredLen)
	}
	// Beyond MaxHeaderSection nothing is read.
	big := strings.Repeat("X-Filler: "+strings.Repeat("y", 1000)+"\r\n", MaxHeaderSection/1000+1) + "TLS-Required: No\r\n\r\n"
	assert.Zero(t, ParseHeader([]byte(big)).Fields)
}

func TestRenderHeader(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "TLS-Required: No\r\n", RenderHeader())
	h := ParseHeader([]byte(RenderHeader() + "\r\n"))
	assert.True(t, h.No)
}

func TestMessageTag(t *testing.T) {
	t.Parallel()
	no := ParseHeaderValues("No")
	bad := ParseHeaderValues("Yes")
	tests := []struct {
		name string
		in   TagInput
		want Tag
	}{
		{"nothing", TagInput{}, TagNone},
		{"header No", TagInput{Header: no}, TagTLSRequiredNo},
		{"malformed header", TagInput{Header: bad}, TagNone},
		{"parameter", TagInput{RequireTLS: true}, TagRequireTLS},
		{"parameter wins over header (§4.1)", TagInput{RequireTLS: true, Header: no}, TagRequireTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, MessageTag(tt.in))
		})
	}
}

func TestTagText(t *testing.T) {
	t.Parallel()
	for _, tag := range []Tag{TagNone, TagRequireTLS, TagTLSRequiredNo} {
		b, err := tag.MarshalText()
		require.NoError(t, err)
		var back Tag
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, tag, back)
	}
	var x Tag
	assert.Error(t, x.UnmarshalText([]byte("requiretls")))
	_, err := Tag("x").MarshalText()
	assert.Error(t, err)
	assert.Equal(t, "none", TagNone.String())
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"TLS-Required: No\r\n\r\n",
		"TLS-Required:\r\n No\r\nTLS-Required: yes\r\n\r\n",
		"tls-required : NO\n\n",
		"Subject: x\r\n\tTLS-Required: No\r\n",
		"TLS-Required: N\x00o",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h := ParseHeader(raw)
		if h.No && (h.Fields == 0 || len(h.Ignored) != 0) {
			t.Fatalf("No with %d fields and ignored %q", h.Fields, h.Ignored)
		}
		if !h.No && h.Fields > 0 && len(h.Ignored) == 0 {
			t.Fatalf("%d fields, not No, nothing ignored", h.Fields)
		}
		if len(h.Ignored) > MaxIgnored || len(h.Ignored) > h.Fields {
			t.Fatalf("%d ignored of %d fields", len(h.Ignored), h.Fields)
		}
		for _, v := range h.Ignored {
			if len(v) > MaxIgnoredLen || strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("reported value %q", v)
			}
		}
		// A message tag can only relax policy through the header when no
		// REQUIRETLS parameter was given.
		if MessageTag(TagInput{RequireTLS: true, Header: h}) != TagRequireTLS {
			t.Fatal("parameter did not win")
		}
		// Adding a field that says No cannot outvote a field that does not:
		// one bad field withdraws the request.
		h2 := ParseHeader(append([]byte(RenderHeader()), raw...))
		if h2.Fields == 0 {
			t.Fatal("rendered field not found")
		}
		plainStart := len(raw) > 0 && raw[0] != ' ' && raw[0] != '\t' && raw[0] != '\r' && raw[0] != '\n'
		if plainStart && len(raw) < MaxHeaderSection/2 && h.Fields > 0 && !h.No && h2.No {
			t.Fatalf("a No field outvoted %q", h.Ignored)
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	b.ReportAllocs()
	raw := []byte("Received: from a.example.test by b.example.test\r\n\tfor <c@example.test>; Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
		"From: a@example.test\r\nTo: c@example.test\r\nSubject: report\r\nTLS-Required: No\r\nMessage-ID: <1@example.test>\r\n\r\nbody\r\n")
	for b.Loop() {
		if !ParseHeader(raw).No {
			b.Fatal("not No")
		}
	}
}
