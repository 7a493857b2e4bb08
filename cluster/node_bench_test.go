package cluster_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// stamper is a local client that stamps the moment each chunk reaches it (SendChunk, which the
// manager calls as it fans the chunk out), by chunk ID.
type stamper struct {
	id   string
	mu   sync.Mutex
	at   []time.Time
	want uint64
	all  chan struct{}
}

func newStamper(id string, n int) *stamper {
	return &stamper{id: id, at: make([]time.Time, n+1), want: uint64(n), all: make(chan struct{})}
}

func (s *stamper) ID() string                                       { return s.id }
func (s *stamper) Active() bool                                     { return true }
func (s *stamper) NotifyStreamClosed(context.Context, string) error { return nil }
func (s *stamper) SendChunk(_ context.Context, ch manager.Chunk) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.ID < uint64(len(s.at)) {
		s.at[ch.ID] = now
	}
	if ch.ID == s.want {
		close(s.all)
	}
	return nil
}

// BenchmarkRemoteDeliveryLatency feeds a stream owned by replica A at 1,000 chunks/s of 263
// bytes (PushChunk, as a generation's runner does) and stamps each chunk's arrival at a
// subscriber on A and at one on replica B: Redis first, then A's copy, and B's through its live
// subscription. It reports the p50 and p99 of both delivery latencies (from PushChunk) and of the
// latency B adds over A, chunk by chunk, in µs.
//
//	go test -run '^$' -bench RemoteDeliveryLatency -benchtime 5000x ./cluster/
func BenchmarkRemoteDeliveryLatency(b *testing.B) {
	srv := fresh(b)
	ctx := context.Background()
	a := newNode(b, srv, "a", nodeConfig{})
	r := newNode(b, srv, "b", nodeConfig{})
	pushStream(b, a, "lat")
	n := b.N
	owner, remote := newStamper("owner", n), newStamper("remote", n)
	if err := a.node.RegisterClientFrom(ctx, "lat", owner, 0); err != nil {
		b.Fatal(err)
	}
	if err := r.node.RegisterClientFrom(ctx, "lat", remote, 0); err != nil {
		b.Fatal(err)
	}
	sent := make([]time.Time, n+1)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 1; i <= n; i++ {
		<-tick.C
		// The only producer: chunk i is the i-th pushed.
		sent[i] = time.Now()
		if err := a.node.PushChunk(ctx, "lat", manager.Chunk{Data: chunk263, Time: sent[i]}); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range []*stamper{owner, remote} {
		select {
		case <-s.all:
		case <-time.After(time.Minute):
			b.Fatalf("%s did not get chunk %d", s.id, n)
		}
	}
	b.StopTimer()
	var onOwner, onRemote, added []time.Duration
	owner.mu.Lock()
	remote.mu.Lock()
	for i := 1; i <= n; i++ {
		onOwner = append(onOwner, owner.at[i].Sub(sent[i]))
		onRemote = append(onRemote, remote.at[i].Sub(sent[i]))
		added = append(added, remote.at[i].Sub(owner.at[i]))
	}
	remote.mu.Unlock()
	owner.mu.Unlock()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"owner", onOwner}, {"remote", onRemote}, {"added", added}} {
		b.ReportMetric(percentile(m.d, 50), m.name+"-p50-µs")
		b.ReportMetric(percentile(m.d, 99), m.name+"-p99-µs")
	}
}

// percentile returns the p-th percentile of d in µs.
func percentile(d []time.Duration, p int) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)*p/100, len(s)-1)
	return float64(s[i].Microseconds())
}

// BenchmarkStopFromAnotherReplica measures a DELETE on a replica that does not own the stream:
// from CloseStream on B until the owner A's copy is done (where its runner cancels the upstream
// call), per stream.
//
//	go test -run '^$' -bench StopFromAnotherReplica -benchtime 500x ./cluster/
func BenchmarkStopFromAnotherReplica(b *testing.B) {
	srv := fresh(b)
	ctx := context.Background()
	a := newNode(b, srv, "a", nodeConfig{})
	r := newNode(b, srv, "b", nodeConfig{})
	var stops []time.Duration
	for b.Loop() {
		b.StopTimer()
		id, err := a.node.CreateStreamWith(ctx, manager.StreamOptions{})
		if err != nil {
			b.Fatal(err)
		}
		done, err := a.node.Done(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := r.node.CloseStream(ctx, id, "deleted"); err != nil {
			b.Fatal(err)
		}
		<-done
		stops = append(stops, time.Since(start))
	}
	b.ReportMetric(percentile(stops, 50), "p50-µs")
	b.ReportMetric(percentile(stops, 99), "p99-µs")
}
