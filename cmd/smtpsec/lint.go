package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/spf"
)

// RFC 7208 §4.6.4 limits, which lint reports against.
const (
	lintMaxLookups     = 10
	lintMaxVoidLookups = 2
	lintMaxMXNames     = 10
	lintMaxDepth       = 20 // include/redirect nesting followed; deeper is reported
)

// lintNode is one SPF record in the tree of includes and redirects.
type lintNode struct {
	Domain   string        `json:"domain"`
	Via      string        `json:"via,omitempty"` // the parent's term that led here
	Record   string        `json:"record,omitempty"`
	Lookups  int           `json:"lookups"`      // DNS-querying terms of this record itself
	Void     int           `json:"void_lookups"` // of those, the ones that found nothing
	Problems []lintProblem `json:"problems,omitempty"`
	Children []*lintNode   `json:"children,omitempty"`
}

type lintProblem struct {
	Severity string `json:"severity"` // "error" or "warning"
	Term     string `json:"term,omitempty"`
	Message  string `json:"message"`
}

type lintReport struct {
	Domain       string    `json:"domain"`
	Tree         *lintNode `json:"tree"`
	TotalLookups int       `json:"total_lookups"`
	LookupLimit  int       `json:"lookup_limit"`
	VoidLookups  int       `json:"void_lookups"`
	VoidLimit    int       `json:"void_limit"`
	Errors       int       `json:"errors"`
	Warnings     int       `json:"warnings"`
	Temporary    bool      `json:"temporary_failure"`
}

type linter struct {
	r    dnsResolver
	temp bool
}

func spfLint(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("spf lint", flag.ContinueOnError)
	var c common
	c.register(fs)
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
	l := &linter{r: r}
	rep := lintReport{Domain: domain, LookupLimit: lintMaxLookups, VoidLimit: lintMaxVoidLookups}
	rep.Tree = l.walk(ctx, domain, "", nil)
	var sum func(n *lintNode)
	sum = func(n *lintNode) {
		rep.TotalLookups += n.Lookups
		rep.VoidLookups += n.Void
		for _, p := range n.Problems {
			if p.Severity == "error" {
				rep.Errors++
			} else {
				rep.Warnings++
			}
		}
		for _, ch := range n.Children {
			sum(ch)
		}
	}
	sum(rep.Tree)
	if rep.TotalLookups > lintMaxLookups {
		rep.Tree.Problems = append(rep.Tree.Problems, lintProblem{"error", "", fmt.Sprintf(
			"%d DNS-querying terms exceed the limit of %d: receivers stop with permerror (RFC 7208 §4.6.4)",
			rep.TotalLookups, lintMaxLookups)})
		rep.Errors++
	}
	if rep.VoidLookups > lintMaxVoidLookups {
		rep.Tree.Problems = append(rep.Tree.Problems, lintProblem{"error", "", fmt.Sprintf(
			"%d void lookups exceed the limit of %d: receivers stop with permerror (RFC 7208 §4.6.4)",
			rep.VoidLookups, lintMaxVoidLookups)})
		rep.Errors++
	}
	rep.Temporary = l.temp
	code = exitOK
	switch {
	case l.temp:
		code = exitTemp
	case rep.Errors > 0:
		code = exitNegative
	}
	if c.json {
		return printJSON(e, rep, code)
	}
	printLint(e.stdout, rep.Tree, 0)
	fmt.Fprintf(e.stdout, "total lookups: %d of %d\n", rep.TotalLookups, lintMaxLookups)
	fmt.Fprintf(e.stdout, "void lookups:  %d of %d\n", rep.VoidLookups, lintMaxVoidLookups)
	fmt.Fprintf(e.stdout, "%d error(s), %d warning(s)\n", rep.Errors, rep.Warnings)
	return code
}

func printLint(w io.Writer, n *lintNode, depth int) {
	ind := strings.Repeat("  ", depth)
	if n.Via != "" {
		fmt.Fprintf(w, "%s%s\n", ind, n.Via)
	} else {
		fmt.Fprintf(w, "%s%s\n", ind, n.Domain)
	}
	if n.Record != "" {
		fmt.Fprintf(w, "%s  record:  %s\n", ind, n.Record)
		fmt.Fprintf(w, "%s  lookups: %d", ind, n.Lookups)
		if n.Void > 0 {
			fmt.Fprintf(w, " (%d void)", n.Void)
		}
		fmt.Fprintln(w)
	}
	for _, p := range n.Problems {
		if p.Term != "" {
			fmt.Fprintf(w, "%s  %s: %s: %s\n", ind, p.Severity, p.Term, p.Message)
		} else {
			fmt.Fprintf(w, "%s  %s: %s\n", ind, p.Severity, p.Message)
		}
	}
	for _, ch := range n.Children {
		printLint(w, ch, depth+1)
	}
}

func (n *lintNode) problem(sev, term, format string, args ...any) {
	n.Problems = append(n.Problems, lintProblem{sev, term, fmt.Sprintf(format, args...)})
}

// lookupFailed records a lookup error on n: a temporary failure makes the
// whole lint inconclusive.
func (l *linter) lookupFailed(n *lintNode, term, what string, err error) {
	if !resolver.IsNotFound(err) {
		l.temp = true
	}
	n.problem("error", term, "%s: %v", what, err)
}

// walk lints the record of domain, reached through via ("" for the top),
// with path the domains above it.
func (l *linter) walk(ctx context.Context, domain, via string, path []string) *lintNode {
	n := &lintNode{Domain: domain, Via: via}
	for _, p := range path {
		if p == domain {
			n.problem("error", "", "loop: %s includes itself through %s; receivers stop with permerror", domain, strings.Join(path, " > "))
			return n
		}
	}
	if len(path) >= lintMaxDepth {
		n.problem("error", "", "nested more than %d deep; not followed", lintMaxDepth)
		return n
	}
	txts, err := l.r.LookupTXT(ctx, domain)
	if err != nil && !resolver.IsNotFound(err) {
		l.lookupFailed(n, "", "TXT lookup", err)
		return n
	}
	// RFC 7208 §4.5: records start with "v=spf1" followed by a space or the end.
	var recs []string
	for _, t := range txts {
		if len(t) >= 6 && strings.EqualFold(t[:6], "v=spf1") && (len(t) == 6 || t[6] == ' ') {
			recs = append(recs, t)
		}
	}
	switch {
	case len(recs) == 0 && via == "":
		n.problem("error", "", "no SPF record: receivers get none (RFC 7208 §4.5)")
		return n
	case len(recs) == 0:
		n.problem("error", "", "no SPF record at %s: the %s ends in permerror (RFC 7208 §5.2, §6.1)", domain, via)
		return n
	case len(recs) > 1:
		n.Record = recs[0]
		n.problem("error", "", "%d SPF records: receivers get permerror (RFC 7208 §4.5)", len(recs))
		return n
	}
	n.Record = recs[0]
	rec, err := spf.ParseRecord(recs[0])
	if err != nil {
		var se *spf.SyntaxError
		if errors.As(err, &se) {
			n.problem("error", se.Term, "syntax error: %v; receivers get permerror (RFC 7208 §4.6)", se.Err)
		} else {
			n.problem("error", "", "syntax error: %v", err)
		}
		return n
	}
	path = append(path, domain)
	hasAll := false
	for i := range rec.Directives {
		d := &rec.Directives[i]
		term := d.String()
		target := d.Domain
		if target == "" {
			target = domain
		}
		macro := strings.Contains(target, "%")
		switch d.Mechanism {
		case spf.MechanismAll:
			hasAll = true
			if d.Qualifier == 0 || d.Qualifier == spf.QualifierPass {
				n.problem("warning", term, "passes every host on the Internet")
			}
			if i < len(rec.Directives)-1 {
				n.problem("warning", term, "terms after all are never evaluated")
			}
		case spf.MechanismInclude:
			n.Lookups++
			if macro {
				n.problem("warning", term, "target holds macros; depends on each message, not followed")
				continue
			}
			n.Children = append(n.Children, l.walk(ctx, strings.ToLower(dnsname.Relative(target)), term, path))
		case spf.MechanismA:
			n.Lookups++
			if !macro {
				l.checkAddrs(ctx, n, term, target)
			}
		case spf.MechanismMX:
			n.Lookups++
			if !macro {
				l.checkMX(ctx, n, term, target)
			}
		case spf.MechanismPTR:
			n.Lookups++
			n.problem("warning", term, "ptr is slow and unreliable; it SHOULD NOT be used (RFC 7208 §5.5)")
		case spf.MechanismExists:
			n.Lookups++
		}
	}
	if rec.Redirect != "" {
		if hasAll {
			n.problem("warning", "redirect="+rec.Redirect, "ignored because the record has an all mechanism (RFC 7208 §6.1)")
		} else {
			n.Lookups++
			if strings.Contains(rec.Redirect, "%") {
				n.problem("warning", "redirect="+rec.Redirect, "target holds macros; not followed")
			} else {
				n.Children = append(n.Children, l.walk(ctx, strings.ToLower(dnsname.Relative(rec.Redirect)), "redirect="+rec.Redirect, path))
			}
		}
	} else if !hasAll && via == "" {
		n.problem("warning", "", "no all mechanism and no redirect: hosts that match nothing get neutral (RFC 7208 §4.7)")
	}
	return n
}

func (l *linter) checkAddrs(ctx context.Context, n *lintNode, term, host string) {
	a4, err4 := l.r.LookupNetIP(ctx, "ip4", host)
	a6, err6 := l.r.LookupNetIP(ctx, "ip6", host)
	for _, err := range []error{err4, err6} {
		if err != nil && !resolver.IsNotFound(err) {
			l.lookupFailed(n, term, "address lookup", err)
			return
		}
	}
	if len(a4)+len(a6) == 0 {
		n.Void++
		n.problem("warning", term, "%s has no addresses: a void lookup (RFC 7208 §4.6.4)", host)
	}
}

func (l *linter) checkMX(ctx context.Context, n *lintNode, term, domain string) {
	mxs, err := l.r.LookupMX(ctx, domain)
	if err != nil && !resolver.IsNotFound(err) {
		l.lookupFailed(n, term, "MX lookup", err)
		return
	}
	if len(mxs) == 0 {
		n.Void++
		n.problem("warning", term, "%s has no MX records: a void lookup (RFC 7208 §4.6.4)", domain)
		return
	}
	if len(mxs) > lintMaxMXNames {
		n.problem("error", term, "%d MX names exceed the limit of %d: receivers get permerror (RFC 7208 §4.6.4)", len(mxs), lintMaxMXNames)
	}
}
