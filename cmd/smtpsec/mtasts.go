package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/starttls/mtasts"
	"github.com/smtpsec/smtpsec/starttls/tlsrpt"
)

type mtastsMX struct {
	Host    string `json:"host"`
	Allowed bool   `json:"allowed"`
}

type mtastsJSON struct {
	Domain       string     `json:"domain"`
	Record       string     `json:"record,omitempty"`
	RecordError  string     `json:"record_error,omitempty"`
	PolicySource string     `json:"policy_source,omitempty"` // the URL or file the policy came from
	Policy       []string   `json:"policy,omitempty"`        // its lines, as parsed
	Mode         string     `json:"mode,omitempty"`
	MaxAge       int64      `json:"max_age,omitempty"`
	PolicyError  string     `json:"policy_error,omitempty"`
	MX           []mtastsMX `json:"mx"`
	MXError      string     `json:"mx_error,omitempty"`
	TLSRPT       string     `json:"tlsrpt,omitempty"`
	Usable       bool       `json:"usable"`
}

func mtastsRun(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("mtasts", flag.ContinueOnError)
	var c common
	c.register(fs)
	policyFile := fs.String("policy", "", "read the policy from this `file` instead of fetching it over HTTPS")
	domain, code, ok := parseName(fs, args, e, "DOMAIN")
	if !ok {
		return code
	}
	var policyText []byte
	if *policyFile != "" {
		var err error
		if policyText, err = os.ReadFile(*policyFile); err != nil {
			return fail(e, exitUsage, err)
		}
	}
	r, err := c.resolver()
	if err != nil {
		return fail(e, exitUsage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	j := mtastsJSON{Domain: domain, MX: []mtastsMX{}}
	temp := false // a lookup got no definite answer
	// RFC 8461 §3.1: the TXT record says a policy exists and names its id.
	rec, err := mtasts.LookupRecord(ctx, r, domain)
	if err != nil {
		j.RecordError = err.Error()
		temp = errors.Is(err, mtasts.ErrDNS)
	} else {
		j.Record = rec.String()
	}
	// RFC 8461 §3.2: the policy file.
	var pol *mtasts.Policy
	var perr error
	if policyText != nil {
		j.PolicySource = *policyFile
		pol, perr = mtasts.ParsePolicy(string(policyText))
	} else if rec != nil {
		j.PolicySource = mtasts.PolicyURL(domain)
		pol, perr = mtasts.Fetch(ctx, nil, domain)
	}
	if perr != nil {
		j.PolicyError = perr.Error()
	}
	if pol != nil {
		j.Policy = pol.Lines()
		j.Mode = string(pol.Mode)
		j.MaxAge = int64(pol.MaxAge.Seconds())
	}
	// RFC 8461 §4.1: every MX host must match the policy.
	allMatch := true
	mxs, err := r.LookupMX(ctx, domain)
	switch {
	case resolver.IsNotFound(err):
		// RFC 5321 §5.1: without MX records, mail goes to the domain itself.
		mxs = []*net.MX{{Host: domain, Pref: 0}}
	case err != nil:
		j.MXError = err.Error()
		temp = true
		allMatch = false
	}
	for _, mx := range mxs {
		host := dnsname.Relative(mx.Host)
		m := mtastsMX{Host: host, Allowed: pol != nil && pol.Match(host)}
		allMatch = allMatch && m.Allowed
		j.MX = append(j.MX, m)
	}
	if tr, err := tlsrpt.LookupRecord(ctx, r, domain); err == nil {
		j.TLSRPT = tr.String()
	}
	j.Usable = rec != nil && pol != nil && (pol.Mode == mtasts.None || allMatch)
	code = exitOK
	switch {
	case temp:
		code = exitTemp
	case !j.Usable:
		code = exitNegative
	}
	if c.json {
		return printJSON(e, j, code)
	}
	w := e.stdout
	fmt.Fprintf(w, "domain:  %s\n", domain)
	if j.Record != "" {
		fmt.Fprintf(w, "record:  %s\n", j.Record)
	} else {
		fmt.Fprintf(w, "record:  none (%s)\n", j.RecordError)
	}
	if j.PolicySource != "" {
		fmt.Fprintf(w, "policy:  %s\n", j.PolicySource)
	}
	for _, l := range j.Policy {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if j.PolicyError != "" {
		fmt.Fprintf(w, "policy error: %s\n", j.PolicyError)
	}
	for _, m := range j.MX {
		verdict := "allowed by the policy"
		switch {
		case pol == nil:
			verdict = "no policy applies"
		case !m.Allowed:
			verdict = "NOT allowed by the policy: senders will not deliver to it"
		}
		fmt.Fprintf(w, "mx:      %s: %s\n", m.Host, verdict)
	}
	if j.MXError != "" {
		fmt.Fprintf(w, "mx error: %s\n", j.MXError)
	}
	if j.TLSRPT != "" {
		fmt.Fprintf(w, "tls-rpt: %s\n", j.TLSRPT)
	}
	if j.Usable {
		fmt.Fprintf(w, "usable:  yes, mode %s\n", j.Mode)
	} else {
		fmt.Fprintf(w, "usable:  no\n")
	}
	return code
}
