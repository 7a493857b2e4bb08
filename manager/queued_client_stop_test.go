package manager_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// gatedSink holds its first Deliver until gate closes, whatever its context does.
type gatedSink struct {
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once

	mu  sync.Mutex
	ids []uint64
}

func (s *gatedSink) Deliver(_ context.Context, chunks []manager.Chunk) error {
	s.once.Do(func() {
		close(s.entered)
		<-s.gate
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range chunks {
		s.ids = append(s.ids, ch.ID)
	}
	return nil
}

func (s *gatedSink) Closed(context.Context, manager.ClosedError) error { return nil }

// When the context ends, what was queued before still goes out, and Run then returns the
// context's error.
func TestQueuedClientDeliversWhatIsQueuedAfterItsContextEnds(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	s := &gatedSink{entered: make(chan struct{}), gate: make(chan struct{})}
	qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	c, cancel := context.WithCancel(ctx)
	push(t, m, id, "1")
	wait := run(t, qc, c)
	<-s.entered
	push(t, m, id, "2", "3")
	cancel()
	close(s.gate)
	require.ErrorIs(t, wait(), context.Canceled)
	require.Equal(t, seq(1, 3), s.ids)
	require.Equal(t, uint64(3), qc.LastID())
}
