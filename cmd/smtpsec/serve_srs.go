package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/smtpsec/smtpsec/forward"
	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/internal/postfix"
)

// The socketmap names, as postsrsd 2.x calls them.
const (
	mapForward = "forward"
	mapReverse = "reverse"
)

// srsMaps answers the forward and reverse SRS maps.
type srsMaps struct {
	srs *forward.SRS
	// reverseAnyDomain reverses SRS addresses at any domain, as postsrsd
	// 1.x does; by default only recipients in the SRS domain are reversed.
	reverseAnyDomain bool
	logger           *slog.Logger
}

// lookup is the postfix.MapHandler of the maps.
func (m *srsMaps) lookup(_ context.Context, name, key string) postfix.MapReply {
	switch name {
	case mapForward:
		return m.forward(key)
	case mapReverse:
		return m.reverse(key)
	}
	return postfix.MapReply{Status: postfix.MapPerm, Text: "unknown map " + name + "; use forward or reverse"}
}

func notFound(why string) postfix.MapReply {
	return postfix.MapReply{Status: postfix.MapNotFound, Text: why}
}

// splitAddress reports whether key is a full address, local@domain, with
// both parts non-empty. Postfix sends only full addresses to socketmap and
// tcp tables (socketmap_table(5), tcp_table(5)), but a key such as
// "@domain" must never be rewritten.
func splitAddress(key string) (domain string, ok bool) {
	at := strings.LastIndexByte(key, '@')
	if at <= 0 || at == len(key)-1 {
		return "", false
	}
	return key[at+1:], true
}

// forward rewrites an envelope sender. Every address that is not
// rewritten gets NOTFOUND, so Postfix leaves it alone: excluded domains,
// addresses in the SRS domain, SRS addresses of our own (postsrsd 1.x
// answers "500 Already rewritten" and "500 Domain excluded"), and
// addresses too long to rewrite.
func (m *srsMaps) forward(key string) postfix.MapReply {
	if _, ok := splitAddress(key); !ok {
		return notFound("not an address")
	}
	out, err := m.srs.Forward(key)
	if err != nil {
		if errors.Is(err, forward.ErrTooLong) || errors.Is(err, forward.ErrLocalPartTooLong) {
			m.logger.Warn("sender not rewritten", "sender", key, "err", err)
		} else {
			m.logger.Debug("sender not rewritten", "sender", key, "err", err)
		}
		return notFound(reason(err))
	}
	if out == key {
		return notFound("in the SRS domain")
	}
	return postfix.MapReply{Status: postfix.MapOK, Text: out}
}

// reverse turns an SRS recipient back into the address it encodes. An
// address that is not a valid SRS address of ours gets NOTFOUND, so
// Postfix delivers to it as it is (normally "user unknown"). PERM would
// make Postfix defer the mail instead (postsrsd 2.2.2 stopped answering
// PERM for that reason).
func (m *srsMaps) reverse(key string) postfix.MapReply {
	domain, ok := splitAddress(key)
	if !ok {
		return notFound("not an address")
	}
	if !m.reverseAnyDomain && !dnsname.Equal(domain, m.srs.Domain()) {
		return notFound("not in the SRS domain")
	}
	out, err := m.srs.Reverse(key)
	if err != nil {
		if !errors.Is(err, forward.ErrNotSRS) {
			m.logger.Debug("SRS recipient refused", "recipient", key, "err", err)
		}
		return notFound(reason(err))
	}
	return postfix.MapReply{Status: postfix.MapOK, Text: out}
}

// reason is the sentinel's text without the package prefix.
func reason(err error) string {
	for _, s := range []error{
		forward.ErrNotSRS, forward.ErrMalformed, forward.ErrBadTimestamp, forward.ErrExpired,
		forward.ErrHashTooShort, forward.ErrHashInvalid, forward.ErrNoAt, forward.ErrExcluded,
		forward.ErrAlreadyRewritten, forward.ErrBadSender, forward.ErrTooLong, forward.ErrLocalPartTooLong,
	} {
		if errors.Is(err, s) {
			return strings.TrimPrefix(s.Error(), "forward: ")
		}
	}
	return "not rewritten"
}

const srsHelp = `Usage: smtpsec serve srs --domain DOMAIN --secrets FILE [--socketmap ADDR] [--tcp-forward ADDR --tcp-reverse ADDR] [flags]

Serves the SRS maps Postfix needs to replace postsrsd: "forward" rewrites
envelope senders (sender_canonical_maps), "reverse" turns bounces to SRS
addresses back (recipient_canonical_maps). The socketmap listener serves
both maps, by name, as postsrsd 2.x does; the tcp_table listeners serve one
map each, as postsrsd 1.x does (ports 10001 and 10002 there). ADDR is
host:port or unix:/path. The secrets file is postsrsd's: one secret a line,
the first signs, all verify; it is read once at start and never logged.

Exclusions follow postsrsd -X: "example.net" excludes that domain,
".example.com" its subdomains. Addresses in --domain are not rewritten
unless --always-rewrite. Reverse answers only for recipients in --domain
unless --reverse-any-domain (postsrsd 1.x behaviour).

Flags:
`

func serveSRS(ctx context.Context, args []string, e env) int {
	var c serveCommon
	fs := c.flagSet("serve srs", srsHelp)
	domain := fs.String("domain", "", "the SRS `domain` (required)")
	secretsFile := fs.String("secrets", "", "postsrsd secrets `file` (required)")
	sep := fs.String("separator", "=", "separator after SRS0/SRS1: =, + or -")
	hashLen := fs.Int("hash-length", 0, "hash `characters` minted (0: 4, as postsrsd)")
	hashMin := fs.Int("hash-min", 0, "shortest hash accepted (0: --hash-length)")
	maxAge := fs.Int("max-age", 0, "`days` an address stays valid (0: 21)")
	always := fs.Bool("always-rewrite", false, "rewrite senders in --domain too (postsrsd -A)")
	urlSafe := fs.Bool("url-safe-hash", false, "mint hashes in base64url, as postsrsd >= 2.2.6")
	strict := fs.Bool("strict-mac", false, "delimiter-safe hash input (not postsrsd compatible)")
	reverseAny := fs.Bool("reverse-any-domain", false, "reverse SRS recipients at any domain (postsrsd 1.x)")
	var exclude listFlag
	fs.Var(&exclude, "exclude", "sender `domains` never rewritten (repeatable, comma-separated)")
	socketmap := fs.String("socketmap", "", "socketmap listen `address` (forward and reverse maps)")
	tcpFwd := fs.String("tcp-forward", "", "tcp_table listen `address` of the forward map")
	tcpRev := fs.String("tcp-reverse", "", "tcp_table listen `address` of the reverse map")
	if code, ok := parseServeFlags(fs, &c, args, e); !ok {
		return code
	}
	if *domain == "" || *secretsFile == "" {
		return usageError(e, "serve srs needs --domain and --secrets")
	}
	if *socketmap == "" && *tcpFwd == "" && *tcpRev == "" {
		return usageError(e, "serve srs needs --socketmap, --tcp-forward or --tcp-reverse")
	}
	if len(*sep) != 1 {
		return usageError(e, "--separator must be one of = + -")
	}
	logger, err := c.logger(e.stderr)
	if err != nil {
		return usageError(e, "%v", err)
	}
	secrets, err := readSecrets(*secretsFile)
	if err != nil {
		return fail(e, exitUsage, err)
	}
	checkSecretsMode(logger, *secretsFile)
	srs, err := forward.NewSRS(forward.Config{
		Domain: *domain, Secrets: secrets, Separator: (*sep)[0], HashLength: *hashLen, HashMinLength: *hashMin,
		MaxAge: time.Duration(*maxAge) * 24 * time.Hour, AlwaysRewrite: *always, ExcludeDomains: exclude,
		URLSafeHash: *urlSafe, StrictMAC: *strict,
	})
	nSecrets := len(secrets)
	for _, k := range secrets {
		clear(k) // NewSRS keeps its own copy
	}
	if err != nil {
		return fail(e, exitUsage, err)
	}
	maps := &srsMaps{srs: srs, reverseAnyDomain: *reverseAny, logger: logger}
	lim := c.limits(0)
	var addrs, names []string
	var mk []func() server
	if *socketmap != "" {
		addrs, names = append(addrs, *socketmap), append(names, "srs socketmap")
		mk = append(mk, func() server { return &postfix.SocketmapServer{Handler: maps.lookup, Limits: lim, Logger: logger} })
	}
	for _, t := range []struct{ addr, name string }{{*tcpFwd, mapForward}, {*tcpRev, mapReverse}} {
		if t.addr != "" {
			addrs, names = append(addrs, t.addr), append(names, "srs tcp_table "+t.name)
			mk = append(mk, func() server {
				return &postfix.TCPTableServer{Map: t.name, Handler: maps.lookup, Limits: lim, Logger: logger}
			})
		}
	}
	lns, err := c.openListeners(ctx, addrs)
	if err != nil {
		return fail(e, exitUsage, err)
	}
	var servers []namedServer
	for i, ln := range lns {
		servers = append(servers, namedServer{name: names[i], ln: ln, srv: mk[i]()})
	}
	logger.Info("srs service starting", "domain", srs.Domain(), "secrets", nSecrets, "exclude", exclude.String())
	return runServers(ctx, logger, servers)
}
