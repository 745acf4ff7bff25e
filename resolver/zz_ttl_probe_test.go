package resolver_test
import ("testing";"strings";"github.com/smtpsec/smtpsec/resolver")
func TestTTLDoc(t *testing.T) {
	_, err := resolver.ParseZone(strings.NewReader("a.test. TXT \"x\"\n"), ".")
	t.Log("ParseZone without TTL:", err)
	z, _ := resolver.ParseZone(strings.NewReader("$TTL 300\n"), ".")
	t.Log("Add without TTL:", z.Add("b.test. TXT \"y\""))
}
