package resolver

import (
	"container/list"
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Cache stores DNS responses for a [Client], so that one cache can be shared
// between clients or processes (for example in Redis). Values are opaque
// bytes that the Client encodes and decodes; a Cache only keeps them for
// the time to live it is given.
//
// Implementations must be safe for concurrent use. Errors are the cache's
// business: a Get that fails is a miss, and a Put that fails is dropped.
type Cache interface {
	// Get returns the value stored under key and not yet expired.
	Get(ctx context.Context, key string) (value []byte, ok bool)
	// Put stores value under key for ttl (always > 0).
	Put(ctx context.Context, key string, value []byte, ttl time.Duration)
}

// Cached entries: 8 octets of expiry (Unix nanoseconds), the server address
// (1 octet of length, then the text), then the response in wire format.

// cachePut stores resp if RFC 2308 allows: positive answers for the smallest
// TTL of their answer records (RFC 2181 §5.2), negative ones (NXDOMAIN,
// NODATA) for min(SOA TTL, SOA MINIMUM) and only if the response carries an
// SOA (RFC 2308 §5). Answers with TTL 0 are not cached.
func (c *Client) cachePut(ctx context.Context, key string, resp *dns.Msg, server netip.AddrPort) {
	ttl, ok := responseTTL(resp)
	if !ok || ttl == 0 {
		return
	}
	// Store the AD bit only as this client would believe it.
	m := resp.Copy()
	m.AuthenticatedData = resp.AuthenticatedData && c.trusted(server)
	wire, err := m.Pack()
	if err != nil {
		return
	}
	s := server.String()
	v := make([]byte, 0, 9+len(s)+len(wire))
	expiry := c.now().Add(time.Duration(ttl) * time.Second)
	v = binary.BigEndian.AppendUint64(v, uint64(expiry.UnixNano()))
	v = append(v, byte(len(s)))
	v = append(v, s...)
	v = append(v, wire...)
	c.Cache.Put(ctx, key, v, time.Duration(ttl)*time.Second)
}

// cacheGet returns a cached response with its TTLs lowered by the time spent
// in the cache.
func (c *Client) cacheGet(ctx context.Context, key string) (*dns.Msg, netip.AddrPort, bool) {
	v, ok := c.Cache.Get(ctx, key)
	if !ok || len(v) < 9 {
		return nil, netip.AddrPort{}, false
	}
	expiry := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	left := expiry.Sub(c.now())
	if left <= 0 {
		return nil, netip.AddrPort{}, false
	}
	sl := int(v[8])
	if len(v) < 9+sl {
		return nil, netip.AddrPort{}, false
	}
	server, err := netip.ParseAddrPort(string(v[9 : 9+sl]))
	if err != nil {
		return nil, netip.AddrPort{}, false
	}
	m := new(dns.Msg)
	if m.Unpack(v[9+sl:]) != nil {
		return nil, netip.AddrPort{}, false
	}
	secs := uint32((left + time.Second - 1) / time.Second)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			rr.Header().Ttl = min(rr.Header().Ttl, secs)
		}
	}
	return m, server, true
}

func responseTTL(m *dns.Msg) (uint32, bool) {
	switch m.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return 0, false // RFC 2308 §7: server failures are not cached here
	}
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
		ttl := uint32(1<<31 - 1)
		for _, rr := range m.Answer {
			ttl = min(ttl, rr.Header().Ttl)
		}
		return ttl, true
	}
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl), true
		}
	}
	return 0, false
}

// MemoryCache is an in-memory [Cache] with a bounded number of entries,
// evicting the least recently used. The zero value is ready to use. It is
// safe for concurrent use.
type MemoryCache struct {
	// MaxEntries bounds the number of entries. If 0, 10000 is used.
	MaxEntries int
	// MaxTTL caps the time an entry is kept. If 0, one day is used (as
	// Unbound's default cache-max-ttl).
	MaxTTL time.Duration
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     list.List // of *cacheEntry, most recent first
}

type cacheEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func (mc *MemoryCache) now() time.Time {
	if mc.Now != nil {
		return mc.Now()
	}
	return time.Now()
}

// Get implements [Cache].
func (mc *MemoryCache) Get(_ context.Context, key string) ([]byte, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	el, ok := mc.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !mc.now().Before(e.expires) {
		mc.lru.Remove(el)
		delete(mc.entries, key)
		return nil, false
	}
	mc.lru.MoveToFront(el)
	return e.value, true
}

// Put implements [Cache]. The value is kept as given; callers must not change
// it afterwards.
func (mc *MemoryCache) Put(_ context.Context, key string, value []byte, ttl time.Duration) {
	maxTTL := mc.MaxTTL
	if maxTTL <= 0 {
		maxTTL = 24 * time.Hour
	}
	ttl = min(ttl, maxTTL)
	if ttl <= 0 {
		return
	}
	maxEntries := mc.MaxEntries
	if maxEntries <= 0 {
		maxEntries = 10000
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.entries == nil {
		mc.entries = make(map[string]*list.Element)
	}
	e := &cacheEntry{key: key, value: value, expires: mc.now().Add(ttl)}
	if el, ok := mc.entries[key]; ok {
		el.Value = e
		mc.lru.MoveToFront(el)
		return
	}
	mc.entries[key] = mc.lru.PushFront(e)
	for mc.lru.Len() > maxEntries {
		last := mc.lru.Back()
		mc.lru.Remove(last)
		delete(mc.entries, last.Value.(*cacheEntry).key)
	}
}

// Len returns the number of entries, expired ones included until they are
// next looked up or evicted.
func (mc *MemoryCache) Len() int {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.lru.Len()
}
