package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

// fanOutSubscribers is how many subscribers BenchmarkEventsFanOut holds.
const fanOutSubscribers = 1000

// BenchmarkEventsFanOut measures the events route's fan-out: fanOutSubscribers raw loopback
// connections subscribe to one push stream, and each operation pushes one 256-byte chunk
// through the manager and waits until every subscriber has read it. It reports the time per
// delivery (ns/op over the subscribers) and the CPU time of the whole process per delivery,
// readers included; compare runs of two builds (A/B) rather than read them alone. cmd/loadtest
// measures the same against a raw-TCP floor at 10,000 subscribers.
func BenchmarkEventsFanOut(b *testing.B) {
	e := newEnv(b, options{
		quiet:   true,
		manager: func(c *manager.Config) { c.MaxClientsPerStream = fanOutSubscribers + 1 },
		gateway: func(c *gateway.Config) { c.Heartbeat = 0; c.MaxConnections = fanOutSubscribers + 64 },
	})
	id := e.createStream(aliceKey, map[string]any{})
	addr := strings.TrimPrefix(e.url, "http://")
	request := "GET /v1/streams/" + id + "/events HTTP/1.1\r\nHost: " + addr + "\r\nx-goog-api-key: " + aliceKey + "\r\n\r\n"
	var remaining atomic.Int64
	delivered := make(chan struct{}, 1)
	var wg sync.WaitGroup
	conns := make([]net.Conn, fanOutSubscribers)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		require.NoError(b, err)
		conns[i] = c
		_, err = io.WriteString(c, request)
		require.NoError(b, err)
		wg.Go(func() {
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("data: ")) && remaining.Add(-1) == 0 {
					delivered <- struct{}{}
				}
			}
		})
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	e.waitClients(id, fanOutSubscribers)
	data := []byte(`{"t":"` + strings.Repeat("x", 248) + `"}`)
	ctx := context.Background()
	push := func() {
		remaining.Store(fanOutSubscribers)
		require.NoError(b, e.m.PushChunk(ctx, id, manager.Chunk{Data: data, Time: time.Now()}))
		<-delivered
	}
	push() // the first delivery also sends the response headers
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		push()
	}
	b.StopTimer()
	deliveries := float64(b.N) * fanOutSubscribers
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/deliveries, "cpu-ns/delivery")
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
