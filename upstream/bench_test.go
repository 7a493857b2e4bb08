package upstream_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// countClient counts the chunks a stream delivers.
type countClient struct{ n atomic.Uint64 }

func (c *countClient) ID() string                                       { return "count" }
func (c *countClient) Active() bool                                     { return true }
func (c *countClient) SendChunk(context.Context, manager.Chunk) error   { c.n.Add(1); return nil }
func (c *countClient) NotifyStreamClosed(context.Context, string) error { return nil }

// benchChunk is a Gemini-like chunk of 263 bytes of JSON.
var benchChunk = func() []byte {
	text := geminiwire.Lorem(120)
	for {
		c := geminiwire.Chunk(text, false, geminiwire.Usage{}, "gemini-2.5-flash", "bench")
		if len(c) >= 263 {
			return c
		}
		text += "x"
	}
}()

// benchBlock is blockEvents Gemini events as one body write.
const blockEvents = 1000

var benchBlock = func() []byte {
	var b []byte
	for range blockEvents {
		b, _ = geminiwire.AppendEvent(b, benchChunk, 0)
	}
	return b
}()

// BenchmarkRunnerThroughput streams b.N Gemini events from the fake over loopback HTTP through a
// Runner into a manager stream with one client; one op is one event. "bulk" has the fake write
// 1000 events per write (the runner is the bottleneck); "flushed" has it flush every event, as a
// live generation does. "bulk-observed" is bulk with the command's metrics and a recording tracer
// provider, to show what telemetry costs per chunk.
func BenchmarkRunnerThroughput(b *testing.B) {
	for _, mode := range []string{"bulk", "flushed", "bulk-observed"} {
		b.Run(mode, func(b *testing.B) {
			var cfg upstream.RunnerConfig
			if mode == "bulk-observed" {
				metrics, err := telemetry.NewMetrics(telemetry.MetricsConfig{MaxModels: telemetry.DefaultMaxModels})
				if err != nil {
					b.Fatal(err)
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
				defer func() { _ = tp.Shutdown(context.Background()) }()
				cfg = upstream.RunnerConfig{Metrics: metrics, TracerProvider: tp, Propagator: propagation.TraceContext{}}
			}
			var sc upstreamtest.Script
			if mode != "flushed" {
				for range b.N / blockEvents {
					sc.Steps = append(sc.Steps, upstreamtest.Raw(benchBlock))
				}
				for range b.N % blockEvents {
					sc.Steps = append(sc.Steps, upstreamtest.Event(benchChunk))
				}
			} else {
				sc.Steps = slices.Repeat([]upstreamtest.Step{upstreamtest.Event(benchChunk)}, b.N)
			}
			sc.Steps = append(sc.Steps, upstreamtest.Event(upstreamtest.Chunks("end")[0]))
			benchRun(b, sc, b.N+1, cfg)
		})
	}
}

func benchRun(b *testing.B, sc upstreamtest.Script, want int, cfg upstream.RunnerConfig) {
	_, m, p := benchStack(b, sc, manager.Config{})
	cfg.Provider, cfg.Manager = p, m
	r, err := upstream.NewRunner(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.CloseIdleConnections()
	id, _ := m.CreateStream(ctx, "")
	c := &countClient{}
	if err := m.RegisterClient(ctx, id, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := r.Run(ctx, id, geminiReq); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if info, _ := m.Info(ctx, id); info.CloseReason != manager.ReasonCompleted || int(c.n.Load()) != want {
		b.Fatalf("stream ended %q after %d chunks, want completed after %d", info.CloseReason, c.n.Load(), want)
	}
	b.ReportMetric(float64(want)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(want*len(benchChunk))/elapsed.Seconds()/1e6, "MB/s")
}

// BenchmarkCancelLatency measures how long Run takes to cancel the upstream request and return
// after someone else closes the stream, with the upstream stalled after its first event. One op is
// one stream; "cancel-p50-µs" and "cancel-max-µs" report the latency from CloseStream to Run's return.
func BenchmarkCancelLatency(b *testing.B) {
	chunks := upstreamtest.Chunks("one ", "two")
	fake, m, p := benchStack(b, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Stall()}}, manager.Config{})
	r, err := upstream.NewRunner(upstream.RunnerConfig{Provider: p, Manager: m})
	if err != nil {
		b.Fatal(err)
	}
	defer r.CloseIdleConnections()
	lat := make([]time.Duration, 0, b.N)
	for range b.N {
		id, _ := m.CreateStream(ctx, "")
		sub, err := m.Subscribe(ctx, id, 0)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			_ = r.Run(ctx, id, geminiReq)
			close(done)
		}()
		if _, err := sub.Next(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		_ = m.CloseStream(ctx, id, "bench")
		<-done
		lat = append(lat, time.Since(start))
		_ = sub.Close()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "cancel-p50-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "cancel-max-µs")
	deadline := time.Now().Add(5 * time.Second)
	for fake.CancelledCount() < b.N && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if fake.CancelledCount() != b.N {
		b.Fatalf("the fake saw %d cancelled requests, want %d", fake.CancelledCount(), b.N)
	}
}

// BenchmarkOpenStreams holds openStreams streams open at once, each stalled after its first
// event, and reports what one open stream costs the process: goroutines and goroutine stack
// bytes (MemStats.StackInuse after a GC), through the manager's handles ("handle") and through a
// stream layer without them ("by ID": PushChunk by ID and a goroutine waiting on Done). The counts
// include the fake's side of each connection, alike in both.
func BenchmarkOpenStreams(b *testing.B) {
	const openStreams = 500
	for _, l := range layers {
		b.Run(l.name, func(b *testing.B) {
			_, m, p := benchStack(b, upstreamtest.Script{Steps: []upstreamtest.Step{
				upstreamtest.Event(upstreamtest.Chunks("one ")[0]), upstreamtest.Stall(),
			}}, manager.Config{MaxConcurrentStreams: openStreams})
			streams, _ := l.wrap(m)
			r, err := upstream.NewRunner(upstream.RunnerConfig{Provider: p, Manager: streams})
			if err != nil {
				b.Fatal(err)
			}
			defer r.CloseIdleConnections()
			var goroutines, stack float64
			for range b.N {
				goroutines, stack = openAtOnce(b, m, r, openStreams)
			}
			b.ReportMetric(goroutines, "goroutines/stream")
			b.ReportMetric(stack, "stack_B/stream")
		})
	}
}

// openAtOnce runs n streams on r until each has pushed its first chunk, measures, then closes
// them and waits for their runs.
func openAtOnce(b *testing.B, m *manager.Manager, r *upstream.Runner, n int) (goroutines, stack float64) {
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	g0 := runtime.NumGoroutine()
	ids := make([]string, n)
	var runs sync.WaitGroup
	for i := range ids {
		ids[i], _ = m.CreateStream(ctx, "")
		runs.Go(func() { _ = r.Run(ctx, ids[i], geminiReq) })
	}
	for _, id := range ids {
		for info, _ := m.Info(ctx, id); info.LastChunkID == 0; info, _ = m.Info(ctx, id) {
			time.Sleep(time.Millisecond)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	goroutines = float64(runtime.NumGoroutine()-g0) / float64(n)
	stack = float64(ms1.StackInuse-ms0.StackInuse) / float64(n)
	for _, id := range ids {
		_ = m.CloseStream(ctx, id, "bench")
	}
	runs.Wait()
	return goroutines, stack
}

// benchStack starts a fake Gemini playing sc and returns it, a manager made with cfg, shut down
// when the benchmark ends, and a Gemini provider for the fake.
func benchStack(b *testing.B, sc upstreamtest.Script, cfg manager.Config) (*upstreamtest.Server, *manager.Manager, *upstream.Gemini) {
	b.Helper()
	fake := upstreamtest.NewServer(b, sc)
	m, err := manager.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	p, err := upstream.NewGemini(upstream.GeminiConfig{BaseURL: fake.URL(), Credential: staticBearer("t")})
	if err != nil {
		b.Fatal(err)
	}
	return fake, m, p
}
