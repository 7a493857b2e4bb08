package upstream_test

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// BenchmarkRunnerStreams runs 256 streams at once, each of b.N/256 Gemini events of 64 bytes of
// text paced 20 ms apart by the fake, through one Runner (with the command's metrics) into a
// manager stream with one client each: the load test's 256-stream rung without the gateway, so
// that every event's path runs with cold caches as it does there. One op is one event; cpu_ns/op
// is the process's CPU time (user+system) per event and user_ns/op its user time, the fake's
// included, which is the same for every build of the runner. Most of the CPU is the kernel's
// (a read and a write per event), the same for every build too: user_ns/op shows a change to the
// runner better.
func BenchmarkRunnerStreams(b *testing.B) {
	const streams = 256
	perStream := max(1, b.N/streams)
	_, m, p := benchStack(b, upstreamtest.Gemini(upstreamtest.Texts(perStream, 64)...).Paced(20*time.Millisecond), manager.Config{})
	metrics, err := telemetry.NewMetrics(telemetry.MetricsConfig{MaxModels: telemetry.DefaultMaxModels})
	if err != nil {
		b.Fatal(err)
	}
	r, err := upstream.NewRunner(upstream.RunnerConfig{Provider: p, Manager: m, Metrics: metrics})
	if err != nil {
		b.Fatal(err)
	}
	defer r.CloseIdleConnections()
	ids := make([]string, streams)
	clients := make([]*countClient, streams)
	for i := range ids {
		ids[i], _ = m.CreateStream(ctx, "")
		clients[i] = &countClient{}
		if err := m.RegisterClient(ctx, ids[i], clients[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	user, sys := processCPU()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if err := r.Run(ctx, id, geminiReq); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	user2, sys2 := processCPU()
	events := float64(streams * perStream)
	b.ReportMetric(float64(user2-user+sys2-sys)/events, "cpu_ns/op")
	b.ReportMetric(float64(user2-user)/events, "user_ns/op")
	for i, c := range clients {
		if info, _ := m.Info(ctx, ids[i]); info.CloseReason != manager.ReasonCompleted || int(c.n.Load()) != perStream {
			b.Fatalf("stream ended %q after %d chunks, want completed after %d", info.CloseReason, c.n.Load(), perStream)
		}
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
