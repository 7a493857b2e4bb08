package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

// chunk263 is a typical Gemini streaming chunk's size.
var chunk263 = bytes.Repeat([]byte("x"), 263)

// BenchmarkAppend measures appends (history + publish in one script) of 263-byte chunks from
// parallel goroutines over 64 streams, with no subscriber and with one remote Store subscribed
// to every stream (chunks/s counts appended chunks; delivered/s what reached the subscriber), one
// chunk per call and 16 per AppendBatch call.
//
//	go test -run '^$' -bench Append -benchtime 5s ./cluster/
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 16} {
		for _, subscribed := range []bool{false, true} {
			name := fmt.Sprintf("batch-%d/publish", batch)
			if subscribed {
				name = fmt.Sprintf("batch-%d/remote-subscriber", batch)
			}
			b.Run(name, func(b *testing.B) { benchAppend(b, batch, subscribed) })
		}
	}
}

func benchAppend(b *testing.B, batch int, subscribed bool) {
	srv := fresh(b)
	ctx := context.Background()
	const streams = 64
	owner, _ := newStore(b, srv, "owner", cluster.Config{HistorySize: 1000})
	remote, _ := newStore(b, srv, "remote", cluster.Config{})
	var delivered atomic.Int64
	ids := make([]string, streams)
	for i := range ids {
		ids[i] = "bench-" + strconv.Itoa(i)
		_, err := owner.Create(ctx, cluster.CreateOptions{ID: ids[i]})
		require.NoError(b, err)
		if subscribed {
			del, err := remote.Subscribe(ctx, ids[i], func(m cluster.Message) {
				if m.Kind == cluster.MessageChunk {
					delivered.Add(1)
				}
			})
			require.NoError(b, err)
			b.Cleanup(del)
		}
	}
	chunks := make([]manager.Chunk, batch)
	for i := range chunks {
		chunks[i] = manager.Chunk{Data: chunk263}
	}
	var next atomic.Int64
	b.SetParallelism(8)
	b.SetBytes(int64(len(chunk263) * batch))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		id := ids[next.Add(1)%streams]
		for pb.Next() {
			if _, err := owner.AppendBatch(ctx, id, chunks); err != nil {
				b.Error(err)
				return
			}
		}
	})
	total := int64(b.N * batch)
	if subscribed {
		for delivered.Load() < total && time.Since(start) < time.Minute {
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "chunks/s")
	if subscribed {
		b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "delivered/s")
	}
}

// BenchmarkRedisMemory measures Redis's used_memory for 1,000 streams of 1,000 chunks of 263
// bytes each (history bounds 4096 chunks and 16 MiB, so nothing is trimmed). It does the whole
// fill once, whatever b.N:
//
//	go test -run '^$' -bench RedisMemory -benchtime 1x ./cluster/
func BenchmarkRedisMemory(b *testing.B) {
	srv := fresh(b)
	ctx := context.Background()
	const streams, chunks, workers = 1000, 1000, 32
	s, _ := newStore(b, srv, "mem", cluster.Config{MaxStreams: 2 * streams})
	c := inspect(b, srv)
	before := usedMemory(b, c)
	ids := make([]string, streams)
	for i := range ids {
		ids[i] = fmt.Sprintf("mem-%04d", i)
		if _, err := s.Create(ctx, cluster.CreateOptions{ID: ids[i], Tenant: "t"}); err != nil {
			b.Fatal(err)
		}
	}
	created := usedMemory(b, c)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan string)
	for range workers {
		wg.Go(func() {
			for id := range work {
				for range chunks {
					if _, err := s.Append(ctx, id, manager.Chunk{Data: chunk263}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	after := usedMemory(b, c)
	total := float64(after - before)
	b.ReportMetric(total/(1<<20), "MiB/1000streams")
	b.ReportMetric(float64(after-created)/(streams*chunks), "B/chunk")
	b.ReportMetric(float64(created-before)/streams, "B/empty-stream")
	b.ReportMetric(streams*chunks/elapsed.Seconds(), "chunks/s")
}

func usedMemory(b *testing.B, c rueidis.Client) int64 {
	b.Helper()
	info, err := do(b, c, "INFO", "memory").ToString()
	require.NoError(b, err)
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(b, err)
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}
