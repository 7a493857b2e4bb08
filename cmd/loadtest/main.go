// Command loadtest measures the gateway's fan-out: one push stream, many SSE subscribers on
// loopback, events pushed through the stream API at a fixed rate. Each event carries the time it was
// pushed; every subscriber records how long each event took to reach it. It prints the delivery
// latency percentiles over all deliveries, the deliveries missed, and the push latency.
//
//	go run ./cmd/loadtest -subscribers 10000 -rate 50 -duration 20s
//
// By default it starts a gateway (open mode, no rate limit) on a loopback port in a child process
// (this program with -serve), so that the gateway and the subscribers each have their own
// descriptors and Go runtime; with -url it targets a running gateway instead (-key for its client
// key). Both processes raise RLIMIT_NOFILE to fit one descriptor per subscriber.
//
// Cluster mode (issue 12): with -redis it starts -replicas streamgate processes (the binary
// -streamgate names) sharing that Redis, or with -url a,b,c it targets running replicas. Events
// are pushed through the first replica, which owns the stream; subscriber i reads from replica
// i mod n. Besides the percentiles over all deliveries it prints them per replica, and what each
// replica adds over the owner's subscribers for the same chunk (the remote delivery latency):
//
//	go run ./cmd/loadtest -redis redis://127.0.0.1:6390/0 -streamgate ./streamgate -subscribers 2 -rate 1000 -duration 10s
//	go run ./cmd/loadtest -redis redis://127.0.0.1:6390/0 -streamgate ./streamgate -subscribers 3000 -rate 50 -duration 20s
//
// -streams N measures throughput instead: N generation streams created round-robin over the
// replicas (each replica's simulator makes -chunks chunks as fast as it can), each read by one
// subscriber on the next replica; it prints the chunks appended and delivered per second.
//
//	go run ./cmd/loadtest -redis redis://127.0.0.1:6390/0 -streamgate ./streamgate -streams 1000 -chunks 200
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

type options struct {
	subscribers int
	rate        int
	duration    time.Duration
	payload     int
	url         string
	key         string
	dialers     int
	serve       bool
	// Cluster mode.
	redis      string
	replicas   int
	streamgate string
	streams    int
	chunks     int
}

func main() {
	var o options
	flag.IntVar(&o.subscribers, "subscribers", 10000, "SSE subscribers of the stream")
	flag.IntVar(&o.rate, "rate", 50, "events pushed per second")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to push")
	flag.IntVar(&o.payload, "payload", 256, "approximate bytes of data per event")
	flag.StringVar(&o.url, "url", "", "gateway base URL, or comma-separated replica URLs (the first owns the stream); empty starts a gateway")
	flag.StringVar(&o.key, "key", "", "client key for -url")
	flag.IntVar(&o.dialers, "dialers", 128, "subscribers connecting at once")
	flag.BoolVar(&o.serve, "serve", false, "run only the gateway, print its URL, and stop when stdin closes")
	flag.StringVar(&o.redis, "redis", "", "cluster mode: start -replicas streamgate processes on this Redis URL")
	flag.IntVar(&o.replicas, "replicas", 3, "replicas started with -redis")
	flag.StringVar(&o.streamgate, "streamgate", "streamgate", "the streamgate binary -redis starts")
	flag.IntVar(&o.streams, "streams", 0, "throughput mode: generation streams spread over the replicas")
	flag.IntVar(&o.chunks, "chunks", 200, "throughput mode: chunks per generation")
	flag.Parse()
	run := run
	switch {
	case o.serve:
		run = serveGateway
	case o.streams > 0:
		run = throughput
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := raiseFileLimit(uint64(o.subscribers + 1024)); err != nil {
		return err
	}
	bases, stop, err := targets(o)
	if err != nil {
		return err
	}
	defer stop()
	apis := make([]*apiClient, len(bases))
	for i, base := range bases {
		apis[i] = &apiClient{base: base, key: o.key, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	}
	api := apis[0]
	id, err := api.createStream()
	if err != nil {
		return err
	}
	fmt.Printf("stream %s on %s; connecting %d subscribers to %d gateways\n", id, bases[0], o.subscribers, len(bases))

	expected := int(o.duration.Seconds()*float64(o.rate)) + 1
	subs := make([]*subscriber, o.subscribers)
	var wg sync.WaitGroup
	connectStart := time.Now()
	sem := make(chan struct{}, o.dialers)
	var dialErr atomic.Value
	for i := range subs {
		subs[i] = &subscriber{target: i % len(bases), lat: make([]int32, 0, expected), ids: make([]int32, 0, expected)}
		addr, request := eventsRequest(bases[subs[i].target], id, o.key)
		sem <- struct{}{}
		wg.Go(func() {
			err := subs[i].connect(addr, request)
			<-sem
			if err != nil {
				dialErr.Store(err)
				return
			}
			subs[i].read()
		})
	}
	for i, a := range apis {
		if err := a.waitClients(id, (o.subscribers+len(apis)-1-i)/len(apis), 60*time.Second); err != nil {
			if e, ok := dialErr.Load().(error); ok {
				err = errors.Join(err, e)
			}
			return err
		}
	}
	fmt.Printf("%d subscribers connected in %v\n", o.subscribers, time.Since(connectStart).Round(time.Millisecond))

	pushLat, pushErrs := push(api, id, o)
	time.Sleep(time.Second) // let the last deliveries land
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := api.deleteStream(id); err != nil {
		return err
	}
	wg.Wait()
	report(subs, pushLat, pushErrs, &before)
	if len(bases) > 1 {
		reportReplicas(subs, len(bases))
	}
	return nil
}

// eventsRequest is the raw HTTP request of a stream's events on the gateway at base.
func eventsRequest(base, id, key string) (addr, request string) {
	addr = strings.TrimPrefix(base, "http://")
	request = "GET /v1/streams/" + url.PathEscape(id) + "/events HTTP/1.1\r\nHost: " + addr + "\r\n"
	if key != "" {
		request += "x-goog-api-key: " + key + "\r\n"
	}
	return addr, request + "\r\n"
}

// targets returns the gateways' base URLs: o.url's, the replicas -redis starts, or one gateway
// started in a child process.
func targets(o options) ([]string, func(), error) {
	switch {
	case o.url != "":
		var bases []string
		for _, u := range strings.Split(o.url, ",") {
			bases = append(bases, strings.TrimSuffix(strings.TrimSpace(u), "/"))
		}
		return bases, func() {}, nil
	case o.redis != "":
		return startReplicas(o)
	}
	base, stop, err := target(o)
	if err != nil {
		return nil, nil, err
	}
	return []string{base}, stop, nil
}

// target starts a gateway in a child process and returns its base URL.
func target(o options) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-serve", "-subscribers", strconv.Itoa(o.subscribers))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: gateway process:", err)
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("gateway process: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// serveGateway runs the gateway alone: it prints its URL, serves until stdin closes, then shuts
// down.
func serveGateway(o options) error {
	if err := raiseFileLimit(uint64(o.subscribers + 1024)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := manager.New(manager.Config{MaxClientsPerStream: o.subscribers, Logger: log})
	if err != nil {
		return err
	}
	sim, err := upstream.NewSimulator(upstream.SimulatorConfig{})
	if err != nil {
		return err
	}
	runner, err := upstream.NewRunner(upstream.RunnerConfig{Provider: sim, Manager: m, Logger: log})
	if err != nil {
		return err
	}
	gw, err := gateway.New(gateway.Config{Manager: m, Generator: runner, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Println("http://" + ln.Addr().String())
	return gw.Serve(ctx, ln)
}

// subscriber is one SSE connection recording the delivery latency of every event, in µs.
type subscriber struct {
	target int // the gateway it reads from, an index of the targets
	conn   net.Conn
	lat    []int32
	ids    []int32 // the chunk ID of each latency in lat
	badIDs int     // chunk IDs that were not the previous one plus one
	lastID int64   // the last chunk ID read
	err    error
}

func (s *subscriber) connect(addr, request string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(c, request); err != nil {
		c.Close()
		return err
	}
	s.conn = c
	return nil
}

// read consumes the chunked event stream until it ends, checking that chunk IDs arrive in order
// without a gap. Data lines are {"t":<unix ns>,...}.
//
// It reads the raw HTTP/1.1 chunked body and matches lines by prefix, without decoding the
// chunked framing. That relies on the gateway writing whole SSE frames and flushing after each
// write, so every HTTP chunk holds whole frames: an id: or data: line never straddles a chunk
// boundary, and the chunk-size lines and the CRLF after each chunk match no prefix and are
// skipped. A line longer than the 4 KiB read buffer (a payload that large) fails the subscriber
// with bufio.ErrBufferFull.
func (s *subscriber) read() {
	defer s.conn.Close()
	r := bufio.NewReaderSize(s.conn, 4096)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.err = err
			}
			return
		}
		if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
			n := field(id, 0)
			if n != s.lastID+1 {
				s.badIDs++
			}
			s.lastID = n
			continue
		}
		rest, ok := bytes.CutPrefix(line, []byte(`data: {"t":`))
		if !ok {
			if bytes.HasPrefix(line, []byte("event: done")) {
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		s.lat = append(s.lat, int32((now-field(rest, 0))/1000))
		s.ids = append(s.ids, int32(s.lastID))
	}
}

// field parses the decimal number at b[i:].
func field(b []byte, i int) int64 {
	var n int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n
}

// push sends events at o.rate for o.duration, each in its own request so that a slow push does
// not lower the rate (concurrent pushes may then arrive out of order), and returns each push's
// latency and the number of failures.
func push(api *apiClient, id string, o options) ([]time.Duration, int) {
	pad := strings.Repeat("x", max(0, o.payload-40))
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	end := time.Now().Add(o.duration)
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	for time.Now().Before(end) {
		<-tick.C
		wg.Go(func() {
			start := time.Now()
			body := `{"data":{"t":` + strconv.FormatInt(start.UnixNano(), 10) + `,"pad":"` + pad + `"}}`
			err := api.push(id, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				fmt.Fprintln(os.Stderr, "push:", err)
				return
			}
			lat = append(lat, time.Since(start))
		})
	}
	wg.Wait()
	return lat, errs
}

func report(subs []*subscriber, pushLat []time.Duration, pushErrs int, ms *runtime.MemStats) {
	var all []int32
	missed, badIDs, failed := 0, 0, 0
	for _, s := range subs {
		all = append(all, s.lat...)
		missed += len(pushLat) - len(s.lat)
		badIDs += s.badIDs
		if s.err != nil || s.conn == nil {
			failed++
		}
	}
	slices.Sort(all)
	slices.Sort(pushLat)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return time.Duration(all[min(len(all)-1, int(float64(len(all))*p))]) * time.Microsecond
	}
	pushPct := func(p float64) time.Duration {
		if len(pushLat) == 0 {
			return 0
		}
		return pushLat[min(len(pushLat)-1, int(float64(len(pushLat))*p))]
	}
	fmt.Printf("subscribers %d (failed %d), events pushed %d (push errors %d), deliveries %d, missed %d, chunk ID gaps or repeats %d\n",
		len(subs), failed, len(pushLat), pushErrs, len(all), missed, badIDs)
	fmt.Printf("delivery latency: p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1))
	fmt.Printf("push latency: p50 %v  p99 %v\n", pushPct(0.50), pushPct(0.99))
	fmt.Printf("subscriber process: heap in use %d MiB, stacks %d MiB\n", ms.HeapInuse>>20, ms.StackInuse>>20)
}

// apiClient calls the stream API.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

func (a *apiClient) do(method, path, body string, want int) ([]byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.key != "" {
		req.Header.Set("x-goog-api-key", a.key)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b, nil
}

func (a *apiClient) createStream() (string, error) {
	b, err := a.do("POST", "/v1/streams", "{}", http.StatusCreated)
	if err != nil {
		return "", err
	}
	var out struct{ ID string }
	return out.ID, json.Unmarshal(b, &out)
}

func (a *apiClient) push(id, body string) error {
	_, err := a.do("POST", "/v1/streams/"+url.PathEscape(id)+"/chunks", body, http.StatusAccepted)
	return err
}

func (a *apiClient) deleteStream(id string) error {
	_, err := a.do("DELETE", "/v1/streams/"+url.PathEscape(id), "", http.StatusOK)
	return err
}

func (a *apiClient) waitClients(id string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, err := a.do("GET", "/v1/streams/"+url.PathEscape(id), "", http.StatusOK)
		if err != nil {
			return err
		}
		var info struct{ Clients int }
		if err := json.Unmarshal(b, &info); err != nil {
			return err
		}
		if info.Clients >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d subscribers registered after %v", info.Clients, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raiseFileLimit raises RLIMIT_NOFILE to at least n descriptors.
func raiseFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open file limit to %d (ulimit -n): %w", n, err)
	}
	return nil
}
