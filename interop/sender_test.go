package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smtpsec/smtpsec/sender"
)

// authresPeer is a small driver for Debian's python3-authres (the
// Authentication-Results library pyspf and dkimpy use): it reads JSON
// requests, one a line, and answers one JSON line each. "parse" parses a
// field; "build" formats one from a structure.
const authresPeer = `
import sys, json, authres, authres.core as core
for line in sys.stdin:
    req = json.loads(line)
    try:
        if req["op"] == "parse":
            h = authres.AuthenticationResultsHeader.parse(req["field"])
            out = {"id": h.authserv_id, "results": [
                {"method": r.method, "result": r.result, "reason": r.reason or "",
                 "props": [[p.type, p.name, p.value] for p in r.properties]} for r in h.results]}
        else:
            rs = []
            for r in req["results"]:
                props = [core.AuthenticationResultProperty(p[0], p[1], p[2]) for p in r["props"]]
                rs.append(core.AuthenticationResult(method=r["method"], result=r["result"],
                          reason=r["reason"] or None, properties=props))
            out = {"field": str(authres.AuthenticationResultsHeader(authserv_id=req["id"], results=rs))}
    except Exception as e:
        out = {"error": repr(e)}
    print(json.dumps(out), flush=True)
`

type arWire struct {
	ID      string     `json:"id"`
	Results []arResult `json:"results"`
	Field   string     `json:"field,omitempty"`
	Error   string     `json:"error,omitempty"`
}

type arResult struct {
	Method string      `json:"method"`
	Result string      `json:"result"`
	Reason string      `json:"reason"`
	Props  [][3]string `json:"props"`
}

// runAuthres sends every request to one python3 process.
func runAuthres(t *testing.T, python string, reqs []map[string]any) []arWire {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range reqs {
		require.NoError(t, enc.Encode(r))
	}
	cmd := exec.Command(python, "-c", authresPeer)
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), "python3-authres: %s", stderr.String())
	var res []arWire
	dec := json.NewDecoder(&out)
	for dec.More() {
		var w arWire
		require.NoError(t, dec.Decode(&w))
		res = append(res, w)
	}
	require.Len(t, res, len(reqs))
	return res
}

// arCase generates an Authentication-Results structure. hostile values carry
// quotes, backslashes, parentheses, semicolons and spaces.
func arCase(r *rand.Rand, hostile bool) *sender.AuthResults {
	plainChars := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+"
	hostileChars := plainChars + ` ;=()"\@:,/[]?<>`
	str := func(chars string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(chars[r.IntN(len(chars))])
		}
		return b.String()
	}
	methods := []string{"spf", "dkim", "dmarc", "iprev", "arc", "auth", "x-local"}
	results := []string{"pass", "fail", "none", "neutral", "softfail", "temperror", "permerror", "policy"}
	props := [][2]string{{"smtp", "mailfrom"}, {"smtp", "helo"}, {"header", "d"}, {"header", "from"}, {"header", "s"}, {"policy", "iprev"}, {"smtp", "auth"}}
	a := &sender.AuthResults{AuthservID: str("abcdefghijklmnopqrstuvwxyz", 1+r.IntN(8)) + ".example"}
	for range 1 + r.IntN(4) {
		m := sender.MethodResult{Method: methods[r.IntN(len(methods))], Result: results[r.IntN(len(results))]}
		chars := plainChars
		if hostile {
			chars = hostileChars
		}
		if r.IntN(3) == 0 {
			m.Reason = str(chars, 1+r.IntN(20))
		}
		for range r.IntN(4) {
			p := props[r.IntN(len(props))]
			m.Props = append(m.Props, sender.Property{Type: p[0], Name: p[1], Value: str(chars, 1+r.IntN(24))})
		}
		a.Results = append(a.Results, m)
	}
	return a
}

func toWire(a *sender.AuthResults) arWire {
	w := arWire{ID: a.AuthservID}
	for _, m := range a.Results {
		rr := arResult{Method: m.Method, Result: m.Result, Reason: m.Reason, Props: [][3]string{}}
		for _, p := range m.Props {
			rr.Props = append(rr.Props, [3]string{p.Type, p.Name, p.Value})
		}
		w.Results = append(w.Results, rr)
	}
	return w
}

// unescapeQP removes quoted-pair backslashes: python3-authres 1.2.0 returns
// reason values with their quoted-pairs still escaped, although RFC 5322
// §3.2.4 says the backslash is not part of the value.
func unescapeQP(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestAuthResultsDifferential checks our Authentication-Results builder and
// parser against python3-authres in both directions, on generated fields.
func TestAuthResultsDifferential(t *testing.T) {
	python := requirePeer(t, "/usr/bin/python3")
	if err := exec.Command(python, "-c", "import authres").Run(); err != nil {
		requirePeer(t, "python3-authres (import authres)") // skips, or fails under SMTPSEC_INTEROP
	}
	r := rand.New(rand.NewPCG(11, 8601))
	const n = 400
	var cases []*sender.AuthResults
	for i := range n {
		cases = append(cases, arCase(r, i%2 == 1))
	}

	// Direction 1: our builder, their parser.
	var reqs []map[string]any
	for _, a := range cases {
		f, err := a.Field()
		require.NoError(t, err)
		reqs = append(reqs, map[string]any{"op": "parse", "field": strings.TrimSuffix(f, "\r\n")})
	}
	got := runAuthres(t, python, reqs)
	agree, quotedLoss := 0, 0
	for i, a := range cases {
		w := got[i]
		require.Empty(t, w.Error, "python3-authres cannot parse our field %q", reqs[i]["field"])
		want := toWire(a)
		require.Equal(t, want.ID, w.ID)
		require.Len(t, w.Results, len(want.Results), "method count differs: %q", reqs[i]["field"])
		same := true
		for j, m := range want.Results {
			p := w.Results[j]
			require.Equal(t, m.Method, p.Method, "%q", reqs[i]["field"])
			require.Equal(t, m.Result, p.Result, "%q", reqs[i]["field"])
			require.Equal(t, m.Reason, unescapeQP(p.Reason), "%q", reqs[i]["field"])
			// python3-authres 1.2.0 drops a property whose value is a
			// quoted-string when another property follows it (RFC 8601
			// §2.2: pvalue = value, and value = token / quoted-string, RFC
			// 2045 §5.1). Every property it returns must be ours, in order;
			// every one it drops must be one we quoted. Known disagreement.
			field := reqs[i]["field"].(string)
			k := 0
			for _, q := range m.Props {
				if k < len(p.Props) && p.Props[k][0] == q[0] && p.Props[k][1] == q[1] && unescapeQP(p.Props[k][2]) == q[2] {
					k++
					continue
				}
				require.Contains(t, field, q[0]+"."+q[1]+"=\"", "python3-authres lost an unquoted property: %q -> %v", field, p.Props)
				same = false
			}
			require.Equal(t, len(p.Props), k, "python3-authres returned a property we did not write: %q -> %v", field, p.Props)
		}
		if same {
			agree++
		} else {
			quotedLoss++
		}
	}
	t.Logf("ours -> python3-authres: %d/%d agree, %d differ only by its dropping of quoted property values", agree, n, quotedLoss)
	assert.Greater(t, agree, n/3)

	// Direction 2: their builder, our parser.
	reqs = reqs[:0]
	for _, a := range cases {
		w := toWire(a)
		req := map[string]any{"op": "build", "id": w.ID, "results": w.Results}
		reqs = append(reqs, req)
	}
	got = runAuthres(t, python, reqs)
	agree, unquoted := 0, 0
	for i, a := range cases {
		require.Empty(t, got[i].Error)
		field := got[i].Field
		p, err := sender.ParseAuthResults(field)
		if writesUnquotedAt(a) {
			// python3-authres 1.2.0 writes any value holding '@' without
			// quotes, even one holding ';', space or '"': that is no
			// pvalue (RFC 8601 §2.2), and a reader must not take it for
			// one. Known disagreement; we only require no panic.
			unquoted++
			continue
		}
		require.NoError(t, err, "our parser rejects python3-authres's %q", field)
		require.Equal(t, a, p, "python3-authres wrote %q", field)
		agree++
	}
	t.Logf("python3-authres -> ours: %d/%d agree, %d written invalid by python3-authres (unquoted '@' values)", agree, n, unquoted)
	assert.Greater(t, agree, n/2)
}

// TestAuthResultsPeerExamples parses the RFC 8601 Appendix B examples with
// both parsers and compares.
func TestAuthResultsPeerExamples(t *testing.T) {
	python := requirePeer(t, "/usr/bin/python3")
	fields := []string{
		"Authentication-Results: example.org 1; none",
		"Authentication-Results: example.com; spf=pass smtp.mailfrom=example.net",
		"Authentication-Results: example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net",
		"Authentication-Results: example.com; sender-id=pass header.from=example.com",
		"Authentication-Results: example.com; dkim=pass (good signature) header.d=mail-router.example.net; dkim=fail (bad signature) header.d=newyork.example.com",
	}
	var reqs []map[string]any
	for _, f := range fields {
		reqs = append(reqs, map[string]any{"op": "parse", "field": f})
	}
	got := runAuthres(t, python, reqs)
	for i, f := range fields {
		require.Empty(t, got[i].Error, f)
		ours, err := sender.ParseAuthResults(f)
		require.NoError(t, err, f)
		w := toWire(ours)
		if len(w.Results) == 0 {
			w.Results = nil
		}
		theirs := got[i]
		if len(theirs.Results) == 0 {
			theirs.Results = nil
		}
		assert.Equal(t, w.ID, theirs.ID, f)
		assert.Equal(t, fmt.Sprint(w.Results), fmt.Sprint(theirs.Results), f)
	}
}

// writesUnquotedAt reports whether a holds a value that python3-authres
// writes unquoted although it is not a dot-atom address.
func writesUnquotedAt(a *sender.AuthResults) bool {
	for _, m := range a.Results {
		for _, p := range m.Props {
			if strings.Contains(p.Value, "@") && strings.ContainsAny(p.Value, " ;()\"\\,[]<>:") {
				return true
			}
		}
		if strings.Contains(m.Reason, "@") && strings.ContainsAny(m.Reason, " ;()\"\\,[]<>:") {
			return true
		}
	}
	return false
}
