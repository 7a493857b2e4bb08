package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// benchChunk is a typical Gemini streaming event.
var benchChunk = []byte(`{"candidates":[{"content":{"parts":[{"text":"The quick brown fox jumps"}],"role":"model"},"index":0}],"modelVersion":"gemini-2.5-flash"}`)

// benchStream starts a manager, a host running the test plugin as a transport attached to every
// stream, and one stream.
func benchStream(b *testing.B, transportConfig string, logger *slog.Logger) (*manager.Manager, *Host, string) {
	b.Helper()
	m, err := manager.New(manager.Config{HistorySize: 1 << 16})
	require.NoError(b, err)
	h, err := New(Config{Streams: m, Logger: logger, QueueSize: 1 << 16,
		Plugins: []PluginConfig{{Name: "tp", Path: bin("testplugin"), Attach: AttachRule{All: true}, Config: json.RawMessage(transportConfig)}}})
	require.NoError(b, err)
	require.NoError(b, h.Start(context.Background()))
	b.Cleanup(func() {
		require.NoError(b, m.Shutdown(context.Background()))
		require.NoError(b, h.Close(context.Background()))
	})
	id, err := m.CreateStream(context.Background(), "")
	require.NoError(b, err)
	require.NoError(b, h.Attach(context.Background(), id, map[string]string{}))
	return m, h, id
}

// BenchmarkTransportThroughput pushes chunks into a stream as fast as one transport plugin process
// acknowledges them (at most 32k ahead), and reports chunks per second end to end.
func BenchmarkTransportThroughput(b *testing.B) {
	m, h, id := benchStream(b, `{}`, nil)
	sub := onlySubscription(h, id)
	ctx := context.Background()
	const ahead = 1 << 15
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 1; i <= b.N; i++ {
		for uint64(i)-sub.acked.Load() > ahead {
			time.Sleep(20 * time.Microsecond)
		}
		if err := m.PushChunk(ctx, id, manager.Chunk{Data: benchChunk}); err != nil {
			b.Fatal(err)
		}
	}
	for sub.acked.Load() < uint64(b.N) {
		time.Sleep(20 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "chunks/s")
}

// BenchmarkTransportLatency pushes 1,000 chunks per second and reports the time from each push to
// its delivery inside the plugin process (the plugin measures it against Chunk.Time).
func BenchmarkTransportLatency(b *testing.B) {
	rec := newRecorder()
	m, _, id := benchStream(b, `{"latency":true}`, slog.New(rec))
	ctx := context.Background()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		if err := m.PushChunk(ctx, id, manager.Chunk{Data: benchChunk}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	require.NoError(b, m.CloseStream(ctx, id, manager.ReasonCompleted))
	var attrs map[string]string
	require.Eventually(b, func() bool {
		var ok bool
		_, attrs, ok = rec.find("latency")
		return ok
	}, 10*time.Second, time.Millisecond)
	require.Equal(b, strconv.Itoa(b.N), attrs["n"], fmt.Sprint(attrs))
	for _, k := range []string{"p50_us", "p99_us", "max_us"} {
		v, err := strconv.ParseFloat(attrs[k], 64)
		require.NoError(b, err)
		b.ReportMetric(v, k)
	}
}
