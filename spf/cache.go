package spf

import (
	"sync"
	"sync/atomic"
)

// Bounds of a Checker's parse cache.
const (
	cacheMaxEntries = 4096
	cacheMaxBytes   = 1 << 20 // total length of the cached record texts
	cacheMaxRecord  = 4096    // longer records are parsed every time
)

// recordCache maps TXT record text to its parse result, so that a record is
// parsed once however often it is evaluated. Cached records are shared and
// never modified. Reads take no lock. It is bounded in entries and bytes:
// when an insertion would exceed a bound, the cache is emptied first (a
// stream of distinct hostile records costs re-parsing, never memory). The
// zero value is ready to use.
type recordCache struct {
	m       sync.Map // string -> *cacheEntry
	entries atomic.Int64
	bytes   atomic.Int64
}

type cacheEntry struct {
	rec *Record
	err error
}

func (c *recordCache) parse(text string) (*Record, error) {
	if v, ok := c.m.Load(text); ok {
		ent := v.(*cacheEntry)
		return ent.rec, ent.err
	}
	rec, err := parseRecord(text)
	if len(text) > cacheMaxRecord {
		return rec, err
	}
	if err != nil {
		rec = nil
	}
	if c.entries.Load() >= cacheMaxEntries || c.bytes.Load()+int64(len(text)) > cacheMaxBytes {
		c.m.Clear()
		c.entries.Store(0)
		c.bytes.Store(0)
	}
	if _, loaded := c.m.LoadOrStore(text, &cacheEntry{rec: rec, err: err}); !loaded {
		c.entries.Add(1)
		c.bytes.Add(int64(len(text)))
	}
	return rec, err
}
