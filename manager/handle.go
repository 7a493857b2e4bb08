package manager

import (
	"context"
	"fmt"
)

// Handle is one stream as the party feeding it holds it: the upstream runner pushes every chunk
// of its stream through one instead of naming the stream by ID, which costs a lookup per chunk
// (hashing the ID and walking the stream map, about 4% of the gateway's user CPU at 256 Gemini
// streams, issue 15), and learns of the stream's close from AfterClose instead of a goroutine
// waiting on Done. A Handle is two pointers, copied freely; the zero Handle is not usable. It
// stays valid however long it is held: once its stream is forgotten it answers as the ID would.
type Handle struct {
	m *Manager
	s *stream
}

// Handle returns the handle of the stream streamID, active or retained closed.
func (m *Manager) Handle(_ context.Context, streamID string) (Handle, error) {
	s, err := m.stream(streamID)
	if err != nil {
		return Handle{}, err
	}
	return Handle{m: m, s: s}, nil
}

// ID returns the ID of the handle's stream.
func (h Handle) ID() string { return h.s.id }

// Labels returns the labels of the handle's stream, as its StreamInfo.Labels: shared, never
// written after the stream's creation, to be read only. Unlike Info it takes no lock.
func (h Handle) Labels() map[string]string { return h.s.labels }

// PushChunk is Manager.PushChunk on the handle's stream.
func (h Handle) PushChunk(ctx context.Context, ch Chunk) error {
	_, err := h.m.push(ctx, h.s, "", ch)
	return err
}

// Push is Manager.Push on the handle's stream, with the same answers: ErrShutdown once the
// manager shuts down, and, once the stream is forgotten, the ErrNotFound of a push by its ID
// (also when a new stream has taken the ID since: a handle never pushes onto another stream).
func (h Handle) Push(ctx context.Context, ch Chunk) (uint64, error) {
	return h.m.push(ctx, h.s, "", ch)
}

// refusePush is Push's refusal of s, closed (as closed said, under s.mu) or a mirror. A stream
// no longer in the map (forgotten, or taken away by Shutdown) since the push found it is refused
// as a lookup by its ID would refuse it. Called without s.mu.
func (m *Manager) refusePush(s *stream, closed bool) error {
	switch found, err := m.stream(s.id); {
	case err != nil:
		return err
	case found != s:
		return fmt.Errorf("stream %s: %w", s.id, ErrNotFound)
	case closed:
		return closedPush(s.id)
	}
	return fmt.Errorf("push to stream %s: %w", s.id, ErrMirror)
}

// AfterClose arranges for f to run once the stream closes, however it closes (CloseStream,
// HandleStreamError with terminate, the inactivity timeout, a mirror's close, Shutdown), as
// context.AfterFunc does for a context. f runs on the goroutine that closed the stream, outside
// the manager's and the stream's locks, before the clients are told; it must return promptly
// and may call the manager. On a stream already closed f runs at once, before AfterClose
// returns. stop undoes the registration: it reports whether it kept f from running, false when
// f has run or is about to. Once the close ran the callbacks, or stop was called, the stream
// holds f no longer.
func (h Handle) AfterClose(f func()) (stop func() bool) {
	s := h.s
	hook := &closeHook{f: f}
	s.mu.Lock()
	if s.status != StatusActive {
		s.mu.Unlock()
		f()
		return func() bool { return false }
	}
	hook.next, s.hooks = s.hooks, hook
	s.mu.Unlock()
	return func() bool { return s.dropHook(hook) }
}

// closeHook is one AfterClose callback, in its stream's list.
type closeHook struct {
	f    func()
	next *closeHook
}

// dropHook takes hook out of s's callbacks, and reports whether it was still there.
func (s *stream) dropHook(hook *closeHook) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := &s.hooks; *p != nil; p = &(*p).next {
		if *p == hook {
			*p = hook.next
			return true
		}
	}
	return false
}

// runHooks runs the AfterClose callbacks of s, closed, and lets them go. Called without s.mu,
// by the goroutine that closed s.
func (s *stream) runHooks() {
	s.mu.Lock()
	hook := s.hooks
	s.hooks = nil
	s.mu.Unlock()
	for ; hook != nil; hook = hook.next {
		hook.f()
	}
}
