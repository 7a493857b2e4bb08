package manager

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Manager owns streams and fans their chunks out to clients. It is safe for concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger

	// streams maps an ID to its *stream, active or retained closed. Lookups (every push and
	// most calls) read it without m.mu, so they never wait on a create or close; it is written
	// only under m.mu, so the counts below stay in step with it.
	streams sync.Map

	// shutdown is set once, under m.mu; lookups read it without the lock.
	shutdown atomic.Bool

	mu       sync.RWMutex
	active   int
	retained list.List          // the retained closed streams, oldest close first
	reaper   *time.Timer        // forgets retained streams at their forgetAt; see reap
	tenants  map[string]*tenant // the tenants of the streams
	mirrors  *tenant            // what the mirrors hold: outside every tenant's quota (mirror.go)

	bytes atomic.Int64 // chunk data in every stream's history; see budget.go
	rings ringSizer    // the first size of a new stream's ring
}

// StreamOptions configures CreateStreamWith.
type StreamOptions struct {
	// ID is the requested stream ID; empty means a new UUID v4.
	ID string
	// Labels are free-form attributes (model, tenant, ...) returned in StreamInfo.
	Labels map[string]string
}

// New validates cfg, fills its defaults and returns a Manager.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, log: cfg.Logger, tenants: make(map[string]*tenant), mirrors: newMirrorTenant()}, nil
}

// Config returns the effective configuration, defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// CreateStream creates an active stream with the requested ID, or a new UUID v4 when it is empty.
func (m *Manager) CreateStream(ctx context.Context, requestedID string) (string, error) {
	return m.CreateStreamWith(ctx, StreamOptions{ID: requestedID})
}

// CreateStreamWith creates an active stream. Capacity is checked first: the number of active
// streams of its tenant (the LabelTenant label) and in all (ErrTooManyStreams), then room for one
// full history in the tenant's quota and the global byte budget, forgetting retained closed
// streams, oldest first, to make it (ErrBudgetExhausted); the refusals are *LimitErrors. Then the
// requested ID is (ErrInvalidID, ErrExists, also for a retained closed stream).
func (m *Manager) CreateStreamWith(_ context.Context, opts StreamOptions) (string, error) {
	s, err := m.create(opts)
	if err != nil {
		return "", err
	}
	if m.cfg.Observer != nil {
		m.cfg.Observer.StreamOpened(s.info())
	}
	return s.id, nil
}

// create makes the stream CreateStreamWith describes and returns it. What needs no lock (the
// stream's allocations, its instance ID, its inactivity timer and, once it is admitted, its ring)
// is done outside m.mu, which every create and close of the manager takes.
func (m *Manager) create(opts StreamOptions) (*stream, error) {
	id := opts.ID
	var idErr error
	if id == "" {
		id = newID()
	} else {
		idErr = ValidateID(id)
	}
	s := newStream(id, nil, opts.Labels, &m.cfg, time.Now())
	if err := m.insert(s, opts, idErr); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.status == StatusActive { // not closed (CloseStream, Shutdown) since it was added
		if s.hist.buf == nil { // no push yet
			s.hist.reserve(m.rings.size())
		}
		if m.cfg.InactivityTimeout != NoTimeout {
			s.idle = time.AfterFunc(m.idleTick(), func() { m.checkIdle(s) })
		}
	}
	s.mu.Unlock()
	return s, nil
}

// insert gives s its tenant and adds it to the manager, if there is room for it and its
// requested ID, valid unless idErr, is free; a generated ID that is taken is drawn again. It takes
// m.mu.
func (m *Manager) insert(s *stream, opts StreamOptions, idErr error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shutdown.Load() {
		return ErrShutdown
	}
	t := m.tenantLocked(opts.Labels[LabelTenant])
	if err := m.capacityLocked(t); err != nil {
		return err
	}
	if idErr != nil {
		return idErr
	}
	for m.has(s.id) {
		if opts.ID != "" {
			return fmt.Errorf("create stream %s: %w", s.id, ErrExists)
		}
		s.id = newID()
	}
	s.tenant = t
	m.active++
	m.holdLocked(t)
	m.streams.Store(s.id, s)
	return nil
}

// capacityLocked checks that t may have one stream more. m.mu must be held.
func (m *Manager) capacityLocked(t *tenant) error {
	switch {
	case m.active >= m.cfg.MaxConcurrentStreams:
		return tooManyStreams(t, false, m.cfg.MaxConcurrentStreams)
	case t.streams >= t.quota.MaxStreams:
		return tooManyStreams(t, true, t.quota.MaxStreams)
	}
	return m.roomForStreamLocked(t)
}

// tooManyStreams is capacityLocked's refusal, built only for a refusal: made up front, the error
// escaped and was allocated by every create, under m.mu.
func tooManyStreams(t *tenant, perTenant bool, limit int) error {
	return &LimitError{Op: "create stream", Err: ErrTooManyStreams, Tenant: t.name, PerTenant: perTenant,
		Limit: int64(limit), RetryAfter: LimitRetryAfter}
}

// stream looks a stream up, active or retained, without m.mu. It reads the map before the
// shutdown flag: Shutdown sets the flag before it empties the map, so a stream missing because of
// a shutdown is reported as ErrShutdown, never ErrNotFound.
func (m *Manager) stream(id string) (*stream, error) {
	v, ok := m.streams.Load(id)
	switch {
	case m.shutdown.Load():
		return nil, ErrShutdown
	case !ok:
		return nil, fmt.Errorf("stream %s: %w", id, ErrNotFound)
	}
	return v.(*stream), nil
}

// has reports whether the manager holds a stream with this ID, active or retained.
func (m *Manager) has(id string) bool {
	_, ok := m.streams.Load(id)
	return ok
}

// RegisterClient registers c for the chunks pushed from now on.
func (m *Manager) RegisterClient(ctx context.Context, streamID string, c Client) error {
	s, err := m.stream(streamID)
	if err != nil {
		return err
	}
	return m.registerOn(ctx, s, c, 0, false)
}

// RegisterClientFrom registers c after replaying the retained chunks with an ID above afterID; no
// chunk is missed or repeated even while pushes race the registration. ErrHistoryTrimmed means
// chunk afterID+1 is no longer retained. On a retained closed stream it replays, then notifies c
// closed.
func (m *Manager) RegisterClientFrom(ctx context.Context, streamID string, c Client, afterID uint64) error {
	s, err := m.stream(streamID)
	if err != nil {
		return err
	}
	return m.registerOn(ctx, s, c, afterID, true)
}

func (m *Manager) registerOn(ctx context.Context, s *stream, c Client, afterID uint64, replay bool) error {
	if c.ID() == "" {
		return fmt.Errorf("register on stream %s: %w: empty client id", s.id, ErrInvalidID)
	}
	s.mu.Lock()
	if err := m.canRegister(s, c, afterID, replay); err != nil {
		s.mu.Unlock()
		return err
	}
	if replay {
		for id := afterID + 1; id <= s.hist.last; id++ {
			if err := c.SendChunk(ctx, s.hist.get(id)); err != nil {
				s.mu.Unlock()
				return fmt.Errorf("replay chunk %d of stream %s to client %s: %w", id, s.id, c.ID(), err)
			}
		}
	}
	if s.status == StatusActive {
		s.add(c)
		s.mu.Unlock()
		return nil
	}
	end := s.endLocked()
	s.mu.Unlock()
	return notify(ctx, c, end)
}

// canRegister checks a registration; s.mu must be held.
func (m *Manager) canRegister(s *stream, c Client, afterID uint64, replay bool) error {
	switch {
	case !replay && s.status != StatusActive:
		return fmt.Errorf("register on stream %s: %w", s.id, ErrClosed)
	case replay && afterID > s.hist.last:
		return fmt.Errorf("register on stream %s after chunk %d (last is %d): %w", s.id, afterID, s.hist.last, ErrInvalidAfterID)
	case replay && !s.hist.covers(afterID):
		return fmt.Errorf("register on stream %s after chunk %d (oldest kept is %d): %w", s.id, afterID, s.hist.oldest(), ErrHistoryTrimmed)
	case s.status != StatusActive:
		return nil
	}
	if _, dup := s.index[c.ID()]; dup {
		return fmt.Errorf("register client %s on stream %s: %w", c.ID(), s.id, ErrClientExists)
	}
	if len(s.clients) >= m.cfg.MaxClientsPerStream {
		return fmt.Errorf("register on stream %s: %w (limit %d)", s.id, ErrTooManyClients, m.cfg.MaxClientsPerStream)
	}
	return nil
}

// DeregisterClient removes a client without notifying it. It fails with ErrNotFound when the stream
// or the client is unknown, and with ErrClosed when the stream has closed (its clients were released).
func (m *Manager) DeregisterClient(_ context.Context, streamID, clientID string) error {
	s, err := m.stream(streamID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != StatusActive {
		return fmt.Errorf("deregister client %s: stream %s: %w", clientID, streamID, ErrClosed)
	}
	if !s.remove(clientID) {
		return fmt.Errorf("deregister client %s from stream %s: %w", clientID, streamID, ErrNotFound)
	}
	return nil
}

// unregister removes a client if it is still registered.
func (m *Manager) unregister(s *stream, clientID string) {
	s.mu.Lock()
	s.remove(clientID)
	s.mu.Unlock()
}

// PushChunk assigns ch the stream's next ID and sends it to every client, in push order. It never
// waits on a client; failures follow Config.OnClientSendError.
func (m *Manager) PushChunk(ctx context.Context, streamID string, ch Chunk) error {
	_, err := m.push(ctx, nil, streamID, ch)
	return err
}

// Push is PushChunk that also returns the ID the chunk was given, 0 when it was not recorded. A
// recorded chunk stays recorded when delivery errors are returned (Config.OnClientSendError Throw).
// A chunk whose bytes do not fit in the budget is refused with a *LimitError wrapping
// ErrBudgetExhausted; the stream stays active. A mirror refuses it with ErrMirror (see PushAt).
func (m *Manager) Push(ctx context.Context, streamID string, ch Chunk) (uint64, error) {
	return m.push(ctx, nil, streamID, ch)
}

// push is Push onto s, a Handle's stream, or when s is nil the stream streamID. The wrappers
// (Push, PushChunk, Handle's) are inlined, so that a push costs no more calls than the lookup
// and this.
func (m *Manager) push(ctx context.Context, s *stream, streamID string, ch Chunk) (uint64, error) {
	if s == nil {
		var err error
		if s, err = m.stream(streamID); err != nil {
			return 0, err
		}
	} else if m.shutdown.Load() {
		return 0, ErrShutdown // as the lookup by ID would answer
	}
	s.mu.Lock()
	if s.status != StatusActive || s.mirror {
		closed := s.status != StatusActive
		s.mu.Unlock()
		return 0, m.refusePush(s, closed)
	}
	drop, need, ok := m.admit(s, len(ch.Data))
	if !ok {
		var err error
		s.mu.Unlock()
		if drop, err = m.makeRoom(s, len(ch.Data), need); err != nil {
			return 0, err
		}
	}
	ch = s.record(ch, drop)
	failed := s.fanOut(ctx, ch, m.cfg.OnClientSendError)
	s.mu.Unlock()
	return ch.ID, m.sendFailed(ctx, s, ch.ID, failed)
}

func closedPush(streamID string) error {
	return fmt.Errorf("push to stream %s: %w", streamID, ErrClosed)
}

// sendFailed applies OnClientSendError to the failures of one push, outside the stream lock.
func (m *Manager) sendFailed(ctx context.Context, s *stream, chunkID uint64, failed []sendFailure) error {
	if len(failed) == 0 {
		return nil
	}
	var errs []error
	for _, f := range failed {
		switch m.cfg.OnClientSendError {
		case LogAndContinue:
			m.log.Warn("send to client failed", "stream_id", s.id, "client_id", f.client.ID(), "chunk_id", chunkID, "error", f.err)
		case DeregisterClient:
			m.log.Warn("send to client failed; client deregistered", "stream_id", s.id, "client_id", f.client.ID(), "chunk_id", chunkID, "error", f.err)
			m.notifyClosed(ctx, f.client, ClosedError{StreamID: s.id, Reason: "send failed: " + f.err.Error(), Status: StatusError})
		case Throw:
			errs = append(errs, &ClientError{ClientID: f.client.ID(), Err: f.err})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("push chunk %d to stream %s: %w", chunkID, s.id, errors.Join(errs...))
}

// notify tells c that the stream ended for it, with the details when c is a CloseReceiver.
func notify(ctx context.Context, c Client, end ClosedError) error {
	if r, ok := c.(CloseReceiver); ok {
		return r.StreamClosed(ctx, end)
	}
	return c.NotifyStreamClosed(ctx, end.Reason)
}

func (m *Manager) notifyClosed(ctx context.Context, c Client, end ClosedError) {
	if err := notify(ctx, c, end); err != nil {
		m.log.Warn("notify client of close failed", "stream_id", end.StreamID, "client_id", c.ID(), "error", err)
	}
}

// CloseStream closes the stream with status completed after every chunk pushed before it reached
// the clients. Closing a closed stream does nothing.
func (m *Manager) CloseStream(ctx context.Context, streamID, reason string) error {
	s, err := m.stream(streamID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	clients, closed := s.closeLocked(StatusCompleted, reason, nil, time.Now())
	end := s.endLocked()
	s.mu.Unlock()
	if closed {
		m.closed(ctx, s, clients, end)
	}
	return nil
}

// HandleStreamError pushes an error chunk (Event "error", Data Gemini's error JSON) made from err: a
// *StreamError keeps its fields, any other error becomes 500 INTERNAL. With terminate it then closes
// the stream with status error and reason "Stream terminated due to error: <message>". On a mirror
// only terminate is accepted (ErrMirror otherwise): its source failed, and the error chunk, the
// next ID of the mirror's own, is the last one.
func (m *Manager) HandleStreamError(ctx context.Context, streamID string, err error, terminate bool) error {
	if err == nil {
		return fmt.Errorf("handle error on stream %s: nil error", streamID)
	}
	s, lookupErr := m.stream(streamID)
	if lookupErr != nil {
		return lookupErr
	}
	return m.fail(ctx, s, AsStreamError(err).Normalized(), terminate)
}

func (m *Manager) fail(ctx context.Context, s *stream, se *StreamError, terminate bool) error {
	if s.mirror && !terminate {
		return fmt.Errorf("error on stream %s: %w", s.id, ErrMirror)
	}
	s.mu.Lock()
	if s.status != StatusActive {
		s.mu.Unlock()
		return fmt.Errorf("error on stream %s: %w", s.id, ErrClosed)
	}
	return m.failLocked(ctx, s, se, terminate)
}

// failLocked records and fans out an error chunk and, with terminate, closes the stream. s.mu must
// be held on an active stream; failLocked releases it before applying send failures and notifying.
func (m *Manager) failLocked(ctx context.Context, s *stream, se *StreamError, terminate bool) error {
	ch := m.force(s, Chunk{Event: "error", Data: se.JSON(), Err: se})
	failed := s.fanOut(ctx, ch, m.cfg.OnClientSendError)
	var clients []Client
	var end ClosedError
	if terminate {
		clients, _ = s.closeLocked(StatusError, ReasonTerminatedPrefix+se.Message, se, ch.Time)
		end = s.endLocked()
	}
	s.mu.Unlock()
	sendErr := m.sendFailed(ctx, s, ch.ID, failed)
	if terminate {
		m.closed(ctx, s, clients, end)
	}
	return sendErr
}

// closed finishes a close outside the stream lock: it runs the AfterClose callbacks, frees the
// capacity, retains the stream, schedules it to be forgotten, notifies the clients and then the
// Observer.
func (m *Manager) closed(ctx context.Context, s *stream, clients []Client, end ClosedError) {
	s.runHooks()
	m.mu.Lock()
	if !s.mirror {
		m.active--
		m.rings.observe(s.hist.reached()) // no push adds to the closed history any more
	}
	s.tenant.streams--
	if !m.shutdown.Load() {
		s.forgetAt = time.Now().Add(m.cfg.RetainClosed)
		s.retained = m.retained.PushBack(s)
		s.tenantAt = s.tenant.retained.PushBack(s)
		if m.retained.Len() == 1 {
			m.reapAtLocked(s.forgetAt)
		}
		if m.retained.Len() > m.cfg.MaxRetained {
			m.forgetLocked(m.retained.Front().Value.(*stream))
		}
	}
	m.mu.Unlock()
	for _, c := range clients {
		m.notifyClosed(ctx, c, end)
	}
	m.observeClosed(s)
}

// The reaper. Streams are retained in the order they closed, each for RetainClosed, so they
// expire in that order too: one timer, due at the oldest's forgetAt, does what a timer per
// retained stream did (up to MaxRetained of them, each a runtime timer and a closure held for the
// whole RetainClosed, and one more timer to arm and stop per close). A stream forgotten before
// its time (MaxRetained, the budget, ForgetMirror) leaves the timer due early: it then finds
// nothing expired and waits for the next.

// reapAtLocked arms the reaper for t. m.mu must be held.
func (m *Manager) reapAtLocked(t time.Time) {
	d := time.Until(t)
	if m.reaper == nil {
		m.reaper = time.AfterFunc(d, m.reap)
		return
	}
	m.reaper.Reset(d)
}

// reap forgets the retained streams whose time has come and arms the reaper for the next.
func (m *Manager) reap() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shutdown.Load() {
		return
	}
	now := time.Now()
	for e := m.retained.Front(); e != nil; e = m.retained.Front() {
		s := e.Value.(*stream)
		if s.forgetAt.After(now) {
			m.reapAtLocked(s.forgetAt)
			return
		}
		m.forgetLocked(s)
	}
}

func (m *Manager) forget(s *stream) {
	m.mu.Lock()
	m.forgetLocked(s)
	m.mu.Unlock()
}

// forgetLocked forgets a retained closed stream and gives its bytes back to the budget. Its
// history is not touched: a replay that found the stream before may still read it. m.mu must be
// held.
func (m *Manager) forgetLocked(s *stream) {
	if s.retained == nil {
		return
	}
	m.retained.Remove(s.retained)
	s.tenant.retained.Remove(s.tenantAt)
	s.retained, s.tenantAt = nil, nil
	m.streams.CompareAndDelete(s.id, s)
	s.mu.Lock()
	held := s.hist.bytes
	s.mu.Unlock()
	s.tenant.bytes.Add(-held)
	m.bytes.Add(-held)
	m.releaseLocked(s.tenant)
}

// idleTicks is how many inactivity ticks make up InactivityTimeout: a stream ends between the
// timeout and 1/idleTicks later, and PushChunk never reads the clock for it.
const idleTicks = 8

func (m *Manager) idleTick() time.Duration {
	return max(m.cfg.InactivityTimeout/idleTicks, time.Millisecond)
}

// checkIdle runs every idleTick: it terminates a stream that saw no push for idleTicks ticks in a
// row, or re-arms its timer.
func (m *Manager) checkIdle(s *stream) {
	s.mu.Lock()
	if s.status != StatusActive {
		s.mu.Unlock()
		return
	}
	if s.hist.last != s.seenLast {
		s.seenLast, s.quiet = s.hist.last, 0
	} else {
		s.quiet++
	}
	if s.quiet < idleTicks {
		s.idle.Reset(m.idleTick())
		s.mu.Unlock()
		return
	}
	timeout := m.cfg.InactivityTimeout
	m.log.Warn("stream inactive; terminating", "stream_id", s.id, "timeout_ms", millis(timeout))
	se := &StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: fmt.Sprintf("no chunk for %s", timeout)}
	if err := m.failLocked(context.Background(), s, se, true); err != nil {
		m.log.Warn("terminate inactive stream", "stream_id", s.id, "error", err)
	}
}

// Done returns a channel closed when the stream closes.
func (m *Manager) Done(_ context.Context, streamID string) (<-chan struct{}, error) {
	s, err := m.stream(streamID)
	if err != nil {
		return nil, err
	}
	return s.done, nil
}

// ActiveStreamIDs lists the active streams, sorted.
func (m *Manager) ActiveStreamIDs(_ context.Context) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.shutdown.Load() {
		return nil, ErrShutdown
	}
	ids := make([]string, 0, m.active)
	m.streams.Range(func(_, v any) bool {
		s := v.(*stream)
		s.mu.Lock()
		if s.status == StatusActive {
			ids = append(ids, s.id)
		}
		s.mu.Unlock()
		return true
	})
	slices.Sort(ids)
	return ids, nil
}

// ClientCount returns the number of clients registered on the stream.
func (m *Manager) ClientCount(_ context.Context, streamID string) (int, error) {
	s, err := m.stream(streamID)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients), nil
}

// Info describes one stream, active or retained.
func (m *Manager) Info(_ context.Context, streamID string) (StreamInfo, error) {
	s, err := m.stream(streamID)
	if err != nil {
		return StreamInfo{}, err
	}
	return s.info(), nil
}

// List describes every stream, active and retained, oldest first.
func (m *Manager) List(_ context.Context) ([]StreamInfo, error) {
	m.mu.RLock()
	if m.shutdown.Load() {
		m.mu.RUnlock()
		return nil, ErrShutdown
	}
	streams := make([]*stream, 0, m.active+m.retained.Len())
	m.streams.Range(func(_, v any) bool {
		streams = append(streams, v.(*stream))
		return true
	})
	m.mu.RUnlock()
	infos := make([]StreamInfo, len(streams))
	for i, s := range streams {
		infos[i] = s.info()
	}
	slices.SortFunc(infos, func(a, b StreamInfo) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return infos, nil
}

// Usage is what the manager holds at one moment, against its limits.
type Usage struct {
	Streams  int   // active streams (Config.MaxConcurrentStreams)
	Retained int   // retained closed streams
	Bytes    int64 // chunk data in every history, active and retained streams (Config.MaxBytes)
}

// Usage reports what the manager holds.
func (m *Manager) Usage(_ context.Context) (Usage, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.shutdown.Load() {
		return Usage{}, ErrShutdown
	}
	return Usage{Streams: m.active, Retained: m.retained.Len(), Bytes: m.bytes.Load()}, nil
}
