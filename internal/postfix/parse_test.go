package postfix

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec"
)

func reader(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 16) }

func TestReadPolicyRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		max   int
		attrs map[string]string
		err   error
	}{
		{"typical", "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nsender=a@example.com\n\n", 0,
			map[string]string{"request": "smtpd_access_policy", "protocol_state": "RCPT", "client_address": "192.0.2.1", "sender": "a@example.com"}, nil},
		{"crlf", "request=x\r\n\r\n", 0, map[string]string{"request": "x"}, nil},
		{"empty value and = in value", "sender=\nccert_subject=CN=a=b\n\n", 0, map[string]string{"sender": "", "ccert_subject": "CN=a=b"}, nil},
		{"first duplicate kept", "a=1\na=2\n\n", 0, map[string]string{"a": "1"}, nil},
		{"long line over buffer", "helo_name=" + strings.Repeat("h", 100) + "\n\n", 0, map[string]string{"helo_name": strings.Repeat("h", 100)}, nil},
		{"empty request", "\n", 0, map[string]string{}, nil},
		{"eof", "", 0, nil, io.EOF},
		{"eof inside", "request=x\n", 0, nil, io.ErrUnexpectedEOF},
		{"eof inside line", "request=x", 0, nil, io.ErrUnexpectedEOF},
		{"no equals", "request\n\n", 0, nil, ErrMalformed},
		{"empty name", "=x\n\n", 0, nil, ErrMalformed},
		{"nul", "a=b\x00c\n\n", 0, nil, ErrMalformed},
		{"too large", "a=" + strings.Repeat("x", 100) + "\n\n", 50, nil, ErrTooLarge},
		{"too many attributes", strings.Repeat("a=b\n", 1) + func() string {
			var b strings.Builder
			for i := range MaxPolicyAttributes + 1 {
				b.WriteString("n" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i) + "=v\n")
			}
			return b.String()
		}() + "\n", 0, nil, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := ReadPolicyRequest(reader(tt.in), tt.max)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tt.attrs), req.Len())
			for k, v := range tt.attrs {
				assert.True(t, req.Has(k), k)
				assert.Equal(t, v, req.Get(k), k)
			}
		})
	}
}

func itoa(i int) string {
	return strings.TrimLeft(string([]byte{byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)}), "0")
}

func TestReadPolicyRequestStream(t *testing.T) {
	t.Parallel()
	// Two requests back to back on one stream, as Postfix sends them over
	// a kept-alive connection.
	br := reader("request=a\n\nrequest=b\nsender=x@example.com\n\n")
	r1, err := ReadPolicyRequest(br, 0)
	require.NoError(t, err)
	r2, err := ReadPolicyRequest(br, 0)
	require.NoError(t, err)
	_, err = ReadPolicyRequest(br, 0)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "a", r1.Get("request"))
	assert.Equal(t, []string{"request", "sender"}, r2.Names())
}

func TestPolicyRequestRoundTrip(t *testing.T) {
	t.Parallel()
	r := NewPolicyRequest("request", "smtpd_access_policy", "sender", "a@example.com", "bad", "x\ny", "sender", "dup")
	wire := string(r.AppendTo(nil))
	assert.Equal(t, "request=smtpd_access_policy\nsender=a@example.com\n\n", wire)
	back, err := ReadPolicyRequest(reader(wire), 0)
	require.NoError(t, err)
	assert.Equal(t, "a@example.com", back.Get("sender"))
}

func TestActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  Action
		want string
	}{
		{"prepend folded", Prepend("Received-SPF: pass (mx.example: domain of\r\n\ta@example.com designates 192.0.2.1)\r\n\tclient-ip=192.0.2.1;"),
			"PREPEND Received-SPF: pass (mx.example: domain of a@example.com designates 192.0.2.1) client-ip=192.0.2.1;"},
		{"prepend control", Prepend("X-Test: a\x01b"), "PREPEND X-Test: a b"},
		{"reply", Reply(smtpsec.Reply{Code: 550, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 23}, Text: "SPF fail"}), "550 5.7.23 SPF fail"},
		{"reply multi-line", Reply(smtpsec.Reply{Code: 451, Enhanced: smtpsec.EnhancedCode{Subject: 7, Detail: 24}, Text: "a\nb"}), "451 4.7.24 a b"},
		{"reply injection", Reply(smtpsec.Reply{Code: 550, Text: "a\r\naction=OK"}), "550 a action=OK"},
		{"reply not negative", Reply(smtpsec.Reply{Code: 250, Text: "ok"}), "451 ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, string(tt.got))
			assert.NoError(t, tt.got.Valid())
		})
	}
	for _, bad := range []Action{"", "DUNNO\naction=OK", "a\x00", Action(strings.Repeat("x", 4001))} {
		assert.ErrorIs(t, bad.Valid(), ErrInvalidAction, "%q", bad)
	}
}

func TestReadNetstring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     string
		err      error
	}{
		{"simple", "5:hello,", 0, "hello", nil},
		{"empty", "0:,", 0, "", nil},
		{"request", "25:forward alice@example.com,", 0, "forward alice@example.com", nil},
		{"eof", "", 0, "", io.EOF},
		{"eof in length", "12", 0, "", io.ErrUnexpectedEOF},
		{"eof in payload", "5:hel", 0, "", io.ErrUnexpectedEOF},
		{"leading zero", "05:hello,", 0, "", ErrMalformed},
		{"no length", ":x,", 0, "", ErrMalformed},
		{"letter", "5x:hello,", 0, "", ErrMalformed},
		{"missing comma", "5:hello;", 0, "", ErrMalformed},
		{"too large", "100:", 50, "", ErrTooLarge},
		{"huge length", "99999999999999999999:", 0, "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadNetstring(reader(tt.in), tt.max)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestSocketmapRequestAndReply(t *testing.T) {
	t.Parallel()
	name, key, err := ParseSocketmapRequest([]byte("reverse SRS0=abcd=AB=example.com=bob@fwd.example"))
	require.NoError(t, err)
	assert.Equal(t, "reverse", name)
	assert.Equal(t, "SRS0=abcd=AB=example.com=bob@fwd.example", key)
	name, key, err = ParseSocketmapRequest([]byte("forward "))
	require.NoError(t, err)
	assert.Equal(t, "forward", name)
	assert.Empty(t, key)
	for _, bad := range []string{"forward", " key", "", "a\x01b key"} {
		_, _, err := ParseSocketmapRequest([]byte(bad))
		assert.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
	assert.Equal(t, "8:OK a@b.c,", string(AppendSocketmapReply(nil, MapReply{Status: MapOK, Text: "a@b.c"})))
	assert.Equal(t, "9:NOTFOUND ,", string(AppendSocketmapReply(nil, MapReply{Status: MapNotFound, Text: "ignored"})))
	assert.Equal(t, "12:TEMP a b c d,", string(AppendSocketmapReply(nil, MapReply{Status: MapTemp, Text: "a\nb\rc\x00d"})))
	long := string(AppendSocketmapReply(nil, MapReply{Status: MapOK, Text: strings.Repeat("x", MaxSocketmapReply)}))
	assert.Equal(t, "19:PERM reply too long,", long)
}

func TestTCPTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line, key string
		err             error
	}{
		{"plain", "get alice@example.com", "alice@example.com", nil},
		{"encoded", "get a%20b%25c%0a%C3%A9@example.com", "a b%c\né@example.com", nil},
		{"mixed case hex", "get %2f%2F", "//", nil},
		{"not get", "put a b", "", ErrMalformed},
		{"GET is not get", "GET a", "", ErrMalformed},
		{"no key", "get ", "", ErrMalformed},
		{"no space", "get", "", ErrMalformed},
		{"bad escape", "get a%zz", "", ErrMalformed},
		{"truncated escape", "get a%2", "", ErrMalformed},
		{"raw space", "get a b", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := ParseTCPTableRequest(tt.line)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.key, key)
		})
	}
	assert.Equal(t, "200 SRS0=x=AB=example.com=a%20b@fwd.example\n",
		string(AppendTCPTableReply(nil, MapReply{Status: MapOK, Text: "SRS0=x=AB=example.com=a b@fwd.example"})))
	assert.Equal(t, "500 Not%20found\n", string(AppendTCPTableReply(nil, MapReply{Status: MapNotFound, Text: "Not found"})))
	assert.Equal(t, "500 x\n", string(AppendTCPTableReply(nil, MapReply{Status: MapPerm, Text: "x"})))
	assert.Equal(t, "400 dns\n", string(AppendTCPTableReply(nil, MapReply{Status: MapTimeout, Text: "dns"})))
	assert.Equal(t, "500 reply%20too%20long\n", string(AppendTCPTableReply(nil, MapReply{Status: MapOK, Text: strings.Repeat("é", 1000)})))

	line, err := ReadTCPTableLine(reader("get a\r\nget b\n"), 0)
	require.NoError(t, err)
	assert.Equal(t, "get a", line)
	_, err = ReadTCPTableLine(reader("get "+strings.Repeat("a", 100)+"\n"), 50)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = ReadTCPTableLine(reader("get a"), 0)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = ReadTCPTableLine(reader(""), 0)
	assert.ErrorIs(t, err, io.EOF)
	var pe *ProtocolError
	_, err = ParseTCPTableRequest("get a%zz")
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, 5, pe.Offset)
	assert.Contains(t, pe.Error(), "tcp_table")
}
