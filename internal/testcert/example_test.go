package testcert_test

import (
	"fmt"
	"testing"

	"github.com/smtpsec/smtpsec/internal/testcert"
)

func ExampleCA_Leaf() {
	t := &testing.T{} // in a test, use the test's own *testing.T
	ca := testcert.NewCA(t)
	leaf := ca.Leaf("mx.example.test", "192.0.2.25")
	fmt.Println(leaf.Cert.DNSNames, leaf.Cert.IPAddresses, len(leaf.TLS.Certificate))
	// Output: [mx.example.test] [192.0.2.25] 1
}
