package spf

import (
	"net/netip"
	"strconv"
	"strings"
)

// Result is the outcome of an SPF check (RFC 7208 §2.6). The values are the
// RFC tokens, so a Result goes into a header as it is.
type Result string

// The results of RFC 7208 §2.6.
const (
	None      Result = "none"      // no usable domain, or no SPF record (§2.6.1)
	Neutral   Result = "neutral"   // the domain makes no assertion (§2.6.2)
	Pass      Result = "pass"      // the client is authorized (§2.6.3)
	Fail      Result = "fail"      // the client is not authorized (§2.6.4)
	SoftFail  Result = "softfail"  // probably not authorized (§2.6.5)
	TempError Result = "temperror" // a transient (DNS) error (§2.6.6)
	PermError Result = "permerror" // the record is broken (§2.6.7)
)

// Qualifier is the prefix of a directive (RFC 7208 §4.6.2).
type Qualifier byte

// The qualifiers. A directive without one has Qualifier 0, which means
// QualifierPass.
const (
	QualifierPass     Qualifier = '+'
	QualifierFail     Qualifier = '-'
	QualifierSoftFail Qualifier = '~'
	QualifierNeutral  Qualifier = '?'
)

// Result returns the result a matching directive with this qualifier gives.
func (q Qualifier) Result() Result {
	switch q {
	case QualifierFail:
		return Fail
	case QualifierSoftFail:
		return SoftFail
	case QualifierNeutral:
		return Neutral
	default:
		return Pass
	}
}

// Mechanism is the name of a mechanism (RFC 7208 §5).
type Mechanism string

// The mechanisms of RFC 7208 §5.
const (
	MechanismAll     Mechanism = "all"
	MechanismInclude Mechanism = "include"
	MechanismA       Mechanism = "a"
	MechanismMX      Mechanism = "mx"
	MechanismPTR     Mechanism = "ptr"
	MechanismIP4     Mechanism = "ip4"
	MechanismIP6     Mechanism = "ip6"
	MechanismExists  Mechanism = "exists"
)

// Directive is a mechanism with its qualifier (RFC 7208 §4.6.1).
type Directive struct {
	// Qualifier is 0 when the directive has none (the same as '+').
	Qualifier Qualifier
	Mechanism Mechanism
	// Domain is the domain-spec as written, macros unexpanded, for include,
	// exists (required) and a, mx, ptr (optional; "" means the current
	// domain).
	Domain string
	// Prefix is the network of ip4 and ip6.
	Prefix netip.Prefix
	// CIDR4 and CIDR6 are the dual CIDR lengths of a and mx (RFC 7208
	// §5.6), -1 when absent (meaning 32 and 128).
	CIDR4, CIDR6 int

	text     string // as written, for Outcome.Mechanism
	hasMacro bool   // Domain holds a '%'
}

// String returns the directive in canonical form.
func (d *Directive) String() string {
	var b strings.Builder
	d.appendTo(&b)
	return b.String()
}

func (d *Directive) appendTo(b *strings.Builder) {
	if d.Qualifier != 0 {
		b.WriteByte(byte(d.Qualifier))
	}
	b.WriteString(string(d.Mechanism))
	switch d.Mechanism {
	case MechanismIP4, MechanismIP6:
		b.WriteByte(':')
		b.WriteString(d.Prefix.Addr().String())
		if d.Prefix.Bits() != d.Prefix.Addr().BitLen() {
			b.WriteByte('/')
			b.WriteString(strconv.Itoa(d.Prefix.Bits()))
		}
		return
	}
	if d.Domain != "" {
		b.WriteByte(':')
		b.WriteString(d.Domain)
	}
	if d.CIDR4 >= 0 && (d.Mechanism == MechanismA || d.Mechanism == MechanismMX) {
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(d.CIDR4))
	}
	if d.CIDR6 >= 0 && (d.Mechanism == MechanismA || d.Mechanism == MechanismMX) {
		b.WriteString("//")
		b.WriteString(strconv.Itoa(d.CIDR6))
	}
}

// term returns the directive as written when it came from the parser.
func (d *Directive) term() string {
	if d.text != "" {
		return d.text
	}
	return d.String()
}

// Modifier is a name=value term other than redirect and exp (RFC 7208
// §6.3: unknown modifiers are ignored, but their value must be a valid
// macro-string).
type Modifier struct {
	Name  string
	Value string
}

// Record is a parsed SPF record (RFC 7208 §4.6, §12). ParseRecord returns a
// fresh Record that the caller may change; String renders it.
type Record struct {
	Directives []Directive
	// Redirect is the domain-spec of redirect=, "" when absent (RFC 7208
	// §6.1).
	Redirect string
	// Exp is the domain-spec of exp=, "" when absent (RFC 7208 §6.2).
	Exp string
	// Modifiers holds the unknown modifiers, in order.
	Modifiers []Modifier

	hasAll       bool
	redirectText string
}

// String returns the record in canonical form: "v=spf1", the directives in
// order, redirect, exp, then the other modifiers. ParseRecord(r.String())
// gives back an equal record.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=spf1")
	for i := range r.Directives {
		b.WriteByte(' ')
		r.Directives[i].appendTo(&b)
	}
	if r.Redirect != "" {
		b.WriteString(" redirect=")
		b.WriteString(r.Redirect)
	}
	if r.Exp != "" {
		b.WriteString(" exp=")
		b.WriteString(r.Exp)
	}
	for _, m := range r.Modifiers {
		b.WriteByte(' ')
		b.WriteString(m.Name)
		b.WriteByte('=')
		b.WriteString(m.Value)
	}
	return b.String()
}

// isSPFRecord reports whether a TXT string is an SPF version 1 record: it
// begins with "v=spf1" (ASCII case-insensitive) followed by a space or the
// end (RFC 7208 §4.5).
func isSPFRecord(s string) bool {
	if len(s) < 6 || !strings.EqualFold(s[:6], "v=spf1") {
		return false
	}
	return len(s) == 6 || s[6] == ' '
}

// ParseRecord parses an SPF record, checking the whole record against the
// RFC 7208 §12 grammar (§4.6: an error anywhere makes the record invalid,
// even after a term that would match). It is pure: no DNS, no context. Errors
// are *SyntaxError, which wraps ErrSyntax.
func ParseRecord(s string) (*Record, error) {
	return parseRecord(s)
}

func parseRecord(s string) (*Record, error) {
	if !isSPFRecord(s) {
		return nil, &SyntaxError{Record: s, Err: ErrNotSPF}
	}
	// RFC 7208 §3.1, §4.6.1: the record is US-ASCII; terms are separated by
	// SP only.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return nil, &SyntaxError{Record: s, Offset: i, Err: ErrInvalidCharacter}
		}
	}
	r := &Record{}
	// Count terms first so the directives slice is allocated once.
	n := 0
	for t := range strings.FieldsSeq(s[6:]) {
		_ = t
		n++
	}
	if n > 0 {
		r.Directives = make([]Directive, 0, n)
	}
	i := 6
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			break
		}
		j := i
		for j < len(s) && s[j] != ' ' {
			j++
		}
		if err := r.parseTerm(s[i:j]); err != nil {
			return nil, &SyntaxError{Record: s, Offset: i, Term: s[i:j], Err: err}
		}
		i = j
	}
	if len(r.Directives) == 0 {
		r.Directives = nil
	}
	return r, nil
}

// parseTerm parses one term (RFC 7208 §4.6.1, §12).
func (r *Record) parseTerm(t string) error {
	// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ): a modifier when
	// "=" follows the name directly.
	n := 0
	for n < len(t) && isNameChar(t[n], n == 0) {
		n++
	}
	if n > 0 && n < len(t) && t[n] == '=' {
		return r.parseModifier(t[:n], t[n+1:])
	}
	d := Directive{CIDR4: -1, CIDR6: -1, text: t}
	rest := t
	switch rest[0] {
	case '+', '-', '~', '?':
		d.Qualifier = Qualifier(rest[0])
		rest = rest[1:]
	}
	n = 0
	for n < len(rest) && (isAlpha(rest[n]) || n > 0 && isDigit(rest[n])) {
		n++
	}
	name, arg := rest[:n], rest[n:]
	switch {
	case strings.EqualFold(name, "all"):
		// RFC 7208 §5.1: "all" takes no argument.
		if arg != "" {
			return ErrInvalidTerm
		}
		d.Mechanism = MechanismAll
		r.hasAll = true
	case strings.EqualFold(name, "include"), strings.EqualFold(name, "exists"):
		d.Mechanism = MechanismInclude
		if len(name) == 6 {
			d.Mechanism = MechanismExists
		}
		// RFC 7208 §5.2, §5.7: ":" domain-spec is required.
		if len(arg) < 2 || arg[0] != ':' {
			return ErrInvalidDomainSpec
		}
		if err := d.setDomain(arg[1:]); err != nil {
			return err
		}
	case strings.EqualFold(name, "a"), strings.EqualFold(name, "mx"):
		d.Mechanism = MechanismA
		if len(name) == 2 {
			d.Mechanism = MechanismMX
		}
		// RFC 7208 §5.3, §5.4: [ ":" domain-spec ] [ dual-cidr-length ].
		arg, err := d.parseDualCIDR(arg)
		if err != nil {
			return err
		}
		if arg != "" {
			if arg[0] != ':' {
				return ErrInvalidTerm
			}
			if err := d.setDomain(arg[1:]); err != nil {
				return err
			}
		}
	case strings.EqualFold(name, "ptr"):
		d.Mechanism = MechanismPTR
		// RFC 7208 §5.5: [ ":" domain-spec ], no CIDR.
		if arg != "" {
			if arg[0] != ':' {
				return ErrInvalidTerm
			}
			if err := d.setDomain(arg[1:]); err != nil {
				return err
			}
		}
	case strings.EqualFold(name, "ip4"), strings.EqualFold(name, "ip6"):
		d.Mechanism = MechanismIP4
		if name[2] == '6' {
			d.Mechanism = MechanismIP6
		}
		if len(arg) < 2 || arg[0] != ':' {
			return ErrInvalidIPNetwork
		}
		p, err := parseIPNetwork(arg[1:], d.Mechanism == MechanismIP6)
		if err != nil {
			return err
		}
		d.Prefix = p
	default:
		if name == "" && arg == "" {
			return ErrEmptyTerm
		}
		return ErrUnknownMechanism
	}
	r.Directives = append(r.Directives, d)
	return nil
}

func (d *Directive) setDomain(spec string) error {
	if err := checkDomainSpec(spec); err != nil {
		return err
	}
	d.Domain = spec
	d.hasMacro = strings.IndexByte(spec, '%') >= 0
	return nil
}

// parseDualCIDR strips a trailing dual-cidr-length (RFC 7208 §5.6) from
// arg and returns the rest:
//
//	dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
//	ip4-cidr-length  = "/" ( "0" / %x31-39 0*1DIGIT ) ; value range 0-32
//	ip6-cidr-length  = "/" ( "0" / %x31-39 0*2DIGIT ) ; value range 0-128
func (d *Directive) parseDualCIDR(arg string) (string, error) {
	if i := strings.LastIndex(arg, "//"); i >= 0 {
		if v, ok := parseCIDRLen(arg[i+2:], 128); ok {
			d.CIDR6 = v
			arg = arg[:i]
		} else if allDigits(arg[i+2:]) {
			return "", ErrInvalidCIDR
		}
	}
	if i := strings.LastIndexByte(arg, '/'); i >= 0 {
		if v, ok := parseCIDRLen(arg[i+1:], 32); ok {
			d.CIDR4 = v
			arg = arg[:i]
		} else if allDigits(arg[i+1:]) || d.CIDR6 >= 0 && i == len(arg)-1 {
			return "", ErrInvalidCIDR
		}
	}
	return arg, nil
}

func allDigits(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parseCIDRLen parses a CIDR length without leading zeros, at most max.
func parseCIDRLen(s string, max int) (int, bool) {
	if s == "" || len(s) > 3 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	if v > max {
		return 0, false
	}
	return v, true
}

// parseIPNetwork parses ip4-network [ ip4-cidr-length ] or ip6-network
// [ ip6-cidr-length ] (RFC 7208 §5.6).
func parseIPNetwork(s string, v6 bool) (netip.Prefix, error) {
	addr, bits := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr, bits = s[:i], s[i+1:]
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" || a.Is4() == v6 {
		return netip.Prefix{}, ErrInvalidIPNetwork
	}
	n := a.BitLen()
	if i := strings.IndexByte(s, '/'); i >= 0 {
		v, ok := parseCIDRLen(bits, a.BitLen())
		if !ok {
			return netip.Prefix{}, ErrInvalidCIDR
		}
		n = v
	}
	return netip.PrefixFrom(a, n), nil
}

func (r *Record) parseModifier(name, value string) error {
	switch {
	case strings.EqualFold(name, "redirect"):
		// RFC 7208 §6: redirect and exp appear at most once.
		if r.Redirect != "" {
			return ErrDuplicateModifier
		}
		if err := checkDomainSpec(value); err != nil {
			return err
		}
		r.Redirect = value
		r.redirectText = name + "=" + value
	case strings.EqualFold(name, "exp"):
		if r.Exp != "" {
			return ErrDuplicateModifier
		}
		if err := checkDomainSpec(value); err != nil {
			return err
		}
		r.Exp = value
	default:
		// RFC 7208 §6.3: unknown-modifier = name "=" macro-string.
		if err := checkMacroString(value, macroAll); err != nil {
			return err
		}
		r.Modifiers = append(r.Modifiers, Modifier{Name: name, Value: value})
	}
	return nil
}

// checkDomainSpec validates a domain-spec (RFC 7208 §7.1):
//
//	domain-spec = macro-string domain-end
//	domain-end  = ( "." toplabel [ "." ] ) / macro-expand
//	toplabel    = ( *alphanum ALPHA *alphanum ) /
//	              ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
//
// Only the macro letters s l o d i p v h are allowed: c, r and t are for
// explanation text only (§7.1).
func checkDomainSpec(s string) error {
	if s == "" {
		return ErrInvalidDomainSpec
	}
	if err := checkMacroString(s, macroDomain); err != nil {
		return err
	}
	// domain-end: a macro-expand at the very end.
	if strings.HasSuffix(s, "}") || strings.HasSuffix(s, "%%") || strings.HasSuffix(s, "%_") || strings.HasSuffix(s, "%-") {
		if endsWithMacro(s) {
			return nil
		}
	}
	t := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(t, '.')
	if i < 0 {
		return ErrInvalidDomainSpec
	}
	if !isTopLabel(t[i+1:]) {
		return ErrInvalidDomainSpec
	}
	return nil
}

// endsWithMacro reports whether the last item of the (valid) macro-string s
// is a macro-expand.
func endsWithMacro(s string) bool {
	last := false
	for i := 0; i < len(s); {
		if s[i] != '%' {
			last = false
			i++
			continue
		}
		last = true
		if s[i+1] == '{' {
			i += strings.IndexByte(s[i:], '}') + 1
		} else {
			i += 2
		}
	}
	return last
}

func isTopLabel(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	alpha := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return false
			}
		default:
			return false
		}
	}
	// Either it holds a letter, or it holds a hyphen (1*alphanum "-" ...).
	return alpha || strings.IndexByte(l, '-') > 0
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameChar(c byte, first bool) bool {
	if isAlpha(c) {
		return true
	}
	return !first && (isDigit(c) || c == '-' || c == '_' || c == '.')
}
