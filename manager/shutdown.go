package manager

import (
	"context"
	"fmt"
	"time"
)

// shutdownErr is the error streams end with when the manager shuts down.
var shutdownErr = &StreamError{Code: 503, Status: "UNAVAILABLE", Message: ReasonShuttingDown}

// Shutdown closes every active stream at once with reason "shutting down" (status error, 503
// UNAVAILABLE: the streams did not complete), then waits until the notified clients that implement
// Drainer are done or ctx ends. Afterwards every method returns ErrShutdown. Calling it again
// returns nil at once.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	if m.shutdown.Load() {
		m.mu.Unlock()
		return nil
	}
	m.shutdown.Store(true)
	if m.reaper != nil {
		m.reaper.Stop()
	}
	var streams []*stream
	m.streams.Range(func(_, v any) bool {
		s := v.(*stream)
		s.retained, s.tenantAt = nil, nil
		streams = append(streams, s)
		return true
	})
	m.streams.Clear()
	m.retained.Init()
	m.tenants = nil
	m.mu.Unlock()

	var drain []Drainer
	now := time.Now()
	for _, s := range streams {
		s.mu.Lock()
		clients, closed := s.closeLocked(StatusError, ReasonShuttingDown, shutdownErr, now)
		end := s.endLocked()
		s.mu.Unlock()
		if closed {
			s.runHooks()
		}
		for _, c := range clients {
			m.notifyClosed(ctx, c, end)
			if d, ok := c.(Drainer); ok {
				drain = append(drain, d)
			}
		}
		if closed {
			m.observeClosed(s)
		}
	}
	for i, d := range drain {
		select {
		case <-d.Done():
		case <-ctx.Done():
			return fmt.Errorf("shutdown: %d of %d clients not drained: %w", len(drain)-i, len(drain), ctx.Err())
		}
	}
	return nil
}
