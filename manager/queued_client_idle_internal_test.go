package manager

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// capSink holds its first Deliver until gate closes, and records the capacity of every batch it
// is handed: the buffer the queued client delivers from.
type capSink struct {
	gate chan struct{}
	once sync.Once

	mu   sync.Mutex
	last uint64
	caps []int
}

func (s *capSink) Deliver(_ context.Context, chunks []Chunk) error {
	s.once.Do(func() { <-s.gate })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = chunks[len(chunks)-1].ID
	s.caps = append(s.caps, cap(chunks))
	return nil
}

func (s *capSink) Closed(context.Context, ClosedError) error { return nil }

func (s *capSink) delivered() (uint64, []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	caps := s.caps
	s.caps = nil
	return s.last, caps
}

// A burst (a long replay, a consumer held up) grows the queue's buffers; once it is delivered
// and the client has caught up they are given back, so that a client whose stream then goes on
// one chunk at a time holds none larger than idleCap, rather than both buffers of the burst
// trading places for as long as it runs.
func TestQueuedClientGivesABurstsBuffersBackOnceCaughtUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &capSink{gate: make(chan struct{})}
		c, err := NewQueuedClient("q", s, QueueConfig{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- c.Run(ctx) }()

		id := uint64(0)
		send := func() {
			id++
			require.NoError(t, c.SendChunk(ctx, Chunk{ID: id, Data: []byte("x")}))
		}
		send()
		synctest.Wait() // Run delivers chunk 1 and is held there
		const burst = 4 * idleCap
		for range burst {
			send()
		}
		close(s.gate)
		synctest.Wait()
		last, _ := s.delivered()
		require.Equal(t, id, last)

		for range 8 {
			send()
			synctest.Wait()
			last, caps := s.delivered()
			require.Equal(t, id, last)
			require.Len(t, caps, 1)
			require.LessOrEqual(t, caps[0], idleCap, "chunk %d delivered from a buffer of %d", id, caps[0])
		}
		c.q.mu.Lock()
		pending := cap(c.q.pending)
		c.q.mu.Unlock()
		require.LessOrEqual(t, pending, idleCap)

		cancel()
		require.ErrorIs(t, <-ran, context.Canceled)
	})
}
