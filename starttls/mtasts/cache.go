package mtasts

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Entry is what a Cache keeps for one policy domain: the last policy
// fetched, and the last failed fetch for the back-off of RFC 8461 §3.3.
type Entry struct {
	// Policy is the last policy fetched; nil when only a failure is known.
	Policy *Policy
	// RecordID is the id of the TXT record that Policy was fetched for.
	RecordID string
	// Fetched is when Policy was fetched; Expires is Fetched + MaxAge
	// (RFC 8461 §3.3: cache "for up to max_age").
	Fetched, Expires time.Time
	// FailedAt is when the last fetch failed, zero if none did since the
	// last success; FailedID is the TXT id that fetch was made for.
	FailedAt time.Time
	FailedID string
}

// Valid reports whether e holds a policy that has not expired at now.
func (e *Entry) Valid(now time.Time) bool {
	return e != nil && e.Policy != nil && now.Before(e.Expires)
}

// Cache stores policies by policy domain (lower-case A-labels, no trailing
// dot). Implementations must be safe for concurrent use and must not keep or
// modify the *Entry they are given or return: copy it.
//
// The in-memory MemoryCache suits a single process. A cluster of MTAs
// should share one cache, so that a policy learnt by one node protects the
// others (trust on first use, RFC 8461 §10): back Cache with the cluster's
// own store (SQL, Redis, ...), serialising Entry and Policy as it sees fit.
// This package ships no distributed store.
type Cache interface {
	// Get returns the entry for domain, or nil and no error when there is
	// none.
	Get(ctx context.Context, domain string) (*Entry, error)
	// Put stores e for domain, replacing any earlier entry.
	Put(ctx context.Context, domain string, e *Entry) error
}

// DefaultMaxEntries is the size bound of a MemoryCache whose MaxEntries is 0.
const DefaultMaxEntries = 100000

// MemoryCache is an in-memory Cache. The zero value is ready to use; it is
// safe for concurrent use and must not be copied after first use.
type MemoryCache struct {
	// MaxEntries bounds the number of domains kept. When a new domain
	// would exceed it, expired entries are dropped first, then the entry
	// fetched longest ago. 0 means DefaultMaxEntries.
	MaxEntries int

	mu sync.Mutex
	m  map[string]Entry
}

// Get implements Cache.
func (c *MemoryCache) Get(_ context.Context, domain string) (*Entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[domain]
	if !ok {
		return nil, nil
	}
	return &e, nil
}

// Put implements Cache.
func (c *MemoryCache) Put(_ context.Context, domain string, e *Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]Entry)
	}
	max := c.MaxEntries
	if max <= 0 {
		max = DefaultMaxEntries
	}
	if _, ok := c.m[domain]; !ok && len(c.m) >= max {
		c.evict(max - 1)
	}
	c.m[domain] = *e
	return nil
}

// evict shrinks the map to at most n entries: expired (or policy-less)
// entries first, then the oldest fetched.
func (c *MemoryCache) evict(n int) {
	now := time.Now()
	for d, e := range c.m {
		if len(c.m) <= n {
			return
		}
		if !e.Valid(now) {
			delete(c.m, d)
		}
	}
	for len(c.m) > n {
		var oldest string
		var t time.Time
		for d, e := range c.m {
			if oldest == "" || e.Fetched.Before(t) {
				oldest, t = d, e.Fetched
			}
		}
		delete(c.m, oldest)
	}
}

// Delete removes domain's entry, so that the next use looks it up afresh.
// It is the purge tool operators need when a policy must be forgotten.
func (c *MemoryCache) Delete(domain string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, domain)
}

// Domains returns the cached domains, sorted, for inspection and for
// proactive refresh (see Client.Refresh).
func (c *MemoryCache) Domains() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := make([]string, 0, len(c.m))
	for d := range c.m {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}
