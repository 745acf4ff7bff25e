package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/miekg/dns"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/starttls/dane"
)

type daneRecordJSON struct {
	Record      string `json:"record"`
	Description string `json:"description"`
	Problem     string `json:"problem,omitempty"`
}

type daneJSON struct {
	Host        string           `json:"host"`
	Port        int              `json:"port"`
	Domain      string           `json:"domain,omitempty"`
	MXSecure    bool             `json:"mx_secure"`
	Status      string           `json:"status"`
	BaseDomain  string           `json:"tlsa_base_domain,omitempty"`
	Addrs       []string         `json:"addresses"`
	AddrsSecure bool             `json:"addresses_secure"`
	Records     []daneRecordJSON `json:"usable_records"`
	Unusable    []daneRecordJSON `json:"unusable_records"`
	Names       []string         `json:"reference_names,omitempty"`
	Error       string           `json:"error,omitempty"`
}

func daneRun(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("dane", flag.ContinueOnError)
	var c common
	c.register(fs)
	port := fs.Int("port", 25, "SMTP `port`, for the TLSA name _PORT._tcp.HOST")
	domainFlag := fs.String("domain", "", "the next-hop `domain` whose MX HOST is (its MX lookup must be secure)")
	assumeSecure := fs.Bool("assume-secure", false, "with --zone: treat the zone as DNSSEC-signed and validated")
	host, code, ok := parseName(fs, args, e, "HOST")
	if !ok {
		return code
	}
	if *port < 1 || *port > 65535 {
		return usageError(e, "--port must be 1 to 65535")
	}
	if *assumeSecure && c.zone == "" {
		return usageError(e, "--assume-secure needs --zone")
	}
	r, err := c.resolver()
	if err != nil {
		return fail(e, exitUsage, err)
	}
	if z, ok := r.(*resolver.Zone); ok && *assumeSecure {
		if err := z.SetSecure(".", true); err != nil {
			return fail(e, exitUsage, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	in := dane.Input{Host: host, Port: *port, Domain: host, MXSecure: true}
	j := daneJSON{Host: host, Port: *port, Addrs: []string{}, Records: []daneRecordJSON{}, Unusable: []daneRecordJSON{}}
	if *domainFlag != "" {
		d, err := dnsname.Normalize(*domainFlag)
		if err != nil {
			return usageError(e, "--domain: %v", err)
		}
		// RFC 7672 §2.2.1: DANE applies only when the MX RRset is secure.
		ans, err := r.Query(ctx, d, dns.TypeMX)
		if err != nil {
			return fail(e, exitTemp, err)
		}
		in.Domain, in.MXSecure, j.Domain = d, ans.Authentic, d
		if len(ans.CNAMEs) > 0 {
			in.ExpandedDomain = dnsname.Relative(ans.CNAMEs[len(ans.CNAMEs)-1].Target)
		}
	}
	j.MXSecure = in.MXSecure
	h, err := dane.Lookup(ctx, r, in)
	code = exitOK
	switch {
	case err != nil:
		j.Status = "lookup failed: this MX host must not be used (RFC 7672 §2.1.1)"
		j.Error = err.Error()
		code = exitNegative
		if errors.Is(err, dane.ErrLookup) {
			code = exitTemp
		}
	default:
		j.Status = h.Status.String()
		j.BaseDomain = h.BaseDomain
		j.AddrsSecure = h.AddrsSecure
		j.Names = h.Names
		for _, a := range h.Addrs {
			j.Addrs = append(j.Addrs, a.String())
		}
		for _, t := range h.Records {
			j.Records = append(j.Records, daneRecordJSON{Record: t.String(), Description: describeTLSA(t)})
		}
		for _, t := range h.Unusable {
			rj := daneRecordJSON{Record: t.String(), Description: describeTLSA(t)}
			if err := t.Check(); err != nil {
				rj.Problem = err.Error()
			}
			j.Unusable = append(j.Unusable, rj)
		}
		if h.Status != dane.Authenticated {
			code = exitNegative
		}
	}
	if c.json {
		return printJSON(e, j, code)
	}
	w := e.stdout
	fmt.Fprintf(w, "host:        %s port %d\n", j.Host, j.Port)
	if j.Domain != "" {
		fmt.Fprintf(w, "domain:      %s (MX lookup secure: %v)\n", j.Domain, j.MXSecure)
	}
	fmt.Fprintf(w, "status:      %s\n", j.Status)
	if j.Error != "" {
		fmt.Fprintf(w, "error:       %s\n", j.Error)
	}
	if j.BaseDomain != "" {
		fmt.Fprintf(w, "base domain: %s (send it as SNI)\n", j.BaseDomain)
	}
	for _, a := range j.Addrs {
		fmt.Fprintf(w, "address:     %s (secure: %v)\n", a, j.AddrsSecure)
	}
	for _, t := range j.Records {
		fmt.Fprintf(w, "usable:      %s  (%s)\n", t.Record, t.Description)
	}
	for _, t := range j.Unusable {
		fmt.Fprintf(w, "unusable:    %s  (%s: %s)\n", t.Record, t.Description, t.Problem)
	}
	for _, n := range j.Names {
		fmt.Fprintf(w, "name:        %s\n", n)
	}
	return code
}

// describeTLSA names a record's fields with the acronyms of RFC 7218.
func describeTLSA(t dane.TLSA) string {
	usage := map[dane.Usage]string{0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}[t.Usage]
	sel := map[dane.Selector]string{0: "Cert", 1: "SPKI"}[t.Selector]
	mt := map[dane.MatchingType]string{0: "Full", 1: "SHA2-256", 2: "SHA2-512"}[t.MatchingType]
	for _, p := range []*string{&usage, &sel, &mt} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return usage + " " + sel + " " + mt
}
