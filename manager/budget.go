package manager

// The byte budget. Every chunk a history retains counts len(Data) against Config.MaxBytes until
// it is dropped from its history or its stream is forgotten. Accounting is exact: Manager.bytes is
// the sum of every stream's hist.bytes, active and retained.
//
// A push is admitted on the bytes it adds net of what its own stream's bounds (HistorySize,
// HistoryBytes) drop, so a stream at its bounds rolls without needing any budget. Bytes are
// reserved with atomics under the stream's lock only: the push path never takes Manager.mu. When
// a push does not fit, the slow path (makeRoom) forgets retained closed streams, oldest first,
// then lets the stream roll within what it already holds, and only then refuses.

// admit plans the push of a chunk of n bytes onto s within the stream's own bounds and reserves
// the bytes it adds. It returns the chunks to drop, or false and the bytes that did not fit, with
// nothing reserved. s.mu must be held.
func (m *Manager) admit(s *stream, n int) (drop uint64, need int64, ok bool) {
	drop, freed := s.hist.plan(n, s.hist.maxBytes)
	need = int64(n) - freed
	return drop, need, m.reserve(need)
}

// reserve adds g bytes to the budget, or reports false and adds nothing when they do not fit.
// Giving bytes back (g <= 0) always succeeds.
func (m *Manager) reserve(g int64) bool {
	switch {
	case g == 0:
		return true
	case g < 0:
		m.bytes.Add(g)
		return true
	}
	if m.bytes.Add(g) > m.cfg.MaxBytes {
		m.bytes.Add(-g)
		return false
	}
	return true
}

// force records ch on s whatever the budget says: error chunks are small and end or explain a
// stream, so they are never refused. s.mu must be held.
func (m *Manager) force(s *stream, ch Chunk) Chunk {
	drop, freed := s.hist.plan(len(ch.Data), s.hist.maxBytes)
	m.bytes.Add(int64(len(ch.Data)) - freed)
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
	m.evictRetainedLocked(need)
	m.mu.Unlock()

	s.mu.Lock()
	if s.status != StatusActive {
		s.mu.Unlock()
		return 0, closedPush(s.id)
	}
	if drop, _, ok := m.admit(s, n); ok {
		return drop, nil
	}
	avail := max(m.cfg.MaxBytes-m.bytes.Load(), 0)
	drop, freed := s.hist.plan(n, min(s.hist.maxBytes, s.hist.bytes+avail))
	if g := int64(n) - freed; g <= avail && m.reserve(g) {
		return drop, nil
	}
	s.mu.Unlock()
	return 0, &LimitError{Op: "push to stream " + s.id, Err: ErrBudgetExhausted, Limit: m.cfg.MaxBytes, RetryAfter: LimitRetryAfter}
}

// evictRetainedLocked forgets retained closed streams, oldest first, until need more bytes fit in
// the budget or none is left. m.mu must be held.
func (m *Manager) evictRetainedLocked(need int64) {
	for m.bytes.Load()+need > m.cfg.MaxBytes {
		oldest := m.retained.Front()
		if oldest == nil {
			return
		}
		m.forgetLocked(oldest.Value.(*stream))
	}
}

// roomForStreamLocked reports whether a new stream's full history (HistoryBytes) fits in the
// budget, forgetting retained closed streams, oldest first, to make it fit. m.mu must be held.
func (m *Manager) roomForStreamLocked() error {
	m.evictRetainedLocked(m.cfg.HistoryBytes)
	if m.bytes.Load()+m.cfg.HistoryBytes > m.cfg.MaxBytes {
		return &LimitError{Op: "create stream", Err: ErrBudgetExhausted, Limit: m.cfg.MaxBytes, RetryAfter: LimitRetryAfter}
	}
	return nil
}
