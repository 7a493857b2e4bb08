package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// BenchmarkGeminiDeliverCold measures the Go side of delivering a chunk to a Gemini-route caller
// whose state is cold, as it is at 256 streams with a chunk every 20 ms each: streams streams,
// each with one queued client running as a handler does (under a context of several values, as a
// request's is) and writing through a geminiSink to a response that discards the bytes, get one
// chunk each in turn, so that between two chunks of a stream every other stream's chunk passes.
// An operation is one chunk to every stream; ns/delivery and cpu-ns/delivery are per chunk.
func BenchmarkGeminiDeliverCold(b *testing.B) {
	for _, streams := range []int{256, 4096} {
		b.Run(strconv.Itoa(streams), func(b *testing.B) { benchmarkGeminiDeliverCold(b, streams) })
	}
}

func benchmarkGeminiDeliverCold(b *testing.B, streams int) {
	m, err := manager.New(manager.Config{MaxConcurrentStreams: streams})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	type key int
	reqCtx := ctx
	for k := range key(4) {
		reqCtx = context.WithValue(reqCtx, k, k)
	}
	var (
		flushed, target atomic.Int64
		wg              sync.WaitGroup
	)
	done := make(chan struct{}, 1)
	ids := make([]string, streams)
	for i := range ids {
		ids[i], err = m.CreateStream(ctx, "")
		require.NoError(b, err)
		w := &countingWriter{h: http.Header{}, flushed: &flushed, done: done, target: &target}
		qc, err := manager.NewQueuedClient("c"+strconv.Itoa(i), coldGeminiSink(w, ids[i]), manager.QueueConfig{})
		require.NoError(b, err)
		require.NoError(b, m.RegisterClient(ctx, ids[i], qc))
		wg.Go(func() { _ = qc.Run(reqCtx) })
	}
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	data := []byte(`{"candidates":[{"content":{"parts":[{"text":"` + strings.Repeat("x", 200) + `"}]}}]}`)
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		target.Store(flushed.Load() + int64(streams))
		for _, id := range ids {
			require.NoError(b, m.PushChunk(ctx, id, manager.Chunk{Data: data, Time: time.Now()}))
		}
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams), "ns/delivery")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*streams), "cpu-ns/delivery")
}

// coldGeminiSink is a Gemini-route sink writing to w.
func coldGeminiSink(w http.ResponseWriter, streamID string) *geminiSink {
	g := new(geminiSink)
	g.init(w, streamID, time.Hour)
	return g
}
