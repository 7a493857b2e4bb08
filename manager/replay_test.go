package manager_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// batchSink records, for every Deliver, the chunk IDs, the data bytes and where each chunk's data
// lives. With stall set, Deliver records and then waits for its context, as a subscriber that
// stopped reading blocks in its write.
type batchSink struct {
	stall bool

	mu      sync.Mutex
	batches []deliveredBatch
}

type deliveredBatch struct {
	ids   []uint64
	bytes int
	data  []*byte
}

func (s *batchSink) Deliver(ctx context.Context, chunks []manager.Chunk) error {
	b := deliveredBatch{}
	for _, ch := range chunks {
		b.ids = append(b.ids, ch.ID)
		b.bytes += len(ch.Data)
		b.data = append(b.data, unsafe.SliceData(ch.Data))
	}
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.mu.Unlock()
	if s.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *batchSink) Closed(context.Context, manager.ClosedError) error { return nil }

func (s *batchSink) delivered() []deliveredBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]deliveredBatch(nil), s.batches...)
}

// pushSized pushes one chunk of each size and returns the data slices pushed.
func pushSized(t *testing.T, m *manager.Manager, id string, sizes ...int) [][]byte {
	t.Helper()
	var pushed [][]byte
	for _, n := range sizes {
		data := make([]byte, n)
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: data}))
		pushed = append(pushed, data)
	}
	return pushed
}

// A full replay reaches a subscriber in batches of at most 1 MiB of data (a larger chunk alone)
// and 256 chunks, in order, and every subscriber gets the manager's own chunk data, not a copy.
func TestReplayBatchesAreCappedByBytesAndShareData(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistorySize: 1000, HistoryBytes: 64 << 20, MaxBytes: 64 << 20})
	id := newStream(t, m)
	var sizes []int
	for range 10 {
		sizes = append(sizes, 300<<10) // 3 fit in 1 MiB, not 4
	}
	sizes = append(sizes, 3<<20) // alone over the cap
	for range 600 {
		sizes = append(sizes, 10) // many small ones: the count cap
	}
	sizes = append(sizes, 1<<20, 1) // exactly the cap, then one more byte
	pushed := pushSized(t, m, id, sizes...)
	require.NoError(t, m.CloseStream(ctx, id, manager.ReasonCompleted))

	var sinks []*batchSink
	for _, name := range []string{"a", "b"} {
		s := &batchSink{}
		qc, err := manager.NewQueuedClient(name, s, manager.QueueConfig{})
		require.NoError(t, err)
		require.NoError(t, m.RegisterClientFrom(ctx, id, qc, 0))
		require.NoError(t, qc.Run(ctx))
		sinks = append(sinks, s)
	}

	wantLens := []int{3, 3, 3, 1, 1, 256, 256, 88, 1, 1}
	for _, s := range sinks {
		var lens []int
		var next uint64 = 1
		for _, b := range s.delivered() {
			lens = append(lens, len(b.ids))
			require.True(t, b.bytes <= manager.DefaultMaxBatchBytes || len(b.ids) == 1, "batch of %d bytes in %d chunks", b.bytes, len(b.ids))
			for i, got := range b.ids {
				require.Equal(t, next, got)
				require.Same(t, unsafe.SliceData(pushed[next-1]), b.data[i], "chunk %d was copied", got)
				next++
			}
		}
		require.Equal(t, wantLens, lens)
		require.Equal(t, uint64(len(sizes)+1), next)
	}
}

// A subscriber that stops reading is handed one batch and holds only it while its write blocks,
// whatever the replay still to come; what is queued behind it is the manager's chunks, by
// reference.
func TestStalledSubscriberHoldsOneBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{HistoryBytes: 64 << 20, MaxBytes: 64 << 20})
		id := newStream(t, m)
		var sizes []int
		for range 40 {
			sizes = append(sizes, 512<<10)
		}
		pushSized(t, m, id, sizes...)

		s := &batchSink{stall: true}
		qc, err := manager.NewQueuedClient("stalled", s, manager.QueueConfig{MaxBatchBytes: 1 << 20})
		require.NoError(t, err)
		require.NoError(t, m.RegisterClientFrom(ctx, id, qc, 0))
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- qc.Run(runCtx) }()
		synctest.Wait()

		got := s.delivered()
		require.Len(t, got, 1)
		require.Equal(t, []uint64{1, 2}, got[0].ids)
		require.Equal(t, 1<<20, got[0].bytes)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

func TestQueueConfigRejectsNegativeBatchBytes(t *testing.T) {
	_, err := manager.NewQueuedClient("q", &batchSink{}, manager.QueueConfig{MaxBatchBytes: -1})
	require.ErrorIs(t, err, manager.ErrInvalidConfig)
	require.ErrorContains(t, err, "MaxBatchBytes")
}

// With QueueConfig.MaxBytes, a subscriber that stops taking chunks drops out as a slow client once
// its queue would hold more data than that, rather than pin chunks the history has let go of; what
// was queued before is still delivered, and a chunk arriving at an empty queue is always taken.
func TestQueueMaxBytes(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 100, MaxBytes: 1000})
	id := newStream(t, m)
	big, err := manager.NewQueuedClient("big", &batchSink{}, manager.QueueConfig{MaxBytes: 200})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, big))
	pushSized(t, m, id, 250)
	require.True(t, big.Active(), "a chunk alone over the bound is taken by an empty queue")
	pushSized(t, m, id, 1)
	require.False(t, big.Active())

	s := &batchSink{}
	qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{MaxBytes: 200})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	for range 10 {
		pushSized(t, m, id, 20) // 200: exactly the bound
	}
	require.True(t, qc.Active())
	pushSized(t, m, id, 1)
	require.False(t, qc.Active(), "one byte more and the client is slow")
	require.ErrorIs(t, qc.Run(ctx), manager.ErrSlowClient)
	var got int
	for _, b := range s.delivered() {
		got += b.bytes
	}
	require.Equal(t, 200, got)

	unbounded, err := manager.NewQueuedClient("unbounded", &batchSink{}, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, unbounded))
	pushSized(t, m, id, 1000, 1000, 1000)
	require.True(t, unbounded.Active(), "without MaxBytes only the count bounds the queue")
}
