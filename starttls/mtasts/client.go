package mtasts

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
	"github.com/smtpsec/smtpsec/resolver"
	"github.com/smtpsec/smtpsec/starttls/internal/txtrecord"
)

// DefaultBackoff is how long Client waits after a failed fetch before it
// fetches the same policy id again: 5 minutes, the floor RFC 8461 §3.3 sets.
const DefaultBackoff = 5 * time.Minute

// Client discovers, fetches and caches MTA-STS policies (RFC 8461 §3 and
// §5). The zero value works: it uses net.DefaultResolver, NewHTTPClient and
// no cache. A Client is safe for concurrent use; do not change its fields
// after first use, and do not copy it. Concurrent calls for the same domain
// share one lookup and fetch, so a burst of deliveries to a new domain
// costs its policy host one request.
type Client struct {
	// Resolver looks up the _mta-sts TXT record. If nil,
	// net.DefaultResolver is used.
	Resolver resolver.Resolver
	// HTTPClient fetches policy files. If nil, NewHTTPClient() is used.
	// Whatever the client, Fetch's limits apply (no redirects, 200 only,
	// text/plain, 64 KiB, one minute, verified certificate for
	// mta-sts.<domain>).
	HTTPClient *http.Client
	// Cache keeps policies between calls. If nil, nothing is kept: every
	// call looks the policy up and fetches it, and the protection of RFC
	// 8461 §10 (a cached policy survives an attacker blocking discovery) is
	// lost. Use a *MemoryCache or a shared store.
	Cache Cache
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Backoff is the wait after a failed fetch before fetching the same
	// policy id again. 0 means DefaultBackoff; values below 5 minutes
	// violate RFC 8461 §3.3.
	Backoff time.Duration
	// Logger receives cache errors and fetch failures. If nil, nothing is
	// logged.
	Logger *slog.Logger

	mu    sync.Mutex
	calls map[string]*call // in-flight get calls by domain (and mode)
}

// call is an in-flight get whose result concurrent callers share.
type call struct {
	done chan struct{}
	res  *Result
	err  error
}

// Result is the policy that applies to a domain now, and how it was found.
type Result struct {
	// Domain is the policy domain, normalised.
	Domain string
	// Policy is the policy in effect, nil when the domain has none. A
	// policy in mode None is returned as is; it means no policy.
	Policy *Policy
	// RecordID is the TXT id Policy was fetched for.
	RecordID string
	// Fetched and Expires bound Policy's life in the cache.
	Fetched, Expires time.Time
	// Cached is true when Policy came from the cache without a fetch
	// during this call.
	Cached bool
	// Err is why discovery did not yield a fresh policy, for TLS-RPT: a
	// *LookupError (no record, several records, DNS failure) or a
	// *FetchError, or an error wrapping ErrBackoff. It is set even when a
	// cached Policy applies. ErrNoRecord here with a nil Policy is the
	// ordinary case of a domain without MTA-STS.
	Err error
}

// Enforced reports whether r holds a policy in mode Enforce.
func (r *Result) Enforced() bool { return r.Policy != nil && r.Policy.Mode == Enforce }

// Active reports whether r holds a policy in mode Enforce or Testing, one
// whose outcome TLS-RPT reports as policy type sts.
func (r *Result) Active() bool {
	return r.Policy != nil && (r.Policy.Mode == Enforce || r.Policy.Mode == Testing)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) backoff() time.Duration {
	if c.Backoff > 0 {
		return c.Backoff
	}
	return DefaultBackoff
}

func (c *Client) resolver() resolver.Resolver {
	if c.Resolver != nil {
		return c.Resolver
	}
	return net.DefaultResolver
}

func (c *Client) log(ctx context.Context, msg string, args ...any) {
	if c.Logger != nil {
		c.Logger.LogAttrs(ctx, slog.LevelInfo, msg, slog.Group("mtasts", args...))
	}
}

// LookupRecord looks up the TXT records at _mta-sts.<domain> (CNAMEs are
// followed by the resolver) and returns the one MTA-STS record. Following
// RFC 8461 §3.1, records that do not start with v=STSv1 are dropped; if
// the rest is not exactly one valid record, the domain has no policy.
// Errors are a *LookupError wrapping ErrNoRecord, ErrMultipleRecords,
// ErrRecordSyntax or ErrDNS, or an error wrapping ErrDomain.
func LookupRecord(ctx context.Context, r resolver.Resolver, domain string) (*Record, error) {
	d, err := dnsname.Normalize(domain)
	if err != nil {
		return nil, errors.Join(ErrDomain, err)
	}
	rec, kind, err := txtrecord.Lookup(ctx, r, "_mta-sts."+d+".", isSTSRecord, ParseRecord, txtrecord.Kinds{
		NoRecord: ErrNoRecord, MultipleRecords: ErrMultipleRecords, RecordSyntax: ErrRecordSyntax, DNS: ErrDNS,
	})
	if kind != nil {
		return nil, &LookupError{Domain: d, Kind: kind, Err: err}
	}
	return rec, nil
}

// Get returns the policy that applies to domain, the policy domain: the
// recipient domain, or the smart host's domain when mail goes through one
// (RFC 8461 §3.4). Get never looks at a parent domain.
//
// It follows RFC 8461 §3.3 and §5.1:
//
//   - the TXT record is looked up on every call; if its id equals the
//     cached policy's, the cached policy is used without a fetch;
//   - a new id, or no valid cached policy, means a fetch; a fetch that
//     fails marks the domain and id for Backoff, during which no fetch of
//     that id is tried again;
//   - when the lookup or the fetch fails, a cached policy that has not
//     expired (max_age) still applies; without one the domain is treated
//     as having no policy.
//
// The error is non-nil only when domain is not a valid name or ctx ended;
// every other failure is reported in Result.Err with the verdict it led to.
func (c *Client) Get(ctx context.Context, domain string) (*Result, error) {
	return c.get(ctx, domain, false)
}

// Refresh fetches domain's policy again when its TXT record exists, even if
// the id has not changed, so that a policy in use does not reach max_age
// (RFC 8461 §3.3: senders SHOULD refresh proactively, for example daily).
// Back-off still applies. Call it from a periodic job over the domains the
// cache holds (MemoryCache.Domains). It returns what Get would return
// afterwards.
func (c *Client) Refresh(ctx context.Context, domain string) (*Result, error) {
	return c.get(ctx, domain, true)
}

func (c *Client) get(ctx context.Context, domain string, refresh bool) (*Result, error) {
	d, err := dnsname.Normalize(domain)
	if err != nil {
		return nil, errors.Join(ErrDomain, err)
	}
	key := d
	if refresh {
		key += "\x00refresh"
	}
	c.mu.Lock()
	if cl, ok := c.calls[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			if cl.err != nil {
				// The first caller's ctx ended; this one may have time.
				return c.getOnce(ctx, d, refresh)
			}
			r := *cl.res
			return &r, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.calls == nil {
		c.calls = make(map[string]*call)
	}
	cl := &call{done: make(chan struct{})}
	c.calls[key] = cl
	c.mu.Unlock()

	cl.res, cl.err = c.getOnce(ctx, d, refresh)
	c.mu.Lock()
	delete(c.calls, key)
	c.mu.Unlock()
	close(cl.done)
	if cl.err != nil {
		return nil, cl.err
	}
	r := *cl.res
	return &r, nil
}

// getOnce does the work of get for the normalised domain d.
func (c *Client) getOnce(ctx context.Context, d string, refresh bool) (*Result, error) {
	var err error
	now := c.now()
	var entry *Entry
	if c.Cache != nil {
		entry, err = c.Cache.Get(ctx, d)
		if err != nil {
			c.log(ctx, "cache get failed", "domain", d, "error", err)
			entry = nil
		}
	}
	valid := entry.Valid(now)
	cached := func(why error) *Result {
		return &Result{Domain: d, Policy: entry.Policy, RecordID: entry.RecordID,
			Fetched: entry.Fetched, Expires: entry.Expires, Cached: true, Err: why}
	}

	rec, err := LookupRecord(ctx, c.resolver(), d)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// RFC 8461 §5.1: when no live policy can be discovered, a valid
		// cached policy MUST be applied, also when the record is gone.
		if valid {
			return cached(err), nil
		}
		return &Result{Domain: d, Err: err}, nil
	}
	if valid && entry.RecordID == rec.ID && !refresh {
		return cached(nil), nil
	}
	// RFC 8461 §3.3: after a failed fetch, wait five minutes or more
	// before fetching the same policy version again.
	if entry != nil && !entry.FailedAt.IsZero() && entry.FailedID == rec.ID &&
		now.Before(entry.FailedAt.Add(c.backoff())) {
		why := &LookupError{Domain: d, Kind: ErrBackoff}
		if valid {
			return cached(why), nil
		}
		return &Result{Domain: d, Err: why}, nil
	}

	p, err := Fetch(ctx, c.HTTPClient, d)
	if err != nil {
		c.log(ctx, "policy fetch failed", "domain", d, "id", rec.ID, "error", err)
		var ne Entry
		if entry != nil {
			ne = *entry
		}
		ne.FailedAt, ne.FailedID = now, rec.ID
		// The back-off holds even when ctx ended: a server that stalls
		// every fetch must not be fetched from again at once.
		c.put(context.WithoutCancel(ctx), d, &ne)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// RFC 8461 §3.3: a failed fetch with nothing valid cached means
		// delivery as though the domain had no policy.
		if valid {
			return cached(err), nil
		}
		return &Result{Domain: d, Err: err}, nil
	}
	ne := &Entry{Policy: p, RecordID: rec.ID, Fetched: now, Expires: now.Add(p.MaxAge)}
	c.put(ctx, d, ne)
	return &Result{Domain: d, Policy: p, RecordID: rec.ID, Fetched: ne.Fetched, Expires: ne.Expires}, nil
}

func (c *Client) put(ctx context.Context, d string, e *Entry) {
	if c.Cache == nil {
		return
	}
	if err := c.Cache.Put(ctx, d, e); err != nil {
		c.log(ctx, "cache put failed", "domain", d, "error", err)
	}
}
