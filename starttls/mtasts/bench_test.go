package mtasts

import "testing"

func BenchmarkParsePolicy(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePolicy(examplePolicy); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRecord(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRecord("v=STSv1; id=20160831085700Z;"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	p, err := ParsePolicy(examplePolicy)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Match("mx1.example.net") {
			b.Fatal("no match")
		}
	}
}
