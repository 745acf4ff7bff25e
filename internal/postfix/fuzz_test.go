package postfix

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReadPolicyRequest: any input parses to a request within the bounds,
// or to a typed error; a parsed request written back parses to the same
// attributes.
func FuzzReadPolicyRequest(f *testing.F) {
	f.Add([]byte("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nsender=a@example.com\n\n"))
	f.Add([]byte("a=1\r\na=2\n\nb=3\n\n"))
	f.Add([]byte("=x\n\n"))
	f.Add([]byte("noequals\n\n"))
	f.Add([]byte("x=\x00\n\n"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 512
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		for range 4 {
			req, err := ReadPolicyRequest(br, max)
			if err != nil {
				var pe *ProtocolError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &pe) {
					t.Fatalf("untyped error %v", err)
				}
				return
			}
			if req.Len() > MaxPolicyAttributes {
				t.Fatalf("%d attributes", req.Len())
			}
			size := 0
			for _, n := range req.Names() {
				size += len(n) + len(req.Get(n)) + 2
				if n == "" || strings.ContainsAny(n, "=\n\x00") || strings.ContainsAny(req.Get(n), "\n\x00") {
					t.Fatalf("bad attribute %q=%q", n, req.Get(n))
				}
			}
			if size > max+1 {
				t.Fatalf("request of %d octets accepted with limit %d", size, max)
			}
			wire := req.AppendTo(nil)
			back, err := ReadPolicyRequest(bufio.NewReader(bytes.NewReader(wire)), 0)
			if err != nil {
				t.Fatalf("re-reading %q: %v", wire, err)
			}
			for _, n := range req.Names() {
				// A value ending in CR loses it on the way back (CRLF is
				// accepted as a line end); nothing else changes.
				if want := strings.TrimSuffix(req.Get(n), "\r"); strings.TrimSuffix(back.Get(n), "\r") != want {
					t.Fatalf("%s: %q became %q", n, req.Get(n), back.Get(n))
				}
			}
		}
	})
}

// FuzzReadNetstring: a netstring read back from AppendNetstring is the
// same payload; arbitrary input gives a payload within the limit or a
// typed error.
func FuzzReadNetstring(f *testing.F) {
	f.Add([]byte("25:forward alice@example.com,"), "reverse SRS0=abcd=AB=example.com=bob@fwd.example")
	f.Add([]byte("0:,"), "")
	f.Add([]byte("05:hello,"), "x")
	f.Add([]byte("99999999999:"), "y")
	f.Fuzz(func(t *testing.T, in []byte, payload string) {
		const max = 256
		p, err := ReadNetstring(bufio.NewReader(bytes.NewReader(in)), max)
		if err != nil {
			var pe *ProtocolError
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &pe) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			if len(p) > max {
				t.Fatalf("payload of %d octets", len(p))
			}
			if name, key, err := ParseSocketmapRequest(p); err == nil {
				if name == "" || strings.Contains(name, " ") || name+" "+key != string(p) {
					t.Fatalf("split %q into %q %q", p, name, key)
				}
			}
		}
		got, err := ReadNetstring(bufio.NewReader(bytes.NewReader(AppendNetstring(nil, payload))), len(payload)+1)
		if err != nil || string(got) != payload {
			t.Fatalf("round trip of %q: %q, %v", payload, got, err)
		}
		reply := AppendSocketmapReply(nil, MapReply{Status: MapOK, Text: payload})
		rp, err := ReadNetstring(bufio.NewReader(bytes.NewReader(reply)), MaxSocketmapReply)
		if err != nil || !bytes.HasPrefix(rp, []byte("OK ")) || bytes.ContainsAny(rp, "\r\n\x00") {
			t.Fatalf("reply %q: %v", rp, err)
		}
	})
}

// FuzzTCPTable: encoding then decoding any key gives it back, encoded
// text holds no white space, control character or raw '%' escape, and
// arbitrary request lines parse or fail with a typed error.
func FuzzTCPTable(f *testing.F) {
	f.Add("get alice@example.com", "a b%c\né")
	f.Add("get a%20b", "")
	f.Add("get a%zz", "%")
	f.Add("put a b", "\x00\x7f\xff")
	f.Fuzz(func(t *testing.T, line, key string) {
		if k, err := ParseTCPTableRequest(line); err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
		} else if len(k) > len(line) {
			t.Fatalf("key %q longer than line %q", k, line)
		}
		enc := string(AppendTCPTableEncoded(nil, key))
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c <= ' ' || c >= 0x7f {
				t.Fatalf("encoded %q holds %q", enc, c)
			}
		}
		dec, err := DecodeTCPTable(enc)
		if err != nil || dec != key {
			t.Fatalf("round trip of %q: %q, %v", key, dec, err)
		}
		got, err := ParseTCPTableRequest("get " + enc)
		if key != "" && (err != nil || got != key) {
			t.Fatalf("request for %q: %q, %v", key, got, err)
		}
		reply := AppendTCPTableReply(nil, MapReply{Status: MapOK, Text: key})
		if len(reply) > MaxTCPTableReply || bytes.Count(reply, []byte("\n")) != 1 || reply[len(reply)-1] != '\n' {
			t.Fatalf("reply %q", reply)
		}
	})
}

// FuzzPrepend: an action built from any header field is valid.
func FuzzPrepend(f *testing.F) {
	f.Add("Received-SPF: pass (a)\r\n\tclient-ip=192.0.2.1;")
	f.Add("X: \r\n\r\n action=OK\x00")
	f.Fuzz(func(t *testing.T, field string) {
		a := Prepend(field)
		if len(a) <= maxActionLength {
			if err := a.Valid(); err != nil {
				t.Fatalf("Prepend(%q) = %q: %v", field, a, err)
			}
		}
		if !strings.HasPrefix(string(a), "PREPEND ") {
			t.Fatalf("%q", a)
		}
	})
}
