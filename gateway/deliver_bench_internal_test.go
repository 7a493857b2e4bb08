package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// countingWriter is a response that discards its body and counts flushes: the events route's
// writing without the socket.
type countingWriter struct {
	h       http.Header
	flushed *atomic.Int64
	done    chan<- struct{}
	target  *atomic.Int64
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *countingWriter) WriteHeader(int)             {}

func (w *countingWriter) Flush() {
	if w.flushed.Add(1) == w.target.Load() {
		w.done <- struct{}{}
	}
}

// BenchmarkEventsDeliver measures the Go side of the events route's fan-out, without sockets:
// one push to a stream with deliverSubscribers queued clients, each running its own goroutine as
// a handler does and writing through an eventsSink to a response that discards the bytes. An
// operation is one chunk delivered to every subscriber; ns/delivery and allocs are what the
// gateway adds per subscriber and chunk beyond the write system call (see BenchmarkEventsFanOut
// for the whole path).
func BenchmarkEventsDeliver(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		b.Run(strconv.Itoa(subs), func(b *testing.B) { benchmarkDeliver(b, subs) })
	}
}

func benchmarkDeliver(b *testing.B, subs int) {
	m, err := manager.New(manager.Config{MaxClientsPerStream: subs})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	id, err := m.CreateStream(ctx, "")
	require.NoError(b, err)
	var (
		flushed, target atomic.Int64
		caches          frameCaches
		wg              sync.WaitGroup
	)
	done := make(chan struct{}, 1)
	for i := range subs {
		w := &countingWriter{h: http.Header{}, flushed: &flushed, done: done, target: &target}
		frames := caches.acquire(id)
		sink := &eventsSink{sseWriter: newSSEWriter(w, id, time.Hour), frames: frames, handOff: func(manager.ClosedError) bool { return false }}
		qc, err := manager.NewQueuedClient("c"+strconv.Itoa(i), sink, manager.QueueConfig{})
		require.NoError(b, err)
		require.NoError(b, m.RegisterClient(ctx, id, qc))
		wg.Go(func() { _ = qc.Run(ctx) })
	}
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	data := []byte(`{"t":"` + strings.Repeat("x", 248) + `"}`)
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		target.Store(flushed.Load() + int64(subs))
		require.NoError(b, m.PushChunk(ctx, id, manager.Chunk{Data: data}))
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*subs), "cpu-ns/delivery")
}

// processCPU returns the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
