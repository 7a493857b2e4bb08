package manager_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// countClient is the cheapest possible client: it measures the manager's own fan-out cost.
type countClient struct {
	id string
	n  atomic.Uint64
}

func (c *countClient) ID() string                                       { return c.id }
func (c *countClient) Active() bool                                     { return true }
func (c *countClient) SendChunk(context.Context, manager.Chunk) error   { c.n.Add(1); return nil }
func (c *countClient) NotifyStreamClosed(context.Context, string) error { return nil }

// discard is a Sink that drops everything.
type discard struct{ n atomic.Uint64 }

func (d *discard) Deliver(_ context.Context, chunks []manager.Chunk) error {
	d.n.Add(uint64(len(chunks)))
	return nil
}
func (d *discard) Closed(context.Context, manager.ClosedError) error { return nil }

func benchManager(b *testing.B) *manager.Manager {
	m, err := manager.New(manager.Config{MaxClientsPerStream: 20000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// BenchmarkPushChunkFanOut reports ns and allocations per client delivery ("ns/delivery").
func BenchmarkPushChunkFanOut(b *testing.B) {
	for _, clients := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			m := benchManager(b)
			id, _ := m.CreateStream(ctx, "")
			for i := range clients {
				if err := m.RegisterClient(ctx, id, &countClient{id: fmt.Sprint(i)}); err != nil {
					b.Fatal(err)
				}
			}
			benchPush(b, m, id, clients)
		})
	}
}

// BenchmarkPushChunkHandle is BenchmarkPushChunkFanOut's one client pushed to through a Handle,
// as the upstream runner pushes: no lookup by ID.
func BenchmarkPushChunkHandle(b *testing.B) {
	m := benchManager(b)
	id, _ := m.CreateStream(ctx, "")
	if err := m.RegisterClient(ctx, id, &countClient{id: "c"}); err != nil {
		b.Fatal(err)
	}
	h, err := m.Handle(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	ch := manager.Chunk{Data: []byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`), Time: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if err := h.PushChunk(ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushManyStreams pushes to 1,000 streams in turn, by ID and through handles: each push
// finds its stream's memory colder than a push to one stream does, as on the Gemini ladder, where
// a stream's chunks come 20 ms apart.
func BenchmarkPushManyStreams(b *testing.B) {
	const streams = 1000
	// A short ring, full after the first laps: the pushes measure the lookup and the push, not
	// the ring's growth.
	m, err := manager.New(manager.Config{MaxConcurrentStreams: streams, HistorySize: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Shutdown(ctx) }()
	ids := make([]string, streams)
	handles := make([]manager.Handle, streams)
	for i := range ids {
		if ids[i], err = m.CreateStream(ctx, ""); err != nil {
			b.Fatal(err)
		}
		if err := m.RegisterClient(ctx, ids[i], &countClient{id: "c"}); err != nil {
			b.Fatal(err)
		}
		if handles[i], err = m.Handle(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	ch := manager.Chunk{Data: []byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`), Time: time.Now()}
	b.Run("id", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := m.PushChunk(ctx, ids[i], ch); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % streams
		}
	})
	b.Run("handle", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := handles[i].PushChunk(ctx, ch); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % streams
		}
	})
}

// BenchmarkPushChunkFanOutQueued is the same fan-out into QueuedClients whose Run goroutines drain
// into a discarding sink: the cost a real subscriber adds.
func BenchmarkPushChunkFanOutQueued(b *testing.B) {
	for _, clients := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			m := benchManager(b)
			id, _ := m.CreateStream(ctx, "")
			c, cancel := context.WithCancel(ctx)
			done := make(chan struct{}, clients)
			for i := range clients {
				qc, _ := manager.NewQueuedClient(fmt.Sprint(i), &discard{}, manager.QueueConfig{Size: 1 << 20})
				if err := m.RegisterClient(ctx, id, qc); err != nil {
					b.Fatal(err)
				}
				go func() { _ = qc.Run(c); done <- struct{}{} }()
			}
			benchPush(b, m, id, clients)
			b.StopTimer()
			cancel()
			for range clients {
				<-done
			}
		})
	}
}

func benchPush(b *testing.B, m *manager.Manager, id string, clients int) {
	// Pushers stamp Time on arrival (the upstream runner does); the manager reads no clock then.
	ch := manager.Chunk{Data: []byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`), Time: time.Now()}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.PushChunk(ctx, id, ch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(clients), "ns/delivery")
}

// BenchmarkQueuedClientThroughput: 1 producer -> 1 queued client, reported in chunks/s.
func BenchmarkQueuedClientThroughput(b *testing.B) {
	m := benchManager(b)
	id, _ := m.CreateStream(ctx, "")
	d := &discard{}
	qc, _ := manager.NewQueuedClient("q", d, manager.QueueConfig{Size: 1 << 20})
	if err := m.RegisterClient(ctx, id, qc); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- qc.Run(ctx) }()
	ch := manager.Chunk{Data: []byte("x"), Time: time.Now()}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := m.PushChunk(ctx, id, ch); err != nil {
			b.Fatal(err)
		}
	}
	_ = m.CloseStream(ctx, id, "completed")
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := d.n.Load(); got != uint64(b.N) {
		b.Fatalf("delivered %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func BenchmarkCreateCloseStream(b *testing.B) {
	m, err := manager.New(manager.Config{MaxConcurrentStreams: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Shutdown(ctx) }()
	b.ReportAllocs()
	for b.Loop() {
		id, err := m.CreateStream(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := m.CloseStream(ctx, id, "completed"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushAt is PushChunk's path for a mirror fed with IDs assigned elsewhere (cluster mode).
func BenchmarkPushAt(b *testing.B) {
	m := benchManager(b)
	if err := m.CreateMirror(ctx, manager.MirrorOptions{ID: "m"}, 0); err != nil {
		b.Fatal(err)
	}
	if err := m.RegisterClient(ctx, "m", &countClient{id: "c"}); err != nil {
		b.Fatal(err)
	}
	ch := manager.Chunk{Data: []byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`), Time: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		ch.ID++
		if err := m.PushAt(ctx, "m", ch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushWhileCreateClose pushes to 1,000 streams from many goroutines while two others
// create and close streams without pause, as on the Gemini ladder of issue 15: the stream lookup
// every push makes must not wait on the creates and closes.
func BenchmarkPushWhileCreateClose(b *testing.B) {
	const streams = 1000
	m, err := manager.New(manager.Config{MaxConcurrentStreams: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Shutdown(ctx) }()
	ids := make([]string, streams)
	for i := range ids {
		if ids[i], err = m.CreateStream(ctx, ""); err != nil {
			b.Fatal(err)
		}
		if err := m.RegisterClient(ctx, ids[i], &countClient{id: "c"}); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	churned := make(chan error, 2)
	for range 2 {
		go func() { churned <- churn(m, stop) }()
	}
	ch := manager.Chunk{Data: []byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}`), Time: time.Now()}
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := m.PushChunk(ctx, ids[next.Add(1)%streams], ch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	close(stop)
	for range 2 {
		if err := <-churned; err != nil {
			b.Fatal(err)
		}
	}
}

// churn creates and closes streams until stop is closed.
func churn(m *manager.Manager, stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		id, err := m.CreateStream(ctx, "")
		if err != nil {
			return err
		}
		if err := m.CloseStream(ctx, id, "completed"); err != nil {
			return err
		}
	}
}

// BenchmarkStreamMemory measures what a stream costs the heap live, once closed (retained for
// RetainClosed) and once forgotten, as on the Gemini ladder of issue 15: streams labelled as the
// gateway labels them, 64 chunks of 200-260 bytes each, each chunk's data its own allocation as
// the upstream runner makes it. retained_B/stream is HeapAlloc after a GC, over the streams, less
// what the manager held before them; the clients keep nothing. A forgotten stream (MaxRetained 1
// forgets each at the next close) must leave nothing behind.
func BenchmarkStreamMemory(b *testing.B) {
	const streams, chunks = 1000, 64
	for _, tc := range []struct {
		name        string
		closed      bool
		maxRetained int
	}{
		{"live", false, 0},
		{"closed", true, 0},
		{"forgotten", true, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var perStream float64
			for b.Loop() {
				perStream = streamMemory(b, manager.Config{MaxConcurrentStreams: streams, MaxRetained: tc.maxRetained}, streams, chunks, tc.closed)
			}
			b.ReportMetric(perStream, "retained_B/stream")
		})
	}
}

func streamMemory(b *testing.B, cfg manager.Config, streams, chunks int, closed bool) float64 {
	m, err := manager.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Shutdown(ctx) }()
	before := heapAlloc()
	labels := map[string]string{manager.LabelTenant: "tenant-a", "model": "gemini-2.5-flash"}
	for range streams {
		id, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.RegisterClient(ctx, id, &countClient{id: "caller"}); err != nil {
			b.Fatal(err)
		}
		for i := range chunks {
			data := make([]byte, 200+(i*7)%61)
			if err := m.PushChunk(ctx, id, manager.Chunk{Data: data, Time: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		if closed {
			if err := m.CloseStream(ctx, id, manager.ReasonCompleted); err != nil {
				b.Fatal(err)
			}
		}
	}
	after := heapAlloc()
	runtime.KeepAlive(m)
	return float64(after-before) / float64(streams)
}

// heapAlloc returns the bytes of live heap objects after a full collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkCreateCloseStreamParallel creates and closes streams from many goroutines at once, as
// the gateway's handlers do: what they serialise on is the manager's lock.
func BenchmarkCreateCloseStreamParallel(b *testing.B) {
	m, err := manager.New(manager.Config{MaxConcurrentStreams: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Shutdown(ctx) }()
	labels := map[string]string{manager.LabelTenant: "tenant-a", "model": "gemini-2.5-flash"}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: labels})
			if err != nil {
				b.Error(err)
				return
			}
			if err := m.CloseStream(ctx, id, manager.ReasonCompleted); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStreamLifecycle is one Gemini-route stream's life in the manager, as in
// BenchmarkStreamMemory: created with the gateway's labels, one client, 64 chunks pushed, closed
// and retained (MaxRetained forgets the oldest once 10,000 are).
func BenchmarkStreamLifecycle(b *testing.B) {
	m, err := manager.New(manager.Config{MaxConcurrentStreams: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Shutdown(ctx) }()
	labels := map[string]string{manager.LabelTenant: "tenant-a", "model": "gemini-2.5-flash"}
	data := make([]byte, 230)
	b.ReportAllocs()
	for b.Loop() {
		id, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: labels})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.RegisterClient(ctx, id, &countClient{id: "caller"}); err != nil {
			b.Fatal(err)
		}
		for range 64 {
			if err := m.PushChunk(ctx, id, manager.Chunk{Data: data, Time: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.CloseStream(ctx, id, manager.ReasonCompleted); err != nil {
			b.Fatal(err)
		}
	}
}
