package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/starttls"
	"github.com/smtpsec/smtpsec/starttls/dane"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
)

type probeCertJSON struct {
	Subject   string   `json:"subject"`
	Issuer    string   `json:"issuer"`
	DNSNames  []string `json:"dns_names,omitempty"`
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	SPKI      string   `json:"spki_sha256"`
}

type probeJSON struct {
	Server         string          `json:"server"`
	Level          string          `json:"level"`
	Greeting       []string        `json:"greeting,omitempty"`
	EHLOBefore     []string        `json:"ehlo_before_tls,omitempty"`
	STARTTLSReply  []string        `json:"starttls_reply,omitempty"`
	TLSVersion     string          `json:"tls_version,omitempty"`
	Cipher         string          `json:"cipher_suite,omitempty"`
	Certificates   []probeCertJSON `json:"certificates,omitempty"`
	EHLOAfter      []string        `json:"ehlo_after_tls,omitempty"`
	RequireTLS     bool            `json:"requiretls_advertised"`
	Authentication string          `json:"authentication,omitempty"`
	Plaintext      string          `json:"plaintext_reason,omitempty"`
	Result         string          `json:"tlsrpt_result_type,omitempty"`
	Error          string          `json:"error,omitempty"`
	Passed         bool            `json:"level_met"`
}

// recorder keeps a copy of what is read from a connection until stop is
// called (once TLS starts, the bytes are ciphertext), at most 64 KiB.
type recorder struct {
	net.Conn
	mu      sync.Mutex
	read    bytes.Buffer
	stopped bool
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	if !r.stopped && r.read.Len()+n <= 64<<10 {
		r.read.Write(p[:n])
	}
	r.mu.Unlock()
	return n, err
}

// replies splits the recorded plaintext into SMTP replies, each a list of
// lines, stopping at the first line that is not "ddd" followed by SP, "-" or
// the end of line (where TLS begins).
func (r *recorder) replies() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]string
	var cur []string
	for _, l := range strings.SplitAfter(r.read.String(), "\n") {
		if !strings.HasSuffix(l, "\n") {
			break
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 3 || strings.Trim(l[:3], "0123456789") != "" || (len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			break
		}
		cur = append(cur, l)
		if len(l) == 3 || l[3] == ' ' {
			out = append(out, cur)
			cur = nil
		}
	}
	return out
}

func starttlsProbe(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("starttls probe", flag.ContinueOnError)
	var c common
	c.register(fs)
	levelName := fs.String("level", "verify", "security `level`: may, encrypt, verify, fingerprint, dane, dane-only, mta-sts")
	names := fs.String("name", "", "acceptable certificate `names`, comma-separated (default: the host)")
	caFile := fs.String("ca", "", "PEM `file` of root certificates for verify (default: the system roots)")
	pins := fs.String("pin", "", "SHA-256 `digests` (hex) of certificate or SPKI, comma-separated, for fingerprint")
	domain := fs.String("domain", "", "the recipient `domain`, for mta-sts (its policy) and dane (its MX lookup)")
	ehlo := fs.String("ehlo", "smtpsec.invalid", "the `name` to send with EHLO")
	implicit := fs.Bool("implicit", false, "TLS from the first byte (RFC 8314, port 465) instead of STARTTLS")
	pos, code, ok := parseFlags(fs, args, e)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(e, "starttls probe takes one HOST[:PORT]")
	}
	host, port := pos[0], "25"
	if *implicit {
		port = "465"
	}
	if h, p, err := net.SplitHostPort(pos[0]); err == nil {
		host, port = h, p
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usageError(e, "bad port %q", port)
	}
	level, err := starttls.ParseLevel(*levelName)
	if err != nil {
		return usageError(e, "--level: %v", err)
	}
	policy := starttls.Policy{Level: level}
	if *names != "" {
		policy.Names = strings.Split(*names, ",")
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fail(e, exitUsage, err)
		}
		policy.RootCAs = x509.NewCertPool()
		if !policy.RootCAs.AppendCertsFromPEM(pem) {
			return usageError(e, "--ca: no certificate in %s", *caFile)
		}
	}
	for _, p := range strings.Split(*pins, ",") {
		if p == "" {
			continue
		}
		pin, err := starttls.ParsePin(p)
		if err != nil {
			return usageError(e, "--pin: %v", err)
		}
		policy.Pins = append(policy.Pins, pin)
	}
	if level == starttls.Fingerprint && len(policy.Pins) == 0 {
		return usageError(e, "--level fingerprint needs --pin")
	}
	if level == starttls.MTASTS && *domain == "" {
		return usageError(e, "--level mta-sts needs --domain")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	j := probeJSON{Server: net.JoinHostPort(host, port), Level: level.String()}
	mxName, err := dnsname.Normalize(host)
	if err != nil {
		mxName = host // an IP literal
	}
	// dane and mta-sts derive their policy from DNS (and HTTPS).
	switch level {
	case starttls.DANE, starttls.DANEOnly:
		r, err := c.resolver()
		if err != nil {
			return fail(e, exitUsage, err)
		}
		in := dane.Input{Host: mxName, Domain: mxName, MXSecure: true}
		if *domain != "" {
			in.Domain = *domain
		}
		if n, _ := strconv.Atoi(port); n != 25 {
			in.Port = n
		}
		h, err := dane.Lookup(ctx, r, in)
		if err == nil {
			policy, err = h.Policy(level, starttls.Policy{Level: starttls.May, RootCAs: policy.RootCAs})
		}
		if err != nil {
			j.Error = err.Error()
			return printProbe(e, c.json, j, exitNegative)
		}
	case starttls.MTASTS:
		r, err := c.resolver()
		if err != nil {
			return fail(e, exitUsage, err)
		}
		res, err := (&mtasts.Client{Resolver: r}).Get(ctx, *domain)
		if err == nil {
			policy, err = res.TLSPolicy(mxName, starttls.Policy{Level: starttls.May, RootCAs: policy.RootCAs})
		}
		if err != nil {
			j.Error = err.Error()
			return printProbe(e, c.json, j, exitNegative)
		}
		j.Level = policy.Level.String() + " (from the MTA-STS policy)"
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", j.Server)
	if err != nil {
		j.Error = err.Error()
		return printProbe(e, c.json, j, exitTemp)
	}
	rec := &recorder{Conn: conn}
	client := &starttls.Client{Hostname: *ehlo, GreetingTimeout: c.timeout, CommandTimeout: c.timeout, HandshakeTimeout: c.timeout}
	upgrade := client.Upgrade
	if *implicit {
		// RFC 8314 §3.3: the greeting and EHLO come inside TLS, so the
		// recorder sees only ciphertext and the plaintext steps stay empty.
		upgrade = client.ImplicitTLS
	}
	sess, err := upgrade(ctx, rec, mxName, &policy)
	rec.mu.Lock()
	rec.stopped = true
	rec.mu.Unlock()
	reps := rec.replies()
	for i, r := range reps {
		switch i {
		case 0:
			j.Greeting = r
		case 1:
			j.EHLOBefore = r
		case 2:
			j.STARTTLSReply = r
		}
	}
	code = exitOK
	if err != nil {
		j.Error = err.Error()
		var se *starttls.Error
		if errors.As(err, &se) {
			j.Result = string(se.Result)
		}
		code = exitNegative
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, starttls.ErrConnection) {
			code = exitTemp
		}
		conn.Close()
		return printProbe(e, c.json, j, code)
	}
	defer sess.Close()
	j.Passed = true
	j.Authentication = sess.Authentication().String()
	if pr := sess.PlaintextReason(); pr != nil {
		j.Plaintext = pr.Error()
	}
	if cs, ok := sess.ConnectionState(); ok {
		j.TLSVersion = tls.VersionName(cs.Version)
		j.Cipher = tls.CipherSuiteName(cs.CipherSuite)
		for _, cert := range cs.PeerCertificates {
			sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			j.Certificates = append(j.Certificates, probeCertJSON{
				Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), DNSNames: cert.DNSNames,
				NotBefore: cert.NotBefore.UTC().Format(time.RFC3339), NotAfter: cert.NotAfter.UTC().Format(time.RFC3339),
				SPKI: hex.EncodeToString(sum[:]),
			})
		}
	}
	ext := sess.Extensions()
	if d := ext.Domain(); d != "" {
		j.EHLOAfter = append(j.EHLOAfter, d)
	}
	for _, k := range ext.Keywords() {
		if p, ok := ext.Params(k); ok && p != "" {
			k += " " + p
		}
		j.EHLOAfter = append(j.EHLOAfter, k)
	}
	j.RequireTLS = ext.Has("REQUIRETLS")
	_ = sess.Quit(ctx)
	return printProbe(e, c.json, j, code)
}

func printProbe(e env, asJSON bool, j probeJSON, code int) int {
	if asJSON {
		return printJSON(e, j, code)
	}
	w := e.stdout
	fmt.Fprintf(w, "server:      %s\n", j.Server)
	fmt.Fprintf(w, "level:       %s\n", j.Level)
	for _, l := range j.Greeting {
		fmt.Fprintf(w, "greeting:    %s\n", l)
	}
	for _, l := range j.EHLOBefore {
		fmt.Fprintf(w, "before TLS:  %s\n", l)
	}
	for _, l := range j.STARTTLSReply {
		fmt.Fprintf(w, "STARTTLS:    %s\n", l)
	}
	if j.TLSVersion != "" {
		fmt.Fprintf(w, "tls:         %s, %s\n", j.TLSVersion, j.Cipher)
	}
	for i, c := range j.Certificates {
		fmt.Fprintf(w, "certificate: [%d] %s\n", i, c.Subject)
		fmt.Fprintf(w, "             issuer %s\n", c.Issuer)
		if len(c.DNSNames) > 0 {
			fmt.Fprintf(w, "             names %s\n", strings.Join(c.DNSNames, ", "))
		}
		fmt.Fprintf(w, "             valid %s to %s\n", c.NotBefore, c.NotAfter)
		fmt.Fprintf(w, "             spki sha256 %s\n", c.SPKI)
	}
	for _, l := range j.EHLOAfter {
		fmt.Fprintf(w, "after TLS:   %s\n", l)
	}
	if j.Plaintext != "" {
		fmt.Fprintf(w, "plaintext:   %s\n", j.Plaintext)
	}
	if j.Passed {
		fmt.Fprintf(w, "requiretls:  %v\n", j.RequireTLS)
		fmt.Fprintf(w, "verified:    %s\n", j.Authentication)
		fmt.Fprintf(w, "result:      level %s met\n", j.Level)
	} else {
		if j.Result != "" {
			fmt.Fprintf(w, "tls-rpt:     %s\n", j.Result)
		}
		fmt.Fprintf(w, "result:      level %s NOT met: %s\n", j.Level, j.Error)
	}
	return code
}
