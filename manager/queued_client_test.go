package manager_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/manager"
)

// sink records batches; block, when set, holds every Deliver until closed.
type sink struct {
	block chan struct{}
	err   error

	mu      sync.Mutex
	batches [][]uint64
	reason  string
	end     manager.ClosedError
	closed  int
}

func (s *sink) Deliver(ctx context.Context, chunks []manager.Chunk) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.err != nil {
		return s.err
	}
	ids := make([]uint64, len(chunks))
	for i, ch := range chunks {
		ids[i] = ch.ID
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
	return nil
}

func (s *sink) Closed(_ context.Context, end manager.ClosedError) error {
	s.mu.Lock()
	s.reason = end.Reason
	s.end = end
	s.closed++
	s.mu.Unlock()
	return nil
}

func (s *sink) ids() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []uint64
	for _, b := range s.batches {
		all = append(all, b...)
	}
	return all
}

// run starts qc.Run and returns a function that waits for its result.
func run(t *testing.T, qc *manager.QueuedClient, ctx context.Context) func() error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- qc.Run(ctx) }()
	return func() error {
		select {
		case err := <-res:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

func TestNewQueuedClientValidates(t *testing.T) {
	_, err := manager.NewQueuedClient("", &sink{}, manager.QueueConfig{})
	require.ErrorIs(t, err, manager.ErrInvalidConfig)
	_, err = manager.NewQueuedClient("a", nil, manager.QueueConfig{})
	require.ErrorIs(t, err, manager.ErrInvalidConfig)
	_, err = manager.NewQueuedClient("a", &sink{}, manager.QueueConfig{Size: -1})
	require.ErrorIs(t, err, manager.ErrInvalidConfig)
}

func TestQueuedClientDeliversInBatchesThenCloses(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	s := &sink{}
	qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{MaxBatch: 3})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	push(t, m, id, "1", "2", "3", "4", "5", "6", "7")
	require.NoError(t, m.CloseStream(ctx, id, "completed"))

	wait := run(t, qc, ctx)
	require.NoError(t, wait())
	require.Equal(t, seq(1, 7), s.ids())
	for _, b := range s.batches {
		require.LessOrEqual(t, len(b), 3)
	}
	require.Equal(t, "completed", s.reason)
	require.Equal(t, 1, s.closed)
	require.Equal(t, uint64(7), qc.LastID())
	require.False(t, qc.Active())
	<-qc.Done()
	require.Error(t, qc.Run(ctx), "Run runs once")
}

// The sink learns how the stream ended, whoever ended it and whenever the client registered.
func TestQueuedClientSinkGetsTheCloseDetails(t *testing.T) {
	boom := &manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "boom"}
	for _, tt := range []struct {
		name  string
		close func(m *manager.Manager, id string) error
		late  bool // register after the close
		want  manager.ClosedError
	}{
		{"completed", func(m *manager.Manager, id string) error { return m.CloseStream(ctx, id, "completed") }, false,
			manager.ClosedError{Reason: "completed", Status: manager.StatusCompleted}},
		{"closed with another reason", func(m *manager.Manager, id string) error { return m.CloseStream(ctx, id, "deleted") }, false,
			manager.ClosedError{Reason: "deleted", Status: manager.StatusCompleted}},
		{"terminated", func(m *manager.Manager, id string) error { return m.HandleStreamError(ctx, id, boom, true) }, false,
			manager.ClosedError{Reason: "Stream terminated due to error: boom", Status: manager.StatusError, Err: boom}},
		{"terminated, registered later", func(m *manager.Manager, id string) error { return m.HandleStreamError(ctx, id, boom, true) }, true,
			manager.ClosedError{Reason: "Stream terminated due to error: boom", Status: manager.StatusError, Err: boom}},
		{"shut down", func(m *manager.Manager, _ string) error { return m.Shutdown(ctx) }, false,
			manager.ClosedError{Reason: "shutting down", Status: manager.StatusError,
				Err: &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "shutting down"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newManager(t, manager.Config{})
			id := newStream(t, m)
			s := &sink{}
			qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{})
			require.NoError(t, err)
			var wait func() error
			if !tt.late {
				require.NoError(t, m.RegisterClient(ctx, id, qc))
				wait = run(t, qc, ctx) // Shutdown waits for it
			}
			require.NoError(t, tt.close(m, id))
			if tt.late {
				require.NoError(t, m.RegisterClientFrom(ctx, id, qc, 0))
				wait = run(t, qc, ctx)
			}
			require.NoError(t, wait())
			tt.want.StreamID = id
			require.Equal(t, tt.want, s.end)
			require.Equal(t, 1, s.closed)
		})
	}
}

// A caller other than the manager knows only the reason.
func TestQueuedClientNotifiedByReason(t *testing.T) {
	for reason, want := range map[string]manager.Status{"completed": manager.StatusCompleted, "gone": manager.StatusError} {
		s := &sink{}
		qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{})
		require.NoError(t, err)
		require.NoError(t, qc.NotifyStreamClosed(ctx, reason))
		require.NoError(t, run(t, qc, ctx)())
		require.Equal(t, manager.ClosedError{Reason: reason, Status: want}, s.end)
	}
}

func TestQueuedClientOverflowIsASlowClient(t *testing.T) {
	m, logs := newManager(t, manager.Config{})
	logBuf := &testlog.Buffer{}
	id := newStream(t, m)
	s := &sink{block: make(chan struct{})}
	qc, err := manager.NewQueuedClient("slow", s, manager.QueueConfig{Size: 2, Logger: slog.New(slog.NewTextHandler(logBuf, nil))})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))

	push(t, m, id, "1", "2", "3") // 3 overflows the queue of 2
	require.False(t, qc.Active())
	push(t, m, id, "4")
	n, err := m.ClientCount(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n, "removed at the next push")

	wait := run(t, qc, ctx)
	close(s.block)
	require.ErrorIs(t, wait(), manager.ErrSlowClient)
	require.Equal(t, []uint64{1, 2}, s.ids(), "what was queued before the overflow is delivered")
	require.Zero(t, s.closed, "a slow client is not told the stream closed")
	require.Equal(t, 1, strings.Count(logBuf.String(), "client dropped: queue full"))
	require.Contains(t, logBuf.String(), "client_id=slow")
	require.Contains(t, logs.String(), "client queue full", "the manager logged the failed send")

	// The owner re-registers from the last chunk it got: nothing lost, nothing repeated.
	s2 := &sink{}
	qc2, err := manager.NewQueuedClient("slow", s2, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClientFrom(ctx, id, qc2, qc.LastID()))
	push(t, m, id, "5")
	require.NoError(t, m.CloseStream(ctx, id, "completed"))
	require.NoError(t, run(t, qc2, ctx)())
	require.Equal(t, seq(3, 5), s2.ids())
}

func TestQueuedClientSinkError(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	broken := errors.New("broken pipe")
	qc, err := manager.NewQueuedClient("q", &sink{err: broken}, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	wait := run(t, qc, ctx)
	push(t, m, id, "1")
	err = wait()
	require.ErrorIs(t, err, broken)
	require.ErrorContains(t, err, "deliver to client q")
	require.False(t, qc.Active())
}

func TestQueuedClientStopsWithContext(t *testing.T) {
	qc, err := manager.NewQueuedClient("q", &sink{}, manager.QueueConfig{})
	require.NoError(t, err)
	c, cancel := context.WithCancel(ctx)
	wait := run(t, qc, c)
	cancel()
	require.ErrorIs(t, wait(), context.Canceled)
	require.False(t, qc.Active())
}

func TestQueuedClientCancelledWhileBlocked(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	qc, err := manager.NewQueuedClient("q", &sink{block: make(chan struct{})}, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	c, cancel := context.WithCancel(ctx)
	wait := run(t, qc, c)
	push(t, m, id, "1")
	cancel()
	require.ErrorIs(t, wait(), context.Canceled)
}

// A client that never drains must not slow delivery to the others: they still get every chunk.
func TestStuckClientDoesNotHoldUpOthers(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	stuck := &sink{block: make(chan struct{})}
	defer close(stuck.block)
	qs, err := manager.NewQueuedClient("stuck", stuck, manager.QueueConfig{Size: 16})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qs))
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	waitStuck := run(t, qs, c)

	const clients, chunks = 8, 2000
	sinks := make([]*sink, clients)
	waits := make([]func() error, clients)
	for i := range sinks {
		sinks[i] = &sink{}
		qc, err := manager.NewQueuedClient(string(rune('a'+i)), sinks[i], manager.QueueConfig{})
		require.NoError(t, err)
		require.NoError(t, m.RegisterClient(ctx, id, qc))
		waits[i] = run(t, qc, ctx)
	}
	for i := range chunks {
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte{byte(i)}}))
	}
	require.NoError(t, m.CloseStream(ctx, id, "completed"))
	for i, wait := range waits {
		require.NoError(t, wait())
		require.Equal(t, seq(1, chunks), sinks[i].ids())
	}
	require.False(t, qs.Active(), "the stuck client dropped out")
	cancel()
	require.Error(t, waitStuck())
}
