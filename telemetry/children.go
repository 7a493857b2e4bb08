package telemetry

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// children caches the label children of one metric vector by a comparable key made of the label
// values. The hit path is an atomic load and a map lookup: no lock, no hashing of the values by
// client_golang, no allocation (WithLabelValues allocates its variadic slice and hashes every
// value on each call). A miss creates the child under a mutex and publishes a copy of the map,
// which is cheap because label sets are bounded and each is missed once.
type children[K comparable, M any] struct {
	m    atomic.Pointer[map[K]M]
	mu   sync.Mutex
	make func(K) M
}

func (c *children[K, M]) init(make func(K) M) {
	c.make = make
	c.m.Store(&map[K]M{})
}

func (c *children[K, M]) get(k K) M {
	if v, ok := (*c.m.Load())[k]; ok {
		return v
	}
	return c.add(k)
}

func (c *children[K, M]) add(k K) M {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if v, ok := old[k]; ok {
		return v
	}
	v := c.make(k)
	next := make(map[K]M, len(old)+1)
	maps.Copy(next, old)
	next[k] = v
	c.m.Store(&next)
	return v
}

// labelValues makes values valid label values: client_golang panics on invalid UTF-8, and a label
// value may come from a request.
func labelValues(values ...string) []string {
	for i, v := range values {
		values[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	return values
}
