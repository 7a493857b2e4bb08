package manager

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Mirrors. A mirror is a local stream whose chunk IDs are assigned elsewhere: by the cluster that
// shares the stream among replicas, whose layer (package cluster) feeds each chunk in with the ID
// it already carries (PushAt) and ends the mirror as its source ended (CloseMirror). Clients
// register on a mirror, replay its history and receive its chunks exactly as on any stream.
//
// A mirror stands outside the local stream limit (MaxConcurrentStreams) and the tenants' quotas:
// the stream is counted once, where it was created, by its owner's replica and by the cluster's
// Redis counters, and a replica that refused to mirror it would only refuse it to its own
// subscribers. Its chunks do count against the global byte budget (MaxBytes), which bounds this
// process's memory, but a mirror never refuses one: the chunk is already part of the stream
// everywhere else. At the bound it rolls as any stream does (retained closed streams are
// forgotten, then its own oldest chunks go) and, when even that is not enough, keeps only the new
// chunk; a resume from before a mirror's first chunk is its source's to serve. A mirror has no
// inactivity timeout either: its source decides when the stream ends.

var (
	// ErrMirror refuses, on a mirror, what would give a chunk an ID of this manager's own: Push,
	// PushChunk and HandleStreamError without terminate.
	ErrMirror = errors.New("stream is a mirror: its chunk IDs are assigned by its source")
	// ErrNotMirror refuses the mirror operations (PushAt, CloseMirror, ForgetMirror) on a stream
	// this manager numbers itself.
	ErrNotMirror = errors.New("stream is not a mirror")
	// ErrOutOfSequence is wrapped by the *SequenceError PushAt returns for a chunk that is not the
	// mirror's next.
	ErrOutOfSequence = errors.New("chunk is not the next of the stream")
)

// SequenceError refuses a chunk whose ID is not the mirror's last plus one. A chunk at or below
// Last is one the mirror has already (Duplicate); one above Last+1 means chunks in between are
// missing, and the feeder must read them from the source before this one.
type SequenceError struct {
	StreamID string
	Last     uint64 // the mirror's last chunk
	ID       uint64 // the chunk refused
}

func (e *SequenceError) Error() string {
	return "push chunk " + strconv.FormatUint(e.ID, 10) + " to stream " + e.StreamID + ": " +
		ErrOutOfSequence.Error() + " (last is " + strconv.FormatUint(e.Last, 10) + ")"
}

// Unwrap makes errors.Is(err, ErrOutOfSequence) true.
func (e *SequenceError) Unwrap() error { return ErrOutOfSequence }

// Duplicate reports whether the refused chunk is one the mirror already has.
func (e *SequenceError) Duplicate() bool { return e.ID <= e.Last }

// MirrorOptions configures CreateMirror: what the stream's source says about it.
type MirrorOptions struct {
	// ID is the stream's ID. Required.
	ID string
	// Instance is the source's StreamInfo.Instance; empty means a new one.
	Instance string
	// Labels are returned in StreamInfo.Labels; LabelTenant counts against no quota here.
	Labels map[string]string
	// CreatedAt is when the source created the stream; zero means now.
	CreatedAt time.Time
}

// newMirrorTenant returns the tenant every mirror belongs to: a quota no mirror reaches, and never
// registered among the real tenants, so that TenantUsage and the quotas leave mirrors out.
func newMirrorTenant() *tenant {
	return &tenant{quota: Quota{MaxStreams: math.MaxInt, MaxBytes: math.MaxInt64}}
}

// CreateMirror creates an active mirror whose first chunk will be lastID+1: a replay after lastID
// or later is served from its history, one from before fails with ErrHistoryTrimmed. It fails
// with ErrInvalidID, ErrExists (a stream or retained closed stream has the ID) or ErrShutdown.
func (m *Manager) CreateMirror(_ context.Context, opts MirrorOptions, lastID uint64) error {
	if err := ValidateID(opts.ID); err != nil {
		return err
	}
	created := opts.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	s := newStream(opts.ID, m.mirrors, opts.Labels, &m.cfg, created)
	s.mirror = true
	if opts.Instance != "" {
		s.instance = opts.Instance
	}
	s.hist.startAfter(lastID)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.shutdown.Load():
		return ErrShutdown
	case m.has(opts.ID):
		return fmt.Errorf("create mirror %s: %w", opts.ID, ErrExists)
	}
	m.streams.Store(opts.ID, s)
	m.mirrors.held++
	m.mirrors.streams++
	return nil
}

// PushAt records ch on a mirror under the ID it carries, which must be the mirror's last plus
// one (a *SequenceError otherwise, nothing changed), and sends it to every client as PushChunk
// does. It never refuses a chunk for the byte budget (see the top of mirror.go). A zero ch.Time is
// stamped now.
func (m *Manager) PushAt(ctx context.Context, streamID string, ch Chunk) error {
	s, err := m.stream(streamID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.nextIs(ch.ID); err != nil {
		s.mu.Unlock()
		return err
	}
	drop, need, ok := m.admit(s, len(ch.Data))
	if !ok {
		s.mu.Unlock()
		if drop, err = m.mirrorRoom(s, ch.ID, len(ch.Data), need); err != nil {
			return err
		}
	}
	ch = s.record(ch, drop)
	failed := s.fanOut(ctx, ch, m.cfg.OnClientSendError)
	s.mu.Unlock()
	return m.sendFailed(ctx, s, ch.ID, failed)
}

// nextIs checks that chunk id may be pushed onto s with PushAt. s.mu must be held.
func (s *stream) nextIs(id uint64) error {
	switch {
	case !s.mirror:
		return fmt.Errorf("push chunk %d to stream %s: %w", id, s.id, ErrNotMirror)
	case s.status != StatusActive:
		return closedPush(s.id)
	case id != s.hist.last+1:
		return &SequenceError{StreamID: s.id, Last: s.hist.last, ID: id}
	}
	return nil
}

// mirrorRoom is the slow path of a PushAt of chunk id, n bytes, that did not fit, need bytes
// short. Like makeRoom it forgets retained closed streams and then lets the mirror roll within
// what it holds; where makeRoom would refuse, it keeps the chunk alone, over the budget by at most
// that chunk. It is called without s.mu and returns with it held, unless it fails because the
// mirror closed or the chunk stopped being its next meanwhile.
func (m *Manager) mirrorRoom(s *stream, id uint64, n int, need int64) (uint64, error) {
	m.mu.Lock()
	m.evictRetainedLocked(s.tenant, need)
	m.mu.Unlock()

	s.mu.Lock()
	if err := s.nextIs(id); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if drop, _, ok := m.admit(s, n); ok {
		return drop, nil
	}
	avail := m.free(s.tenant)
	drop, freed := s.hist.plan(n, min(s.hist.maxBytes, s.hist.bytes+avail))
	if g := int64(n) - freed; g <= avail && m.reserve(s.tenant, g) {
		return drop, nil
	}
	drop, freed = s.hist.plan(n, 0)
	m.log.Warn("memory budget exhausted; mirror keeps only its newest chunk", "stream_id", s.id, "chunk_id", id)
	g := int64(n) - freed
	s.tenant.bytes.Add(g)
	m.bytes.Add(g)
	return drop, nil
}

// CloseMirror closes a mirror as its source closed: with status (StatusCompleted or
// StatusError), reason and, for an error, the error that ended it. Unlike HandleStreamError it
// adds no chunk: a source that ended with an error chunk has fed it in already. Clients receive
// the end after every chunk pushed before it; closing a closed mirror does nothing.
func (m *Manager) CloseMirror(ctx context.Context, streamID string, status Status, reason string, se *StreamError) error {
	if status != StatusCompleted && status != StatusError {
		return fmt.Errorf("close mirror %s: status must be %s or %s, got %q", streamID, StatusCompleted, StatusError, status)
	}
	s, err := m.mirror(streamID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	clients, closed := s.closeLocked(status, reason, se, time.Now())
	end := s.endLocked()
	s.mu.Unlock()
	if closed {
		m.closed(ctx, s, clients, end)
	}
	return nil
}

// ForgetMirror forgets a mirror at once, active or retained closed, so that its ID is free for a
// new mirror: the replica lets go of the stream, which goes on at its source. An active mirror is
// closed first as Shutdown closes streams (status error, reason "shutting down", 503
// UNAVAILABLE), so that a client still registered learns it must go elsewhere.
func (m *Manager) ForgetMirror(ctx context.Context, streamID string) error {
	s, err := m.mirror(streamID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	clients, closed := s.closeLocked(StatusError, ReasonShuttingDown, shutdownErr, time.Now())
	end := s.endLocked()
	s.mu.Unlock()
	if closed {
		m.closed(ctx, s, clients, end)
	}
	m.forget(s)
	return nil
}

// mirror looks a mirror up.
func (m *Manager) mirror(streamID string) (*stream, error) {
	s, err := m.stream(streamID)
	if err != nil {
		return nil, err
	}
	if !s.mirror {
		return nil, fmt.Errorf("stream %s: %w", streamID, ErrNotMirror)
	}
	return s, nil
}

// HistoryBounds returns the oldest chunk a stream's history retains and its last chunk: a replay
// after first-1 or later is served. first is last+1 when the history holds no chunk.
func (m *Manager) HistoryBounds(_ context.Context, streamID string) (first, last uint64, err error) {
	s, err := m.stream(streamID)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hist.count() == 0 {
		return s.hist.last + 1, s.hist.last, nil
	}
	return s.hist.first, s.hist.last, nil
}
