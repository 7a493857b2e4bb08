package manager

import (
	"container/list"
	"context"
	"sync/atomic"
)

// tenant is what one tenant's streams hold, against its Quota. It exists while the manager holds
// a stream of the tenant, active or retained.
type tenant struct {
	name  string
	quota Quota

	// Guarded by Manager.mu.
	streams  int       // active streams
	held     int       // streams in Manager.streams, active and retained
	retained list.List // retained closed streams, oldest close first

	bytes atomic.Int64 // chunk data in the histories of its streams
}

// tenantLocked returns the tenant of a stream about to be created, made (not yet registered) when
// the manager holds none of its streams. m.mu must be held.
func (m *Manager) tenantLocked(name string) *tenant {
	if t := m.tenants[name]; t != nil {
		return t
	}
	return &tenant{name: name, quota: m.cfg.QuotaFor(name)}
}

// holdLocked counts a new stream of t. m.mu must be held.
func (m *Manager) holdLocked(t *tenant) {
	if t.held == 0 {
		m.tenants[t.name] = t
	}
	t.held++
	t.streams++
}

// releaseLocked uncounts a forgotten stream of t, and forgets t with its last stream. m.mu must be
// held.
func (m *Manager) releaseLocked(t *tenant) {
	t.held--
	if t.held == 0 && m.tenants[t.name] == t {
		delete(m.tenants, t.name)
	}
}

// TenantUsage reports what the streams of one tenant hold; a tenant without streams holds
// nothing.
func (m *Manager) TenantUsage(_ context.Context, name string) (Usage, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.shutdown.Load() {
		return Usage{}, ErrShutdown
	}
	t := m.tenants[name]
	if t == nil {
		return Usage{}, nil
	}
	return Usage{Streams: t.streams, Retained: t.retained.Len(), Bytes: t.bytes.Load()}, nil
}
