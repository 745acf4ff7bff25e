package spf

import "sync"

// Bounds of a Checker's parse cache.
const (
	cacheMaxEntries = 2048
	cacheMaxBytes   = 1 << 20 // total length of the cached record texts
	cacheMaxRecord  = 4096    // longer records are parsed every time
)

// recordCache maps TXT record text to its parse result, so that a record is
// parsed once however often it is evaluated. Cached records are shared and
// never modified. It is bounded in entries and bytes; when full, arbitrary
// entries are evicted. The zero value is ready to use.
type recordCache struct {
	mu    sync.RWMutex
	m     map[string]cacheEntry
	bytes int
}

type cacheEntry struct {
	rec *Record
	err error
}

func (c *recordCache) parse(text string) (*Record, error) {
	c.mu.RLock()
	ent, ok := c.m[text]
	c.mu.RUnlock()
	if ok {
		return ent.rec, ent.err
	}
	rec, err := parseRecord(text)
	if len(text) > cacheMaxRecord {
		return rec, err
	}
	if err != nil {
		rec = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cacheEntry)
	}
	if _, ok := c.m[text]; ok {
		return rec, err
	}
	for k := range c.m {
		if len(c.m) < cacheMaxEntries && c.bytes+len(text) <= cacheMaxBytes {
			break
		}
		c.bytes -= len(k)
		delete(c.m, k)
	}
	c.m[text] = cacheEntry{rec: rec, err: err}
	c.bytes += len(text)
	return rec, err
}
