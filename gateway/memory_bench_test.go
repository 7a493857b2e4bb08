package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// idleSubscribers is how many idle connections each memory measurement holds.
const idleSubscribers = 2000

// memoryCaseEnv names the case a child process of BenchmarkIdleSubscriberMemory measures.
const memoryCaseEnv = "STREAMGATE_MEMORY_CASE"

// BenchmarkIdleSubscriberMemory measures the memory (Go heap plus goroutine stacks, after GC) one
// idle SSE subscriber costs the process, from the change in runtime.MemStats while holding
// idleSubscribers connections open, in three cases:
//
//   - tcp: raw TCP connections a listener accepts and just holds (both ends' net.Conn, no HTTP);
//   - nethttp: a plain net/http server whose handler sends event-stream headers and waits, which is
//     what net/http itself costs per streaming connection;
//   - gateway: subscribers of /v1/streams/{id}/events on the gateway (heartbeat on).
//
// Each case runs in a fresh child process (this test binary, running TestIdleMemoryChild), so that
// stacks and spans freed by one case cannot hide the cost of the next. It reports each per
// connection, net/http's own cost (nethttp - tcp) and what the gateway adds on top of net/http
// (gateway - nethttp). The clients are raw connections in the same process that sent their request,
// read the response headers and hold on: their cost is part of the tcp case.
func BenchmarkIdleSubscriberMemory(b *testing.B) {
	results := map[string]float64{}
	for range b.N {
		for _, name := range []string{"tcp", "nethttp", "gateway"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestIdleMemoryChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), memoryCaseEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.NoError(b, err, "%s", out)
			m := regexp.MustCompile(`memory per connection: (\d+)`).FindSubmatch(out)
			require.NotNil(b, m, "%s", out)
			v, err := strconv.ParseFloat(string(m[1]), 64)
			require.NoError(b, err)
			results[name] = v
		}
	}
	b.ReportMetric(results["tcp"], "tcp_B/conn")
	b.ReportMetric(results["nethttp"], "nethttp_B/conn")
	b.ReportMetric(results["gateway"], "gateway_B/sub")
	b.ReportMetric(results["nethttp"]-results["tcp"], "nethttp_own_B/conn")
	b.ReportMetric(results["gateway"]-results["nethttp"], "gateway_added_B/sub")
}

// TestIdleMemoryChild is one measurement of BenchmarkIdleSubscriberMemory; it runs only in the
// child processes the benchmark starts.
func TestIdleMemoryChild(t *testing.T) {
	name := os.Getenv(memoryCaseEnv)
	if name == "" {
		t.Skip("run by BenchmarkIdleSubscriberMemory")
	}
	var per float64
	switch name {
	case "tcp":
		per = perConn(t, holdTCP(t), "", nil)
	case "nethttp":
		per = perConn(t, plainSSEServer(t), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", nil)
	case "gateway":
		e := newEnv(t, options{quiet: true})
		id := e.createStream(aliceKey, map[string]any{})
		e.client.CloseIdleConnections()
		per = perConn(t, strings.TrimPrefix(e.url, "http://"),
			fmt.Sprintf("GET /v1/streams/%s/events HTTP/1.1\r\nHost: x\r\nx-goog-api-key: %s\r\n\r\n", id, aliceKey),
			func(n int) { e.waitClients(id, n) })
	default:
		t.Fatalf("unknown case %q", name)
	}
	fmt.Printf("memory per connection: %.0f\n", per)
}

// perConn opens idleSubscribers connections to addr, sends request on each (when not empty) and
// reads the response headers, then returns the growth of heap and stacks per connection.
func perConn(b testing.TB, addr, request string, ready func(n int)) float64 {
	b.Helper()
	before := liveBytes()
	conns := make([]net.Conn, 0, idleSubscribers)
	buf := make([]byte, 4096)
	for range idleSubscribers {
		c, err := net.Dial("tcp", addr)
		require.NoError(b, err)
		conns = append(conns, c)
		if request == "" {
			continue
		}
		_, err = c.Write([]byte(request))
		require.NoError(b, err)
		var got []byte
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			require.NoError(b, err)
			got = append(got, buf[:n]...)
		}
		require.True(b, bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK")), "%q", got)
	}
	if ready != nil {
		ready(idleSubscribers)
	}
	time.Sleep(100 * time.Millisecond) // let every server goroutine settle into its wait
	after := liveBytes()
	for _, c := range conns {
		c.Close()
	}
	if ready != nil {
		ready(0)
	}
	return float64(after-before) / idleSubscribers
}

// liveBytes is the heap in use by live objects plus goroutine stacks, after two GCs.
func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// holdTCP accepts connections and keeps them, without a goroutine per connection.
func holdTCP(b testing.TB) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	held := make(chan []net.Conn, 1)
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				held <- conns
				return
			}
			conns = append(conns, c)
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		for _, c := range <-held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// plainSSEServer is a bare net/http server whose handler starts an event stream and waits.
func plainSSEServer(b testing.TB) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// BenchmarkOpenGeminiStreams holds openGeminiStreams Gemini-route streams open at once through
// the gateway, each stalled upstream after its first event, and reports what one open stream
// costs the process, from runtime.MemStats after a few GCs (which halve a stack less than a
// quarter used): goroutines, goroutine stack bytes, and live heap. The fake upstream runs in this process, so its side of each connection (two goroutines,
// 10 KiB of stacks) is counted too; the callers are raw connections that read the first frame
// and hold on.
func BenchmarkOpenGeminiStreams(b *testing.B) {
	var cost streamCost
	for range b.N {
		cost = openGeminiStreams(b, 300)
	}
	b.ReportMetric(cost.goroutines, "goroutines/stream")
	b.ReportMetric(cost.stack, "stack_B/stream")
	b.ReportMetric(cost.grown, "grown_stack_B/stream")
	b.ReportMetric(cost.heap, "heap_B/stream")
}

// streamCost is what one open stream costs, per stream.
type streamCost struct {
	goroutines float64
	stack      float64 // goroutine stack bytes after a few GCs
	grown      float64 // goroutine stack bytes before any GC: as large as the stacks grew
	heap       float64 // live heap bytes
}

// openGeminiStreams opens n Gemini-route streams through a new gateway, each stalled upstream
// after its first event, and returns what one costs. The GC is off while they open, so that
// the stacks are measured as large as they grew before the GCs that halve them. It closes them
// and waits for their streams to end before it returns.
func openGeminiStreams(tb testing.TB, n int) streamCost {
	script := upstreamtest.Script{Steps: []upstreamtest.Step{
		upstreamtest.Event(upstreamtest.Chunks("one ", "two")[0]), upstreamtest.Stall(),
	}}
	e := newEnv(tb, options{quiet: true, script: &script})
	addr := strings.TrimPrefix(e.url, "http://")
	request := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nx-goog-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		streamPath, aliceKey, len(generateBody), generateBody)
	var ms0, grown, ms1 runtime.MemStats
	settle(&ms0)
	g0 := runtime.NumGoroutine()
	gcPercent := debug.SetGCPercent(-1)
	tb.Cleanup(func() { debug.SetGCPercent(gcPercent) }) // also when a require below fails
	conns := make([]net.Conn, 0, n)
	buf := make([]byte, 4096)
	for range n {
		c, err := net.Dial("tcp", addr)
		require.NoError(tb, err)
		conns = append(conns, c)
		_, err = c.Write([]byte(request))
		require.NoError(tb, err)
		var got []byte
		for !bytes.Contains(got, []byte("data: ")) || !bytes.HasSuffix(got, []byte("\r\n\r\n\r\n")) {
			k, err := c.Read(buf)
			require.NoError(tb, err, "%q", got)
			got = append(got, buf[:k]...)
		}
		require.True(tb, bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK")), "%q", got)
	}
	time.Sleep(100 * time.Millisecond) // the goroutines reach their waits
	runtime.ReadMemStats(&grown)
	debug.SetGCPercent(gcPercent)
	settle(&ms1)
	cost := streamCost{
		goroutines: float64(runtime.NumGoroutine()-g0) / float64(n),
		stack:      float64(ms1.StackInuse-ms0.StackInuse) / float64(n),
		grown:      float64(grown.StackInuse-ms0.StackInuse) / float64(n),
		heap:       float64(ms1.HeapAlloc-ms0.HeapAlloc) / float64(n),
	}
	for _, c := range conns {
		c.Close()
	}
	require.Eventually(tb, func() bool {
		ids, err := e.m.ActiveStreamIDs(context.Background())
		return err == nil && len(ids) == 0
	}, 10*time.Second, 5*time.Millisecond, "the streams of the callers that left stayed open")
	return cost
}

// settle lets goroutines reach their waits, runs GCs until stacks have shrunk as far as they
// will (each GC halves a stack at most once) and reads ms.
func settle(ms *runtime.MemStats) {
	time.Sleep(100 * time.Millisecond)
	for range 4 {
		runtime.GC()
	}
	runtime.ReadMemStats(ms)
}
