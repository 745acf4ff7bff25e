package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/smtpsec/smtpsec/sender"
)

// dmarcJSON is the JSON form of the dmarc command's result.
type dmarcJSON struct {
	Domain          string   `json:"domain"`
	PolicyDomain    string   `json:"policy_domain,omitempty"`
	OrgDomain       string   `json:"organizational_domain"`
	Status          string   `json:"status,omitempty"`
	Error           string   `json:"error,omitempty"`
	Record          string   `json:"record,omitempty"`
	Policy          string   `json:"policy,omitempty"`
	EffectivePolicy string   `json:"effective_policy,omitempty"` // the policy for mail from Domain
	SubdomainPolicy string   `json:"subdomain_policy,omitempty"`
	DKIMAlignment   string   `json:"adkim,omitempty"`
	SPFAlignment    string   `json:"aspf,omitempty"`
	Percent         int      `json:"pct"`
	AggregateURIs   []string `json:"rua,omitempty"`
	FailureURIs     []string `json:"ruf,omitempty"`
	Queries         []string `json:"queries"`
}

func dmarcRun(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("dmarc", flag.ContinueOnError)
	var c common
	c.register(fs)
	bis := fs.Bool("dmarcbis", false, "discover with the DMARCbis DNS tree walk instead of the public suffix list")
	domain, code, ok := parseName(fs, args, e, "DOMAIN")
	if !ok {
		return code
	}
	r, err := c.resolver()
	if err != nil {
		return fail(e, exitUsage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	chk := &sender.Checker{Resolver: r, DMARCbis: *bis, AuthservID: "smtpsec"}
	d, lerr := chk.LookupDMARC(ctx, domain)
	j := dmarcJSON{Domain: d.Domain, PolicyDomain: d.PolicyDomain, OrgDomain: d.OrgDomain,
		Status: string(d.Status), Queries: d.Queries}
	if d.Err != nil {
		j.Error = d.Err.Error()
	}
	if rec := d.Record; rec != nil {
		j.Record = rec.String()
		j.Policy = string(rec.Policy)
		j.EffectivePolicy = string(rec.Policy)
		// RFC 7489 §6.6.3: sp= applies when the record came from the
		// organizational domain and the author domain is below it.
		if d.PolicyDomain != d.Domain && rec.SubdomainPolicy != "" {
			j.EffectivePolicy = string(rec.SubdomainPolicy)
		}
		j.SubdomainPolicy = string(rec.SubdomainPolicy)
		j.DKIMAlignment = string(rec.EffectiveDKIMAlignment())
		j.SPFAlignment = string(rec.EffectiveSPFAlignment())
		j.Percent = rec.EffectivePercent()
		for _, u := range rec.AggregateURIs {
			j.AggregateURIs = append(j.AggregateURIs, u.String())
		}
		for _, u := range rec.FailureURIs {
			j.FailureURIs = append(j.FailureURIs, u.String())
		}
	}
	if j.Queries == nil {
		j.Queries = []string{}
	}
	code = exitOK
	switch {
	case lerr != nil && d.Status == sender.StatusTempError:
		code = exitTemp
	case d.Record == nil:
		code = exitNegative
	}
	if c.json {
		return printJSON(e, j, code)
	}
	w := e.stdout
	fmt.Fprintf(w, "domain:                %s\n", j.Domain)
	fmt.Fprintf(w, "organizational domain: %s\n", j.OrgDomain)
	if d.Record == nil {
		fmt.Fprintf(w, "record:                none (%s)\n", orDefault(j.Status, "none"))
		if j.Error != "" {
			fmt.Fprintf(w, "problem:               %s\n", j.Error)
		}
	} else {
		fmt.Fprintf(w, "policy domain:         %s\n", j.PolicyDomain)
		fmt.Fprintf(w, "record:                %s\n", j.Record)
		fmt.Fprintf(w, "policy:                %s\n", j.EffectivePolicy)
		fmt.Fprintf(w, "alignment:             dkim %s, spf %s\n", j.DKIMAlignment, j.SPFAlignment)
		fmt.Fprintf(w, "percent:               %d\n", j.Percent)
		for _, u := range j.AggregateURIs {
			fmt.Fprintf(w, "aggregate reports:     %s\n", u)
		}
		for _, u := range j.FailureURIs {
			fmt.Fprintf(w, "failure reports:       %s\n", u)
		}
	}
	for _, q := range j.Queries {
		fmt.Fprintf(w, "queried:               %s TXT\n", q)
	}
	return code
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
