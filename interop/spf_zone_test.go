package interop

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/smtpsec/smtpsec/resolver"
)

// Helpers for spf_test.go: the RFC 7208 suite (../spf/testdata, with its
// source and licence named in the README there) and zones built from its
// zone data the way pyspf's test driver reads them.

type spfScenario struct {
	Description string                `yaml:"description"`
	Tests       map[string]spfCase    `yaml:"tests"`
	ZoneData    map[string][]any      `yaml:"zonedata"`
	extra       map[string][]zoneItem // generated scenarios
}

type spfCase struct {
	HELO        string `yaml:"helo"`
	Host        string `yaml:"host"`
	MailFrom    string `yaml:"mailfrom"`
	Result      any    `yaml:"result"`
	Explanation string `yaml:"explanation"`
}

// zoneItem is one record of a generated zone: a type and its value, or the
// type "TIMEOUT".
type zoneItem struct {
	typ, val string
}

func loadSPFSuite(t testing.TB) []spfScenario {
	t.Helper()
	data, err := os.ReadFile("../spf/testdata/rfc7208-tests.yml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []spfScenario
	for {
		var s spfScenario
		if err := dec.Decode(&s); err != nil {
			require.ErrorContains(t, err, "EOF")
			return out
		}
		out = append(out, s)
	}
}

// escapeDNSName writes a name in presentation format, \DDD for the octets
// the evaluator escapes.
func escapeDNSName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || strings.IndexByte(` '@;()"\`, c) >= 0 {
			fmt.Fprintf(&b, "\\%03d", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func splitTXT(v string) []string {
	var out []string
	for {
		n := min(len(v), 255)
		out = append(out, escapeTXT(v[:n]))
		v = v[n:]
		if v == "" {
			return out
		}
	}
}

// escapeTXT writes a character-string the way github.com/miekg/dns holds
// it: " and \ escaped with a backslash, octets outside printable US-ASCII
// as \DDD.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// suiteItems converts the suite's zone data to zoneItems, applying the
// driver's rules: SPF entries also answer TXT unless the name has TXT
// entries or "TXT: NONE".
func suiteItems(t testing.TB, data map[string][]any) map[string][]zoneItem {
	out := map[string][]zoneItem{}
	for name, entries := range data {
		hasTXT := false
		for _, e := range entries {
			if m, ok := e.(map[string]any); ok {
				if _, ok := m["TXT"]; ok {
					hasTXT = true
				}
			}
		}
		var items, spfs []zoneItem
		for _, e := range entries {
			if s, ok := e.(string); ok {
				items = append(items, zoneItem{typ: s})
				continue
			}
			for k, v := range e.(map[string]any) {
				switch v := v.(type) {
				case string:
					if k == "TXT" && v == "NONE" {
						continue
					}
					items = append(items, zoneItem{k, v})
				case []any:
					if k == "MX" {
						items = append(items, zoneItem{k, fmt.Sprintf("%v %v", v[0], v[1])})
						continue
					}
					var parts []string
					for _, x := range v {
						parts = append(parts, fmt.Sprint(x))
					}
					items = append(items, zoneItem{k, strings.Join(parts, "")})
				default:
					t.Fatalf("zone data %s: %T", name, v)
				}
				if k == "SPF" {
					spfs = append(spfs, items[len(items)-1])
				}
			}
		}
		if !hasTXT {
			for _, s := range spfs {
				items = append(items, zoneItem{"TXT", s.val})
			}
		}
		out[name] = items
	}
	return out
}

// buildSPFZone builds a resolver.Zone; a TIMEOUT item times out the types
// not listed before it.
func buildSPFZone(t testing.TB, data map[string][]zoneItem) *resolver.Zone {
	t.Helper()
	z := &resolver.Zone{}
	for name, items := range data {
		hdr := func(typ uint16) dns.RR_Header {
			return dns.RR_Header{Name: dns.Fqdn(escapeDNSName(name)), Rrtype: typ, Class: dns.ClassINET, Ttl: 300}
		}
		listed := map[uint16]bool{}
		for _, it := range items {
			var rr dns.RR
			switch it.typ {
			case "TIMEOUT":
				for _, typ := range []uint16{dns.TypeTXT, dns.TypeSPF, dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypePTR, dns.TypeCNAME} {
					if !listed[typ] {
						require.NoError(t, z.SetFailure(escapeDNSName(name), typ, resolver.FailTimeout))
					}
				}
				continue
			case "TXT":
				listed[dns.TypeTXT] = true
				rr = &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(it.val)}
			case "SPF":
				listed[dns.TypeSPF] = true
				rr = &dns.SPF{Hdr: hdr(dns.TypeSPF), Txt: splitTXT(it.val)}
			case "A":
				listed[dns.TypeA] = true
				rr = &dns.A{Hdr: hdr(dns.TypeA), A: netip.MustParseAddr(it.val).AsSlice()}
			case "AAAA":
				listed[dns.TypeAAAA] = true
				rr = &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: netip.MustParseAddr(it.val).AsSlice()}
			case "MX":
				listed[dns.TypeMX] = true
				p, host, _ := strings.Cut(it.val, " ")
				var pref uint16
				_, err := fmt.Sscan(p, &pref)
				require.NoError(t, err)
				rr = &dns.MX{Hdr: hdr(dns.TypeMX), Preference: pref, Mx: dns.Fqdn(escapeDNSName(host))}
			case "PTR":
				listed[dns.TypePTR] = true
				rr = &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: dns.Fqdn(it.val)}
			case "CNAME":
				listed[dns.TypeCNAME] = true
				rr = &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: dns.Fqdn(it.val)}
			default:
				t.Fatalf("zone item %q", it.typ)
			}
			require.NoError(t, z.AddRR(rr), "%s %s", name, it.typ)
		}
	}
	return z
}
