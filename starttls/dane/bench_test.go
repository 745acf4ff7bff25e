package dane

import "testing"

func BenchmarkParseTLSA(b *testing.B) {
	s := "3 1 1 " + digest256
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTLSA(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	root := newCA(b)
	inter := root.Intermediate("bench intermediate")
	leaf := inter.Leaf("mx.example.test")
	cs := state(leaf.Cert, inter.Cert)
	for _, bc := range []struct {
		name string
		v    *Verifier
	}{
		{"DANE-EE 3 1 1", &Verifier{Records: []TLSA{spki311(leaf)}}},
		{"DANE-TA 2 0 1", &Verifier{Records: []TLSA{ta(DANETA, Cert, SHA256, inter.Cert)}, Names: []string{"mx.example.test"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.v.Verify(cs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
