package policy

import (
	"sync"
)

// maxCachedSets bounds how many compiled policy sets an Engine keeps (one per distinct content).
const maxCachedSets = 32

// setCache keeps compiled policy sets by content hash; the least recently used goes first. A set is
// compiled once even when several callers ask for it at the same time; a set that fails to compile is
// cached with its error.
type setCache struct {
	max     int
	mu      sync.Mutex // guards entries and clock
	entries map[string]*cacheEntry
	clock   uint64
}

type cacheEntry struct {
	once sync.Once
	set  *compiledSet
	err  error
	used uint64 // guarded by setCache.mu
}

func newSetCache(max int) *setCache {
	return &setCache{max: max, entries: map[string]*cacheEntry{}}
}

// get returns the compiled set for srcs, calling compile the first time.
func (c *setCache) get(srcs []source, compile func() (*compiledSet, error)) (*compiledSet, error) {
	key := hashSources(srcs)
	c.mu.Lock()
	c.clock++
	e, ok := c.entries[key]
	if !ok {
		if len(c.entries) >= c.max {
			c.evictOldest()
		}
		e = &cacheEntry{}
		c.entries[key] = e
	}
	e.used = c.clock
	c.mu.Unlock()
	e.once.Do(func() { e.set, e.err = compile() })
	return e.set, e.err
}

func (c *setCache) evictOldest() {
	var oldest string
	var min uint64
	for k, e := range c.entries {
		if oldest == "" || e.used < min {
			oldest, min = k, e.used
		}
	}
	delete(c.entries, oldest)
}
