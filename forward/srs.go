package forward

import (
	"crypto/sha1"
	"encoding/binary"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// Defaults, as libsrs2 and postsrsd 1.x.
const (
	DefaultHashLength = 4
	DefaultMaxAge     = 21 * 24 * time.Hour
)

// maxAgeDaysLimit bounds Config.MaxAge: timestamps count days modulo 1024,
// and one slot is reserved for a stamp from tomorrow.
const maxAgeDaysLimit = 1000

// maxLocalPart is the RFC 5321 §4.5.3.1.1 limit on a local part, in octets.
const maxLocalPart = 64

// Config configures an [SRS]. Domain and Secrets are required; every other
// zero value means the postsrsd 1.x default.
type Config struct {
	// Domain is the SRS domain: the domain of this forwarder, to which
	// bounces of forwarded mail come back. A U-label is accepted and
	// converted to its A-label; the name is lower-cased and one trailing
	// dot removed.
	Domain string

	// Secrets are the HMAC keys. Secrets[0] signs new addresses; every
	// secret verifies (rotation: put a new secret first, keep the old one
	// until MaxAge has passed, then drop it). Required, none empty. They
	// are copied. Use at least 16 random octets; postsrsd reads one secret
	// per line of its secrets file, so its secrets cannot contain line
	// breaks or NUL.
	Secrets [][]byte

	// Separator is the character after the SRS0/SRS1 tag: '=', '+' or '-'.
	// 0 means '='. All other separators are '=' (libsrs2).
	Separator byte

	// HashLength is the number of hash characters minted, 1 to 27. 0 means
	// 4 (24 bits, about 21 bits after case folding). New deployments
	// should use 6 or more.
	HashLength int

	// HashMinLength is the shortest hash Reverse accepts, 1 to HashLength.
	// 0 means HashLength. Set it below HashLength while addresses minted
	// with a shorter HashLength age out. Hashes longer than HashLength are
	// compared on their first HashLength characters, as postsrsd does.
	HashMinLength int

	// MaxAge is how long an SRS0 address stays valid, counted in whole
	// days (the timestamp's precision): it is rounded down to a day and
	// must be between 1 and 1000 days. 0 means 21 days. An address minted
	// on day D is valid through day D+MaxAge.
	MaxAge time.Duration

	// AlwaysRewrite rewrites senders whose domain is Domain too (postsrsd
	// -A). By default they are returned unchanged.
	AlwaysRewrite bool

	// ExcludeDomains are sender domains never rewritten; Forward returns
	// ErrExcluded for them (postsrsd -X). "example.net" matches that domain
	// exactly, ".example.com" matches its subdomains (not example.com
	// itself). Matching is case-insensitive; U-labels are accepted.
	ExcludeDomains []string

	// URLSafeHash mints hashes in the base64url alphabet ('-' and '_' in
	// place of '+' and '/'), as postsrsd 2.2.6 and later do, for MTAs that
	// reject '/' in a local part. postsrsd 1.x cannot verify such hashes
	// when they contain '-' or '_'. Reverse accepts both alphabets always.
	URLSafeHash bool

	// StrictMAC makes the HMAC input unambiguous: the fields are length
	// prefixed and the tag is included. By default (compat mode) the input
	// is the plain concatenation libsrs2 uses, under which an attacker who
	// gets a spoofed sender forwarded obtains a valid bounce address for a
	// different re-split of the same bytes (see the package documentation).
	// With StrictMAC, addresses minted by postsrsd (or by this package
	// without StrictMAC) fail to verify, and the other way round.
	StrictMAC bool

	// LimitLocalPart makes Forward return ErrLocalPartTooLong instead of an
	// SRS address whose local part exceeds 64 octets (RFC 5321
	// §4.5.3.1.1), which some receivers refuse. Off by default, as
	// postsrsd does not check.
	LimitLocalPart bool

	// Now returns the current time; only its UTC day is used. nil means the
	// system clock: the current day is then cached, and refreshed by a
	// timer at each UTC midnight and at least once a minute, so that a step
	// of the system clock takes effect within a minute. The timer stops
	// when the SRS is garbage collected.
	Now func() time.Time
}

// SRS rewrites senders with the Sender Rewriting Scheme. It is immutable
// after NewSRS and safe for concurrent use. Do not copy it.
type SRS struct {
	domain         string
	secrets        [][]byte
	sep            byte
	hashLen        int
	hashMin        int
	maxAgeDays     int
	alwaysRewrite  bool
	excludeExact   []string
	excludeSuffix  []string // with their leading dot
	hasExcludes    bool     // either list is not empty
	urlSafe        bool
	strict         bool
	limitLocalPart bool
	now            func() time.Time // Config.Now; nil for the system clock
	sys            *sysDay          // the system clock's day, when now is nil
	keys           []macKey         // the secrets, pre-keyed
	path           hmacPath         // the HMAC implementation in use
	alphabet       string           // the base64 alphabet minted
	pool           sync.Pool        // *macState
}

// day returns the current UTC day number: from Config.Now if set, else
// from the cache of the system clock, which costs an atomic load instead
// of a clock read (a clock read is a quarter of a Forward on a virtual
// machine).
func (s *SRS) day() int64 {
	if s.now != nil {
		return dayNumber(s.now())
	}
	return s.sys.day.Load()
}

// NewSRS validates c and returns an SRS. Errors wrap ErrInvalidConfig in a
// *ConfigError naming the field.
func NewSRS(c Config) (*SRS, error) {
	s := &SRS{
		sep:            '=',
		hashLen:        DefaultHashLength,
		maxAgeDays:     int(DefaultMaxAge / (24 * time.Hour)),
		alwaysRewrite:  c.AlwaysRewrite,
		urlSafe:        c.URLSafeHash,
		strict:         c.StrictMAC,
		limitLocalPart: c.LimitLocalPart,
		now:            c.Now,
	}
	if c.Domain == "" {
		return nil, &ConfigError{Field: "Domain", Msg: "required"}
	}
	d, err := dnsname.Normalize(c.Domain)
	if err != nil {
		return nil, &ConfigError{Field: "Domain", Msg: "invalid domain name", Cause: err}
	}
	if d == "" {
		return nil, &ConfigError{Field: "Domain", Msg: "the root is not a domain for SRS"}
	}
	// RFC 5321 §4.1.2: a Domain is made of letters, digits and hyphens
	// (A-labels included), separated by dots.
	for i := 0; i < len(d); i++ {
		if c := d[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return nil, &ConfigError{Field: "Domain", Msg: "invalid character " + strconv.QuoteRune(rune(c)) + " in " + strconv.Quote(d)}
		}
	}
	s.domain = d
	if len(c.Secrets) == 0 {
		return nil, &ConfigError{Field: "Secrets", Msg: "at least one secret is required"}
	}
	for i, k := range c.Secrets {
		if len(k) == 0 {
			return nil, &ConfigError{Field: "Secrets", Msg: "secret " + strconv.Itoa(i) + " is empty"}
		}
		s.secrets = append(s.secrets, append([]byte(nil), k...))
	}
	switch c.Separator {
	case 0:
	case '=', '+', '-':
		s.sep = c.Separator
	default:
		return nil, &ConfigError{Field: "Separator", Msg: "must be '=', '+' or '-', not " + strconv.QuoteRune(rune(c.Separator))}
	}
	if c.HashLength != 0 {
		if c.HashLength < 1 || c.HashLength > maxHashLength {
			return nil, &ConfigError{Field: "HashLength", Msg: "must be between 1 and 27, not " + strconv.Itoa(c.HashLength)}
		}
		s.hashLen = c.HashLength
	}
	s.hashMin = s.hashLen
	if c.HashMinLength != 0 {
		if c.HashMinLength < 1 || c.HashMinLength > s.hashLen {
			return nil, &ConfigError{Field: "HashMinLength", Msg: "must be between 1 and HashLength, not " + strconv.Itoa(c.HashMinLength)}
		}
		s.hashMin = c.HashMinLength
	}
	if c.MaxAge != 0 {
		days := c.MaxAge / (24 * time.Hour)
		if days < 1 || days > maxAgeDaysLimit {
			return nil, &ConfigError{Field: "MaxAge", Msg: "must be between 1 and 1000 days, not " + c.MaxAge.String()}
		}
		s.maxAgeDays = int(days)
	}
	for _, e := range c.ExcludeDomains {
		sub := strings.HasPrefix(e, ".")
		n, err := dnsname.Normalize(strings.TrimPrefix(e, "."))
		if err != nil || n == "" {
			return nil, &ConfigError{Field: "ExcludeDomains", Msg: "invalid entry " + strconv.Quote(e), Cause: err}
		}
		if sub {
			s.excludeSuffix = append(s.excludeSuffix, "."+n)
		} else {
			s.excludeExact = append(s.excludeExact, n)
		}
	}
	s.hasExcludes = len(s.excludeExact)+len(s.excludeSuffix) > 0
	keys, path, err := newMACKeys(s.secrets)
	if err != nil {
		return nil, &ConfigError{Field: "Secrets", Msg: "HMAC-SHA1 is not available", Cause: err}
	}
	s.keys, s.path = keys, path
	s.alphabet = stdAlphabet
	if s.urlSafe {
		s.alphabet = urlAlphabet
	}
	s.pool.New = func() any { return s.newMACState() }
	if s.now == nil {
		s.sys = newSysDay()
		// The timer's callback holds the sysDay, not s, so s can become
		// unreachable; then the timer is stopped.
		runtime.AddCleanup(s, (*sysDay).stop, s.sys)
	}
	return s, nil
}

// newMACState returns a hashing state for s's pool.
func (s *SRS) newMACState() *macState { return newMACState(len(s.keys)) }

// Domain returns the SRS domain in its normalised form (lower-case A-labels).
func (s *SRS) Domain() string { return s.domain }

// Forward rewrites an envelope sender (MAIL FROM) for forwarding, so that
// the next hop's SPF check sees an address in the SRS domain:
//
//   - a plain sender user@host becomes SRS0=HHHH=TT=host=user@domain;
//   - an SRS0 address of another forwarder, SRS0=hhhh=tt=h=u@hop1, becomes
//     SRS1=HHHH=hop1==hhhh=tt=h=u@domain (the first hop's separator kept);
//   - an SRS1 address of another forwarder, SRS1=hhhh=hop1==..@hop2, becomes
//     SRS1=HHHH=hop1==..@domain: bounces skip the middle hops.
//
// A sender whose domain is the SRS domain is returned unchanged with a nil
// error, unless Config.AlwaysRewrite is set. The separator after the tag is
// Config.Separator.
//
// The sender is split at its last '@'. Errors, wrapped in *Error: ErrTooLong
// (input or output above MaxAddressLength), ErrNoAt, ErrExcluded,
// ErrAlreadyRewritten (an SRS address of ours that still verifies, at any
// domain), ErrBadSender (a domain containing '='), ErrLocalPartTooLong (with
// Config.LimitLocalPart).
func (s *SRS) Forward(sender string) (string, error) {
	if len(sender) > MaxAddressLength {
		return "", s.fwdErr(sender, ErrTooLong, "")
	}
	at, ascii, eq := scanDomain(sender)
	if at < 0 {
		return "", s.fwdErr(sender, ErrNoAt, "")
	}
	local, host := sender[:at], sender[at+1:]
	if s.hasExcludes && s.excluded(host) {
		return "", s.fwdErr(sender, ErrExcluded, "")
	}
	kind, tagged := tagKind(local)
	if tagged {
		// postsrsd: "500 Already rewritten" when srs_reverse succeeds;
		// the domain is not looked at.
		if _, ferr := s.reverse(sender); ferr == nil {
			return "", s.fwdErr(sender, ErrAlreadyRewritten, "")
		}
	}
	if !s.alwaysRewrite && s.isOwnDomain(host, ascii) {
		return sender, nil
	}

	// A foreign SRS0 (libsrs2 srs_compile_guarded): first hop = its domain,
	// opaque = its local part after the tag. libsrs2 also takes a bare
	// "SRS0" local part for a tag (its NUL terminator matches the separator
	// set); so do we, as the result reverses to the same address.
	if (tagged && kind == SRS0) || isBareSRS0(local) {
		return s.mintSRS1(sender, host, local[4:])
	}
	// A foreign SRS1: keep its first hop and opaque part, replace hash and
	// domain. The old hash is not (cannot be) checked. Deviation from
	// postsrsd: when the opaque part does not start with a separator (and
	// is not empty, the bare-"SRS0" case), or a field is missing, the
	// result could not reverse to a usable address (postsrsd #100:
	// "SRS03g=...") or postsrsd fails; we wrap the sender as a plain one
	// into SRS0 instead, which reverses to exactly it.
	if tagged && kind == SRS1 {
		var a Address
		if ferr := parseFields(local, &a); ferr == nil && (a.Opaque == "" || isSeparator(a.Opaque[0])) {
			return s.mintSRS1(sender, a.FirstHop, a.Opaque)
		}
	}
	if eq {
		// Reverse splits the host off at the first '=' after the stamp,
		// so such an address would reverse to a different sender.
		return "", s.fwdErr(sender, ErrBadSender, "'=' in the domain")
	}
	return s.mintSRS0(sender, local, host)
}

// scanDomain finds the last '@' of sender (-1 if none), and tells whether
// the domain after it is ASCII and whether it holds an '='.
func scanDomain(sender string) (at int, ascii, eq bool) {
	at = lastAt(sender)
	if at < 0 {
		return at, false, false
	}
	ascii, eq = domainFlags(sender[at+1:])
	return at, ascii, eq
}

// lastAt returns the index of the last '@' in s, or -1. It searches
// forwards with the vectorised strings.IndexByte (there is no vectorised
// LastIndexByte), as addresses rarely hold more than one '@'; each octet
// is still looked at once.
func lastAt(s string) int {
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return -1
	}
	for {
		j := strings.IndexByte(s[at+1:], '@')
		if j < 0 {
			return at
		}
		at += j + 1
	}
}

// domainFlags reports whether h is ASCII and whether it holds an '=',
// eight octets at a time: a word has an '=' when w XOR "========" has a
// zero octet, which (x - 0x01..01) &^ x & 0x80..80 detects. Domains of
// eight octets or more end with a word that overlaps the one before it.
func domainFlags(h string) (ascii, eq bool) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	if len(h) < 8 {
		var or byte
		for i := 0; i < len(h); i++ {
			or |= h[i]
			eq = eq || h[i] == '='
		}
		return or < 0x80, eq
	}
	var or, zero uint64
	word := func(w uint64) {
		or |= w
		x := w ^ ('=' * ones)
		zero |= (x - ones) &^ x
	}
	for i := 0; i+8 <= len(h); i += 8 {
		word(binary.LittleEndian.Uint64([]byte(h[i : i+8])))
	}
	if len(h)%8 != 0 {
		word(binary.LittleEndian.Uint64([]byte(h[len(h)-8:])))
	}
	return or&high == 0, zero&high != 0
}

// isBareSRS0 reports whether local is "SRS0" alone, case-insensitively.
func isBareSRS0(local string) bool {
	return len(local) == 4 && local[0]|0x20 == 's' && local[1]|0x20 == 'r' && local[2]|0x20 == 's' && local[3] == '0'
}

// mintSRS0 returns SRS0=HHHH=TT=host=local@domain; Forward has checked
// that host holds no '='.
func (s *SRS) mintSRS0(sender, local, host string) (string, error) {
	// "SRS0" sep hash "=" TT "=" host "=" user "@" domain
	n := 5 + s.hashLen + 1 + 2 + 1 + len(host) + 1 + len(local) + 1 + len(s.domain)
	if err := s.checkLength(sender, n); err != nil {
		return "", err
	}
	stamp := encodeStamp(s.day())
	var in [macBufSize]byte
	var sum [sha1.Size]byte
	s.mac(0, appendMACInput(in[:0], s.strict, SRS0, string(stamp[:]), host, local), &sum)

	// Assembled on the stack: the string conversion is the one allocation.
	var out [outBufSize]byte
	b := append(out[:0], 'S', 'R', 'S', '0', s.sep)
	b = append(b, make([]byte, s.hashLen)...)
	encodeHash(b[5:], &sum, s.alphabet)
	b = append(b, '=', stamp[0], stamp[1], '=')
	b = append(b, host...)
	b = append(b, '=')
	b = append(b, local...)
	b = append(b, '@')
	b = append(b, s.domain...)
	return string(b), nil
}

// mintSRS1 returns SRS1=HHHH=firsthop=opaque@domain.
func (s *SRS) mintSRS1(sender, firstHop, opaque string) (string, error) {
	if strings.IndexByte(firstHop, '=') >= 0 {
		return "", s.fwdErr(sender, ErrBadSender, "'=' in the domain")
	}
	// "SRS1" sep hash "=" firsthop "=" opaque "@" domain
	n := 5 + s.hashLen + 1 + len(firstHop) + 1 + len(opaque) + 1 + len(s.domain)
	if err := s.checkLength(sender, n); err != nil {
		return "", err
	}
	var in [macBufSize]byte
	var sum [sha1.Size]byte
	s.mac(0, appendMACInput(in[:0], s.strict, SRS1, firstHop, opaque, ""), &sum)

	var out [outBufSize]byte
	b := append(out[:0], 'S', 'R', 'S', '1', s.sep)
	b = append(b, make([]byte, s.hashLen)...)
	encodeHash(b[5:], &sum, s.alphabet)
	b = append(b, '=')
	b = append(b, firstHop...)
	b = append(b, '=')
	b = append(b, opaque...)
	b = append(b, '@')
	b = append(b, s.domain...)
	return string(b), nil
}

// checkLength applies the output limits to an address of n octets.
func (s *SRS) checkLength(sender string, n int) error {
	if n > MaxAddressLength {
		return s.fwdErr(sender, ErrTooLong, "the SRS address would have "+strconv.Itoa(n)+" octets")
	}
	// RFC 5321 §4.5.3.1.1: "The maximum total length of a user name or
	// other local-part is 64 octets."
	if local := n - 1 - len(s.domain); s.limitLocalPart && local > maxLocalPart {
		return s.fwdErr(sender, ErrLocalPartTooLong, "the SRS local part would have "+strconv.Itoa(local)+" octets")
	}
	return nil
}

// Reverse verifies an SRS address and returns where a bounce sent to it
// goes: for SRS0 the original sender user@host, for SRS1 the first
// forwarder's SRS0 address (SRS0<opaque>@first-hop), which that forwarder
// reverses in turn. Call it only for recipients at the SRS domain: like
// postsrsd, it ignores the domain part (everything after the last '@'), and
// accepts a local part alone.
//
// Checks, in postsrsd's order: syntax, the SRS0 timestamp's age, then the
// hash against every secret, in constant time, case-insensitively and
// accepting both base64 alphabets. Errors, wrapped in *Error: ErrTooLong,
// ErrNotSRS, ErrMalformed, ErrBadTimestamp, ErrExpired, ErrHashTooShort,
// ErrHashInvalid.
func (s *SRS) Reverse(addr string) (string, error) {
	if len(addr) > MaxAddressLength {
		return "", &Error{Op: "reverse", Address: addr, Err: ErrTooLong}
	}
	out, ferr := s.reverse(addr)
	if ferr != nil {
		return "", &Error{Op: "reverse", Address: addr, Field: ferr.field, Err: ferr.err}
	}
	return out, nil
}

// reverse is Reverse without the error allocation, for Forward's
// already-rewritten check too.
func (s *SRS) reverse(addr string) (string, *fieldError) {
	if len(addr) > MaxAddressLength {
		return "", errNotSRS
	}
	var a Address
	if ferr := parseLocal(addr, &a); ferr != nil {
		return "", ferr
	}
	if a.Kind == SRS0 {
		if !s.stampValid(a.Timestamp) {
			return "", errExpired
		}
	}
	if len(a.Hash) < s.hashMin {
		return "", errHashTooShort
	}
	var buf [macBufSize]byte
	var in []byte
	if a.Kind == SRS0 {
		in = appendMACInput(buf[:0], s.strict, SRS0, a.Timestamp, a.Host, a.User)
	} else {
		in = appendMACInput(buf[:0], s.strict, SRS1, a.FirstHop, a.Opaque, "")
	}
	n := min(len(a.Hash), s.hashLen)
	ok := 0
	var sum [sha1.Size]byte
	var enc [maxHashLength]byte
	// Every secret is tried, whatever the outcome of the others, so that
	// the time taken does not tell which one matched.
	for i := range s.keys {
		s.mac(i, in, &sum)
		encodeHash(enc[:n], &sum, foldedAlphabet)
		ok |= hashMatches(a.Hash, &enc, n)
	}
	if ok != 1 {
		return "", errHashInvalid
	}
	var out [outBufSize]byte
	b := out[:0]
	if a.Kind == SRS0 {
		b = append(b, a.User...)
		b = append(b, '@')
		b = append(b, a.Host...)
	} else {
		b = append(b, "SRS0"...)
		b = append(b, a.Opaque...)
		b = append(b, '@')
		b = append(b, a.FirstHop...)
	}
	return string(b), nil
}

// stampValid reports whether an SRS0 timestamp (already known to decode)
// is at most maxAgeDays old, or one day in the future.
//
// Timestamps hold the day modulo 1024, so the age is too: a stamp minted
// 1024 days ago reads as minted today, and is accepted again, as by every
// libsrs2-compatible implementation; nothing in the address can tell them
// apart. Rotating secrets (and dropping old ones) bounds that.
//
// postsrsd treats a stamp from tomorrow as 1023 days old, hence expired.
// We accept it: SRS domains served by several hosts see it whenever the
// minting host's clock has passed midnight UTC and the verifying host's
// has not yet. It is the same slot as a stamp 1023 days old.
func (s *SRS) stampValid(stamp string) bool {
	then, ok := decodeStamp(stamp)
	if !ok {
		return false
	}
	now := int(s.day() & (stampSlots - 1))
	age := (now - then + stampSlots) % stampSlots
	return age <= s.maxAgeDays || age == stampSlots-1
}

func (s *SRS) fwdErr(sender string, err error, detail string) error {
	return &Error{Op: "forward", Address: sender, Err: err, Detail: detail}
}

// trimDot removes one trailing dot from a domain.
func trimDot(h string) string { return strings.TrimSuffix(h, ".") }

// asciiEqualFold compares a with b (lower-case) ignoring ASCII case only.
// strings.EqualFold folds Unicode too (the Kelvin sign K matches k), which
// would let a non-ASCII domain pass for an ASCII one.
func asciiEqualFold(a, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hostForm returns the sender's domain in the form compared with Domain
// and ExcludeDomains: one trailing dot removed, U-labels converted to
// A-labels. ASCII domains are returned as they are (compared with
// asciiEqualFold), with no allocation.
func hostForm(host string) string {
	h := trimDot(host)
	if isASCII(h) {
		return h
	}
	if n, err := dnsname.Normalize(h); err == nil {
		return n
	}
	return h
}

// isASCII reports whether s has no octet >= 0x80.
func isASCII(s string) bool {
	ascii, _ := domainFlags(s)
	return ascii
}

// isOwnDomain reports whether host is the SRS domain (postsrsd compares
// with strcasecmp; we also ignore a trailing dot and match U-labels). ascii
// tells that host has no octet >= 0x80, which spares hostForm's check.
func (s *SRS) isOwnDomain(host string, ascii bool) bool {
	if ascii {
		return asciiEqualFold(trimDot(host), s.domain)
	}
	return asciiEqualFold(hostForm(host), s.domain)
}

// excluded reports whether host matches Config.ExcludeDomains.
func (s *SRS) excluded(host string) bool {
	if len(s.excludeExact) == 0 && len(s.excludeSuffix) == 0 {
		return false
	}
	h := hostForm(host)
	for _, e := range s.excludeExact {
		if asciiEqualFold(h, e) {
			return true
		}
	}
	for _, e := range s.excludeSuffix {
		if len(h) > len(e) && asciiEqualFold(h[len(h)-len(e):], e) {
			return true
		}
	}
	return false
}
