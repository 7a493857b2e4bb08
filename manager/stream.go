package manager

import (
	"container/list"
	"context"
	"maps"
	"sync"
	"time"
)

// stream is one stream's state. Everything below mu is guarded by it; SendChunk is called with it
// held so that chunk IDs, history and delivery order agree.
type stream struct {
	id       string
	instance string // unique per creation, see StreamInfo.Instance
	tenant   *tenant
	labels   map[string]string // never written after newStream: every StreamInfo shares it
	created  time.Time
	done     chan struct{} // closed when the stream closes
	mirror   bool          // its chunk IDs come from elsewhere (mirror.go)

	mu       sync.Mutex
	quiet    int32 // inactivity ticks in a row without a push; next to mu, in what was padding
	status   Status
	closedAt time.Time
	first    time.Time
	reason   string
	err      *StreamError
	hist     history
	clients  []Client
	index    map[string]int // client ID -> position in clients
	passive  int            // clients that are Passive
	idle     *time.Timer    // inactivity check; nil when disabled
	seenLast uint64         // hist.last at the previous inactivity tick
	forgetAt time.Time      // RetainClosed after it closed, when the reaper forgets it; guarded by Manager.mu
	retained *list.Element  // the stream in Manager.retained once it closed; guarded by Manager.mu
	tenantAt *list.Element  // the stream in tenant.retained once it closed; guarded by Manager.mu
	hooks    *closeHook     // the AfterClose callbacks, newest first; run and let go by the close
}

// newStream makes a stream of tenant t; create passes nil and sets it once the stream is admitted.
func newStream(id string, t *tenant, labels map[string]string, cfg *Config, now time.Time) *stream {
	return &stream{
		id:       id,
		instance: newID(),
		tenant:   t,
		labels:   maps.Clone(labels),
		created:  now,
		done:     make(chan struct{}),
		status:   StatusActive,
		hist:     newHistory(cfg.HistorySize, cfg.HistoryBytes),
		index:    make(map[string]int),
	}
}

// record assigns ch the next ID, stamps a zero Time and appends it to the history after dropping
// its drop oldest chunks, as planned when the push was admitted. mu must be held.
func (s *stream) record(ch Chunk, drop uint64) Chunk {
	ch.ID = s.hist.last + 1
	if ch.Time.IsZero() {
		ch.Time = time.Now()
	}
	if ch.ID == 1 {
		s.first = ch.Time
	}
	s.hist.add(ch, drop)
	return ch
}

// sendFailure is one failed SendChunk.
type sendFailure struct {
	client Client
	err    error
}

// fanOut sends ch to every client in order, removing inactive ones. In DeregisterClient mode the
// failed clients are removed too. mu must be held. It allocates only when a send fails.
func (s *stream) fanOut(ctx context.Context, ch Chunk, mode SendErrorMode) []sendFailure {
	var failed []sendFailure
	for i := 0; i < len(s.clients); {
		c := s.clients[i]
		if !c.Active() {
			s.removeAt(i)
			continue
		}
		if err := c.SendChunk(ctx, ch); err != nil {
			failed = append(failed, sendFailure{c, err})
			if mode == DeregisterClient {
				s.removeAt(i)
				continue
			}
		}
		i++
	}
	return failed
}

func (s *stream) add(c Client) {
	s.index[c.ID()] = len(s.clients)
	s.clients = append(s.clients, c)
	if isPassive(c) {
		s.passive++
	}
}

func isPassive(c Client) bool {
	p, ok := c.(Passive)
	return ok && p.Passive()
}

// removeAt swaps the last client into position i. mu must be held.
func (s *stream) removeAt(i int) {
	last := len(s.clients) - 1
	if isPassive(s.clients[i]) {
		s.passive--
	}
	delete(s.index, s.clients[i].ID())
	if i != last {
		s.clients[i] = s.clients[last]
		s.index[s.clients[i].ID()] = i
	}
	s.clients[last] = nil
	s.clients = s.clients[:last]
}

func (s *stream) remove(clientID string) bool {
	i, ok := s.index[clientID]
	if ok {
		s.removeAt(i)
	}
	return ok
}

// closeLocked ends the stream and returns the clients to notify. It reports false when the stream
// was already closed. mu must be held.
func (s *stream) closeLocked(status Status, reason string, err *StreamError, now time.Time) ([]Client, bool) {
	if s.status != StatusActive {
		return nil, false
	}
	s.status, s.reason, s.err, s.closedAt = status, reason, err, now
	s.hist.archive()
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil // the timer and its closure need not be held for RetainClosed
	}
	clients := s.clients
	s.clients, s.index, s.passive = nil, nil, 0
	close(s.done)
	return clients, true
}

func (s *stream) info() StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StreamInfo{
		ID:          s.id,
		Instance:    s.instance,
		Status:      s.status,
		CreatedAt:   s.created,
		ClosedAt:    s.closedAt,
		Clients:     len(s.clients),
		Passive:     s.passive,
		LastChunkID: s.hist.last,
		Bytes:       s.hist.bytes,
		CloseReason: s.reason,
		Err:         s.err,
		// Shared, not copied: the map is the stream's own copy and is never written after
		// newStream, and a request's Infos (created, runner, closed) would copy it three times.
		Labels: s.labels,

		FirstChunkAt: s.first,
	}
}

// endLocked describes how the stream ended, for its clients. mu must be held.
func (s *stream) endLocked() ClosedError {
	return ClosedError{StreamID: s.id, Reason: s.reason, Status: s.status, Err: s.err}
}
