package postfix

import (
	"bufio"
	"bytes"
	"testing"
)

func BenchmarkReadPolicyRequest(b *testing.B) {
	wire := []byte("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.1\n" +
		"client_name=mail.example.com\nreverse_client_name=mail.example.com\nhelo_name=mail.example.com\n" +
		"sender=alice@example.com\nrecipient=bob@example.org\nrecipient_count=0\nqueue_id=\ninstance=1a2b.3c4d.5e6f.0\n" +
		"size=0\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\n" +
		"ccert_fingerprint=\nencryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\nencryption_keysize=256\n\n")
	r := bytes.NewReader(wire)
	br := bufio.NewReader(r)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		r.Reset(wire)
		br.Reset(r)
		if _, err := ReadPolicyRequest(br, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTCPTableRoundTrip(b *testing.B) {
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		key, err := ParseTCPTableRequest("get alice%20smith@example.com")
		if err != nil {
			b.Fatal(err)
		}
		out = AppendTCPTableReply(out[:0], MapReply{Status: MapOK, Text: key})
	}
}
