package manager

// The byte budget. Every chunk a history retains counts len(Data) against its tenant's
// Quota.MaxBytes and against Config.MaxBytes until it is dropped from its history or its stream is
// forgotten. Accounting is exact: Manager.bytes is the sum of every stream's hist.bytes, active
// and retained, and tenant.bytes the same over the tenant's streams.
//
// A push is admitted on the bytes it adds net of what its own stream's bounds (HistorySize,
// HistoryBytes) drop, so a stream at its bounds rolls without needing any budget. Bytes are
// reserved with atomics under the stream's lock only: the push path never takes Manager.mu. When
// a push does not fit, the slow path (makeRoom) forgets retained closed streams, oldest first
// (the tenant's own for its quota, anyone's for the global budget), then lets the stream roll
// within what it already holds, and only then refuses.

// admit plans the push of a chunk of n bytes onto s within the stream's own bounds and reserves
// the bytes it adds. It returns the chunks to drop, or false and the bytes that did not fit, with
// nothing reserved. s.mu must be held.
func (m *Manager) admit(s *stream, n int) (drop uint64, need int64, ok bool) {
	drop, freed := s.hist.plan(n, s.hist.maxBytes)
	need = int64(n) - freed
	return drop, need, m.reserve(s.tenant, need)
}

// reserve adds g bytes to t's and the global budget, or reports false and adds nothing when they
// do not fit in either. Giving bytes back (g <= 0) always succeeds.
func (m *Manager) reserve(t *tenant, g int64) bool {
	switch {
	case g == 0:
		return true
	case g < 0:
		t.bytes.Add(g)
		m.bytes.Add(g)
		return true
	}
	if t.bytes.Add(g) > t.quota.MaxBytes {
		t.bytes.Add(-g)
		return false
	}
	if m.bytes.Add(g) > m.cfg.MaxBytes {
		m.bytes.Add(-g)
		t.bytes.Add(-g)
		return false
	}
	return true
}

// free returns how many bytes t may still add: what is left of its quota, or of the global
// budget when that is less.
func (m *Manager) free(t *tenant) int64 {
	return max(min(t.quota.MaxBytes-t.bytes.Load(), m.cfg.MaxBytes-m.bytes.Load()), 0)
}

// force records ch on s whatever the budget says: error chunks are small and end or explain a
// stream, so they are never refused. s.mu must be held.
func (m *Manager) force(s *stream, ch Chunk) Chunk {
	drop, freed := s.hist.plan(len(ch.Data), s.hist.maxBytes)
	g := int64(len(ch.Data)) - freed
	s.tenant.bytes.Add(g)
	m.bytes.Add(g)
	return s.record(ch, drop)
}

// makeRoom is the slow path of a push of n bytes onto s that did not fit, need bytes short. It
// forgets retained closed streams, oldest first; if the push still does not fit, the stream
// drops its own oldest chunks to make room, keeping the bytes it holds. It is called without s.mu
// and returns with s.mu held when it admits the push (returning the chunks to drop), and without
// it when it refuses: ErrClosed when the stream closed meanwhile, a *LimitError wrapping
// ErrBudgetExhausted when not even the stream's whole history makes room.
func (m *Manager) makeRoom(s *stream, n int, need int64) (uint64, error) {
	m.mu.Lock()
	m.evictRetainedLocked(s.tenant, need)
	m.mu.Unlock()

	s.mu.Lock()
	if s.status != StatusActive {
		s.mu.Unlock()
		return 0, closedPush(s.id)
	}
	if drop, _, ok := m.admit(s, n); ok {
		return drop, nil
	}
	avail := m.free(s.tenant)
	drop, freed := s.hist.plan(n, min(s.hist.maxBytes, s.hist.bytes+avail))
	if g := int64(n) - freed; g <= avail && m.reserve(s.tenant, g) {
		return drop, nil
	}
	s.mu.Unlock()
	return 0, m.budgetError("push to stream "+s.id, s.tenant, need)
}

// evictRetainedLocked forgets retained closed streams, oldest first, until need more bytes fit
// in t's quota and in the global budget, or no stream that would help is left: for the quota only
// t's own streams count, for the global budget anyone's do. m.mu must be held.
func (m *Manager) evictRetainedLocked(t *tenant, need int64) {
	for t.bytes.Load()+need > t.quota.MaxBytes {
		oldest := t.retained.Front()
		if oldest == nil {
			break
		}
		m.forgetLocked(oldest.Value.(*stream))
	}
	for m.bytes.Load()+need > m.cfg.MaxBytes {
		oldest := m.retained.Front()
		if oldest == nil {
			return
		}
		m.forgetLocked(oldest.Value.(*stream))
	}
}

// roomForStreamLocked reports whether a new stream's full history (HistoryBytes) fits in t's
// quota and the global budget, forgetting retained closed streams to make it fit. m.mu must be
// held.
func (m *Manager) roomForStreamLocked(t *tenant) error {
	need := m.cfg.HistoryBytes
	m.evictRetainedLocked(t, need)
	if t.bytes.Load()+need > t.quota.MaxBytes || m.bytes.Load()+need > m.cfg.MaxBytes {
		return m.budgetError("create stream", t, need)
	}
	return nil
}

// budgetError is the refusal of op for want of need bytes. It names the global budget when that
// is short, else the tenant's quota.
func (m *Manager) budgetError(op string, t *tenant, need int64) *LimitError {
	e := &LimitError{Op: op, Err: ErrBudgetExhausted, Tenant: t.name, Limit: m.cfg.MaxBytes, RetryAfter: LimitRetryAfter}
	if m.bytes.Load()+need <= m.cfg.MaxBytes {
		e.PerTenant, e.Limit = true, t.quota.MaxBytes
	}
	return e
}
