package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/smtpsec/smtpsec/forward"
)

// srsJSON is one line of srs's JSON output.
type srsJSON struct {
	Input  string `json:"input"`
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

// readSecrets reads a postsrsd secrets file: one secret a line, the first
// signs, every one verifies; blank lines are skipped, a trailing CR is removed.
func readSecrets(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var secrets [][]byte
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 {
			secrets = append(secrets, line)
		}
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%s: no secret in the file", path)
	}
	return secrets, nil
}

func srsRun(_ context.Context, args []string, e env, fwd bool) int {
	name := "srs reverse"
	if fwd {
		name = "srs forward"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	domain := fs.String("domain", "", "the SRS `domain` (this forwarder's; required)")
	secretsFile := fs.String("secrets", "", "postsrsd secrets `file`: one secret a line, the first signs (required)")
	sep := fs.String("separator", "=", "separator after SRS0/SRS1: =, + or -")
	hashLen := fs.Int("hash-length", 0, "hash `characters` minted (0: 4, as postsrsd)")
	maxAge := fs.Int("max-age", 0, "`days` an address stays valid (0: 21)")
	strict := fs.Bool("strict-mac", false, "delimiter-safe hash input (not postsrsd compatible)")
	always := fs.Bool("always-rewrite", false, "rewrite senders in --domain too (postsrsd -A)")
	date := fs.String("date", "", "pretend today is this `YYYY-MM-DD` (UTC), for reproducible output")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parseFlags(fs, args, e)
	if !ok {
		return code
	}
	if *domain == "" || *secretsFile == "" {
		return usageError(e, "%s needs --domain and --secrets", name)
	}
	if len(*sep) != 1 {
		return usageError(e, "--separator must be one of = + -")
	}
	secrets, err := readSecrets(*secretsFile)
	if err != nil {
		return fail(e, exitUsage, err)
	}
	cfg := forward.Config{
		Domain: *domain, Secrets: secrets, Separator: (*sep)[0], HashLength: *hashLen,
		MaxAge: time.Duration(*maxAge) * 24 * time.Hour, StrictMAC: *strict, AlwaysRewrite: *always,
	}
	if *date != "" {
		d, err := time.Parse(time.DateOnly, *date)
		if err != nil {
			return usageError(e, "--date: %v", err)
		}
		cfg.Now = func() time.Time { return d.Add(12 * time.Hour) }
	}
	srs, err := forward.NewSRS(cfg)
	if err != nil {
		return fail(e, exitUsage, err)
	}
	conv := srs.Reverse
	if fwd {
		conv = srs.Forward
	}
	// With no address arguments, read one address a line from standard input.
	next := func() (string, bool) {
		if len(pos) == 0 {
			return "", false
		}
		a := pos[0]
		pos = pos[1:]
		return a, true
	}
	if len(pos) == 0 {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 4096), forward.MaxAddressLength+2)
		next = func() (string, bool) {
			for sc.Scan() {
				if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
					return string(l), true
				}
			}
			return "", false
		}
		defer func() {
			if err := sc.Err(); err != nil {
				fmt.Fprintf(e.stderr, "smtpsec: reading standard input: %v\n", err)
			}
		}()
	}
	code = exitOK
	var out []srsJSON
	for in, ok := next(); ok; in, ok = next() {
		res, err := conv(in)
		j := srsJSON{Input: in, Output: res}
		if err != nil {
			code = exitNegative
			j.Output, j.Error = "", err.Error()
			if !*asJSON {
				fmt.Fprintf(e.stderr, "smtpsec: %s: %v\n", in, err)
			}
		} else if !*asJSON {
			fmt.Fprintln(e.stdout, res)
		}
		out = append(out, j)
	}
	if *asJSON {
		if out == nil {
			out = []srsJSON{}
		}
		return printJSON(e, out, code)
	}
	return code
}
