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
	// front holds recently used entries in slots chosen by a cheap hash
	// of the text (its length and last octet), so that most lookups
	// compare one string and hash nothing.
	front   [16]atomic.Pointer[cacheEntry]
	m       sync.Map // string -> *cacheEntry
	entries atomic.Int64
	bytes   atomic.Int64
}

type cacheEntry struct {
	text string
	rec  *Record
	err  error
}

func (c *recordCache) parse(text string) (*Record, error) {
	slot := &c.front[frontSlot(text)]
	if ent := slot.Load(); ent != nil && ent.text == text {
		return ent.rec, ent.err
	}
	if v, ok := c.m.Load(text); ok {
		ent := v.(*cacheEntry)
		slot.Store(ent)
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
		for i := range c.front {
			c.front[i].Store(nil)
		}
		c.entries.Store(0)
		c.bytes.Store(0)
	}
	ent := &cacheEntry{text: text, rec: rec, err: err}
	slot.Store(ent)
	if _, loaded := c.m.LoadOrStore(text, ent); !loaded {
		c.entries.Add(1)
		c.bytes.Add(int64(len(text)))
	}
	return rec, err
}

// frontSlot picks a front slot from the text's length and last octet.
func frontSlot(text string) int {
	h := len(text) * 31
	if len(text) > 0 {
		h += int(text[len(text)-1])
	}
	return h & 15
}
