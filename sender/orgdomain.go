package sender

import (
	"strings"

	"golang.org/x/net/publicsuffix"
)

// SuffixList is a public suffix list. Its one method has the signature of
// golang.org/x/net/publicsuffix.PublicSuffix, so a caller can plug in a list
// fresher than the one compiled into x/net (for example one built from a
// downloaded public_suffix_list.dat) without changing anything else.
type SuffixList interface {
	// PublicSuffix returns the public suffix of domain (a lower-case
	// A-label name without a trailing dot) and whether it comes from the
	// ICANN section of the list. For a name that no rule matches, it
	// returns the last label and false.
	PublicSuffix(domain string) (suffix string, icann bool)
}

// XNetSuffixList is the SuffixList of golang.org/x/net/publicsuffix, the one
// used when Checker.SuffixList is nil.
type XNetSuffixList struct{}

// PublicSuffix calls publicsuffix.PublicSuffix.
func (XNetSuffixList) PublicSuffix(domain string) (string, bool) {
	return publicsuffix.PublicSuffix(domain)
}

// OrganizationalDomain returns the organizational domain of domain (RFC 7489
// §3.2) using only the ICANN section of list: rules from the private section
// (github.io, blogspot.com, ...) are skipped, as RFC 7489 erratum 6729 and
// mox do, so foo.github.io has the organizational domain github.io. A domain
// that is itself a public suffix, or above one, is its own organizational
// domain, so it aligns in relaxed mode only with itself.
//
// domain must be normalised (lower-case A-labels, no trailing dot). A nil
// list means XNetSuffixList. OrganizationalDomain is pure.
func OrganizationalDomain(list SuffixList, domain string) string {
	if list == nil {
		list = XNetSuffixList{}
	}
	if domain == "" {
		return ""
	}
	s := domain
	var suffix string
	for {
		var icann bool
		suffix, icann = list.PublicSuffix(s)
		if suffix == "" || len(suffix) > len(s) || !strings.HasSuffix(s, suffix) {
			// A misbehaving list: treat the last label as the suffix.
			suffix = lastLabels(domain, 1)
			break
		}
		if icann {
			break
		}
		// A private rule, or no rule at all: walk up past its first label
		// and ask again, until an ICANN rule or a single label is left.
		i := strings.IndexByte(suffix, '.')
		if i < 0 {
			break
		}
		s = suffix[i+1:]
	}
	// RFC 7489 §3.2 step 3: the organizational domain is the public suffix
	// plus one label; a name that is no longer than its suffix is its own.
	n := strings.Count(suffix, ".") + 2
	if strings.Count(domain, ".")+1 < n {
		return domain
	}
	return lastLabels(domain, n)
}

// lastLabels returns the last n labels of name (all of it when shorter).
func lastLabels(name string, n int) string {
	i := len(name)
	for ; n > 0; n-- {
		j := strings.LastIndexByte(name[:i], '.')
		if j < 0 {
			return name
		}
		i = j
	}
	return name[i+1:]
}

// labelCount returns the number of labels of a non-empty name.
func labelCount(name string) int { return strings.Count(name, ".") + 1 }
