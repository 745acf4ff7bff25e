package requiretls

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/smtpsec/smtpsec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const original = "Received: from client.example.test\r\n" +
	"From: Alice <alice@example.test>\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: secret plans\r\n" +
	"TLS-Required: No\r\n" +
	"\r\n" +
	"The body is secret and must not come back.\r\n"

func testNDR() NDRInput {
	return NDRInput{
		ReportingMTA: "mta.example.test",
		Sender:       "alice@example.test",
		Original:     []byte(original),
		EnvelopeID:   "id+1=x",
		ArrivalDate:  time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		Date:         time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC),
		Recipients: []FailedRecipient{
			{Recipient: "bob@example.net", OriginalRecipient: "rfc822;bob+40example.net", Reply: ReplySupportRequired(), RemoteMTA: "mx.example.net"},
			{Recipient: "carol@example.net", Reply: ReplyEncryptionNeeded("no TLS")},
		},
	}
}

func TestBuildNDR(t *testing.T) {
	t.Parallel()
	n, err := BuildNDR(testNDR())
	require.NoError(t, err)
	assert.Equal(t, "", n.ReversePath, "sent from the null sender")
	assert.Equal(t, TagNone, n.Tag, "sent without REQUIRETLS")
	assert.Equal(t, "alice@example.test", n.Recipient)
	assert.NotContains(t, string(n.Message), "must not come back", "RFC 8689 §5: the body is not returned")
	assert.NotContains(t, strings.ReplaceAll(string(n.Message), "\r\n", ""), "\n", "CRLF only")

	msg, err := mail.ReadMessage(bytes.NewReader(n.Message))
	require.NoError(t, err)
	assert.Equal(t, "<alice@example.test>", msg.Header.Get("To"))
	assert.Equal(t, "auto-replied", msg.Header.Get("Auto-Submitted"))
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "multipart/report", mt)
	assert.Equal(t, "delivery-status", params["report-type"])

	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var parts [][]byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		types = append(types, p.Header.Get("Content-Type"))
		parts = append(parts, b)
	}
	require.Equal(t, []string{"text/plain; charset=us-ascii", "message/delivery-status", "text/rfc822-headers"}, types)

	// The delivery-status part: one per-message group, one group per recipient.
	groups := strings.Split(strings.TrimSpace(string(parts[1])), "\r\n\r\n")
	require.Len(t, groups, 3)
	perMsg := readFields(t, groups[0])
	assert.Equal(t, "dns; mta.example.test", perMsg.Get("Reporting-MTA"))
	assert.Equal(t, "id+2B1+3Dx", perMsg.Get("Original-Envelope-Id"))
	assert.Equal(t, "Wed, 01 May 2024 10:00:00 +0000", perMsg.Get("Arrival-Date"))
	bob := readFields(t, groups[1])
	assert.Equal(t, "rfc822; bob@example.net", bob.Get("Final-Recipient"))
	assert.Equal(t, "rfc822; bob@example.net", bob.Get("Original-Recipient"))
	assert.Equal(t, "failed", bob.Get("Action"))
	assert.Equal(t, "5.7.30", bob.Get("Status"))
	assert.Equal(t, "dns; mx.example.net", bob.Get("Remote-MTA"))
	assert.Equal(t, "smtp; 550 5.7.30 REQUIRETLS support required", bob.Get("Diagnostic-Code"))
	carol := readFields(t, groups[2])
	assert.Equal(t, "5.7.10", carol.Get("Status"))
	assert.Empty(t, carol.Get("Remote-MTA"))

	// The returned headers are the original's header section exactly.
	hdr, _, _ := strings.Cut(original, "\r\n\r\n")
	assert.Equal(t, hdr+"\r\n", string(parts[2]))

	// Deterministic for the same input.
	n2, err := BuildNDR(testNDR())
	require.NoError(t, err)
	assert.Equal(t, n.Message, n2.Message)
}

func readFields(t *testing.T, s string) textproto.MIMEHeader {
	t.Helper()
	h, err := textproto.NewReader(bufioReader(s + "\r\n\r\n")).ReadMIMEHeader()
	require.NoError(t, err)
	return h
}

func TestBuildNDRRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*NDRInput)
	}{
		{"null sender", func(in *NDRInput) { in.Sender = "" }},
		{"header injection in sender", func(in *NDRInput) { in.Sender = "a@example.test>\r\nBcc: x@example.test" }},
		{"no reporting MTA", func(in *NDRInput) { in.ReportingMTA = "" }},
		{"no recipients", func(in *NDRInput) { in.Recipients = nil }},
		{"temporary reply", func(in *NDRInput) {
			in.Recipients[0].Reply = smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 30}}
		}},
		{"injection in recipient", func(in *NDRInput) { in.Recipients[0].Recipient = "b@example.net\r\nX: y" }},
		{"injection in remote MTA", func(in *NDRInput) { in.Recipients[0].RemoteMTA = "mx\r\n" }},
		{"bad ORCPT", func(in *NDRInput) { in.Recipients[0].OriginalRecipient = "no-type" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := testNDR()
			in.Recipients = append([]FailedRecipient(nil), in.Recipients...)
			tt.mod(&in)
			n, err := BuildNDR(in)
			assert.ErrorIs(t, err, ErrNDRInput)
			assert.Nil(t, n)
		})
	}
}

func TestNDRHeaderSection(t *testing.T) {
	t.Parallel()
	// Bare LF and headers-only input.
	assert.Equal(t, "A: b\r\nC: d\r\n", string(headerSection([]byte("A: b\nC: d\n\nbody"))))
	assert.Equal(t, "A: b\r\n", string(headerSection([]byte("A: b"))))
	// Bounded at a line boundary.
	big := bytes.Repeat([]byte("X-Long: "+strings.Repeat("z", 990)+"\r\n"), 100)
	h := headerSection(big)
	assert.LessOrEqual(t, len(h), MaxReturnedHeader)
	assert.True(t, bytes.HasSuffix(h, []byte("\r\n")))
	// A header that contains the boundary cannot break the structure.
	in := testNDR()
	n, err := BuildNDR(in)
	require.NoError(t, err)
	msg, err := mail.ReadMessage(bytes.NewReader(n.Message))
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	in.Original = []byte("X-Evil: --" + params["boundary"] + "\r\n" + original)
	n2, err := BuildNDR(in)
	require.NoError(t, err)
	msg2, err := mail.ReadMessage(bytes.NewReader(n2.Message))
	require.NoError(t, err)
	_, params2, err := mime.ParseMediaType(msg2.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.NotContains(t, string(in.Original), params2["boundary"])
}

func TestBuildNDRInternationalized(t *testing.T) {
	t.Parallel()
	in := testNDR()
	in.Original = []byte("Subject: Grüße\r\nFrom: jörg@example.test\r\n\r\nGeheim\r\n")
	n, err := BuildNDR(in)
	require.NoError(t, err)
	assert.True(t, n.SMTPUTF8)
	assert.Contains(t, string(n.Message), "Content-Type: message/global-headers\r\n")
	assert.Contains(t, string(n.Message), "Content-Type: message/global-delivery-status\r\n")
	assert.Contains(t, string(n.Message), "Subject: Grüße\r\n")
	assert.NotContains(t, string(n.Message), "Geheim")

	ascii, err := BuildNDR(testNDR())
	require.NoError(t, err)
	assert.False(t, ascii.SMTPUTF8)
}

func BenchmarkBuildNDR(b *testing.B) {
	b.ReportAllocs()
	in := testNDR()
	for b.Loop() {
		if _, err := BuildNDR(in); err != nil {
			b.Fatal(err)
		}
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func FuzzBuildNDR(f *testing.F) {
	f.Add([]byte(original))
	f.Add([]byte("A: b\nC: d\n\nbody"))
	f.Add([]byte("\r\n\r\nonly body"))
	f.Add([]byte("X: --=_requiretls_\r\n\r\n"))
	f.Fuzz(func(t *testing.T, orig []byte) {
		in := testNDR()
		in.Original = orig
		n, err := BuildNDR(in)
		require.NoError(t, err)
		msg, err := mail.ReadMessage(bytes.NewReader(n.Message))
		require.NoError(t, err)
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		require.NoError(t, err)
		mr := multipart.NewReader(msg.Body, params["boundary"])
		var parts [][]byte
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			b, err := io.ReadAll(p)
			require.NoError(t, err)
			parts = append(parts, b)
		}
		require.Len(t, parts, 3)
		hs := headerSection(orig)
		assert.Equal(t, string(hs), string(parts[2]), "the returned headers are the original's header section")
		assert.NotContains(t, string(parts[2]), "\r\n\r\n", "only the header section is returned")
		assert.LessOrEqual(t, len(parts[2]), MaxReturnedHeader)
	})
}
