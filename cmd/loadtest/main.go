// Command loadtest measures streamgate against baselines, each server its own process on
// loopback so that its CPU time and RSS can be read from /proc, in one invocation.
//
// -mode fanout (the default): one push stream, many SSE subscribers of
// /v1/streams/{id}/events, events pushed through the stream API at a fixed rate, each carrying the
// time it was pushed; every subscriber records how long each event took to reach it and checks
// that chunk IDs come in order without a gap. It runs against the gateway (this program with
// -role gateway: open mode, no rate limit, the simulator upstream), then against the raw-TCP
// floor (-role floor, floor.go: the same API, one write per connection per event and nothing
// else), with the same subscribers and rate, and prints the delivery percentiles side by side.
//
//	go run ./cmd/loadtest -subscribers 10000 -rate 50 -duration 20s
//
// With -url it targets a running gateway instead (-key for its client key) and skips the floor.
// The subscribers live in this process: reading costs about what writing does, so on a small
// machine the load test itself takes half the CPU. When the machine cannot make the writes the
// rate asks for, both servers fall behind and the percentiles measure the backlog: the gateway
// then gains on the floor by writing what queued up in one write, which the floor never does.
// -cpuprofile profiles the gateway process.
//
// Cluster fan-out (issue 12): with -redis it starts -replicas streamgate processes (the binary
// -streamgate names, built from ./cmd/streamgate when empty; open mode, no rate limit, each its
// node ID) sharing that Redis, or with -url a,b,c it targets running replicas; the floor is
// skipped. Events are pushed through the first replica, which owns the stream; subscriber i reads
// from replica i mod n. Besides the percentiles over all deliveries it prints them per replica,
// and what each replica adds over the owner's subscribers for the same chunk (the remote
// delivery latency):
//
//	go run ./cmd/loadtest -redis redis://127.0.0.1:6390/0 -streamgate ./streamgate -subscribers 2 -rate 1000 -duration 10s
//	go run ./cmd/loadtest -redis redis://127.0.0.1:6390/0 -streamgate ./streamgate -subscribers 3000 -rate 50 -duration 20s
//
// -mode throughput: -streams generation streams created round-robin over the replicas (-redis
// or -url a,b,c; each replica's simulator makes -chunks chunks as fast as it can), each read by
// one subscriber on the next replica; it prints the chunks appended and delivered per second,
// from the first create to the last subscriber's `event: done`.
//
//	go run ./cmd/loadtest -mode throughput -redis redis://127.0.0.1:6390/0 -streamgate ./streamgate -streams 1000 -chunks 200
//
// -mode gemini: the Gemini route's concurrency ladder. A fake Gemini (-role fake) sends -events
// events -interval apart, each stamped with the time it was due; streamgate (the real command,
// built from ./cmd/streamgate unless -streamgate names a binary, with the limits that would refuse
// the load lifted) and a bare httputil.ReverseProxy flushing every write (-role proxy) stand in
// front of it. For each rung of -ladder, alternately on each, that many callers hold that many
// streams open for -level-time, and it prints how late chunks arrived (a rung is sustained when
// none is later than -late and none failed), the server's CPU time per stream and its peak RSS,
// then the figures side by side with their ratios. streamgate keeps every finished stream for
// manager.retain_closed (5m) so that it can be replayed, which a proxy cannot offer, and its RSS
// grows with the streams the rungs finished; -retain-closed sets a shorter time, to read the RSS
// of the concurrent streams alone.
//
//	go run ./cmd/loadtest -mode gemini -ladder 128,256,512,1000,2000
//
// On the shared 2-core machine of issue 15 (load average 3.9 before, 7.2 after), the ladder gave
// at 128/256/512/1000/2000 streams a chunk lateness p99 of 24/77/225/427/1425 ms for streamgate
// and 7/15/245/289/955 ms for the proxy: 128 streams sustained against 256 (2.00x), CPU per
// stream at 1,000 streams 1.37 ms against 0.76 ms (1.81x; 3.9 against 2.1 ms at 128 streams,
// where neither is starved) and RSS at 1,000 streams 308 MiB against 110 MiB (2.80x; streamgate
// keeps every finished stream's history for retain_closed). The fan-out figures, and the
// ladder's at later commits, are in package gateway's documentation.
//
// Every process raises RLIMIT_NOFILE to fit one descriptor per connection, and the load test
// checks that the loopback ephemeral port range holds them: 10,000 subscribers need a hard
// `ulimit -n` of at least 11,024 and net.ipv4.ip_local_port_range of at least 11,024 ports.
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
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

type options struct {
	mode        string
	role        string
	subscribers int
	rate        int
	duration    time.Duration
	payload     int
	url         string
	key         string
	dialers     int
	floor       bool
	gemini      geminiOptions
	ladder      string
	cpuprofile  string
	streamgate  string // the binary the gemini ladder and -redis start
	// Cluster mode.
	redis    string
	replicas int
	streams  int
	chunks   int
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "fanout", "fanout: one push stream to many subscribers, beside the raw-TCP floor (or over cluster replicas); gemini: the Gemini route's concurrency ladder beside httputil.ReverseProxy; throughput: generation streams over cluster replicas")
	flag.StringVar(&o.role, "role", "", "internal: run one server process (gateway, floor, fake, proxy), print its URL, and stop when stdin closes")
	flag.IntVar(&o.subscribers, "subscribers", 10000, "fanout: SSE subscribers of the stream")
	flag.IntVar(&o.rate, "rate", 50, "fanout: events pushed per second")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "fanout: how long to push")
	flag.IntVar(&o.payload, "payload", 256, "approximate bytes of data per event")
	flag.StringVar(&o.url, "url", "", "fanout, throughput: gateway base URL, or comma-separated replica URLs (the first owns the stream); empty starts a gateway in a child process (proxy role: the upstream)")
	flag.StringVar(&o.key, "key", "", "fanout, throughput: client key for -url")
	flag.IntVar(&o.dialers, "dialers", 128, "fanout, throughput: subscribers connecting at once")
	flag.BoolVar(&o.floor, "floor", true, "fanout: also run the raw-TCP floor with the same subscribers and rate")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "fanout: write the gateway process's CPU profile of the run to this file")
	flag.StringVar(&o.ladder, "ladder", "128,256,512,1000,2000", "gemini: concurrent streams of each rung")
	flag.IntVar(&o.gemini.events, "events", 64, "gemini: events per stream")
	flag.DurationVar(&o.gemini.interval, "interval", 20*time.Millisecond, "gemini: time between two events")
	flag.DurationVar(&o.gemini.levelTime, "level-time", 4*time.Second, "gemini: how long each rung keeps starting streams")
	flag.DurationVar(&o.gemini.late, "late", 100*time.Millisecond, "gemini: a rung is sustained when no chunk arrives later than this")
	flag.IntVar(&o.gemini.cpuAt, "cpu-at", 1000, "gemini: the rung whose CPU per stream and RSS are compared")
	flag.StringVar(&o.streamgate, "streamgate", "", "gemini, -redis: the streamgate binary to start; empty builds ./cmd/streamgate")
	flag.StringVar(&o.gemini.logLevel, "log-level", "warn", "gemini: streamgate's log.level")
	flag.DurationVar(&o.gemini.retain, "retain-closed", 0, "gemini: streamgate's manager.retain_closed (how long a finished stream is kept for replay); 0 keeps the default, 5m")
	flag.StringVar(&o.redis, "redis", "", "fanout, throughput: start -replicas streamgate processes sharing this Redis URL (cluster mode)")
	flag.IntVar(&o.replicas, "replicas", 3, "fanout, throughput: replicas started with -redis")
	flag.IntVar(&o.streams, "streams", 1000, "throughput: generation streams spread over the replicas")
	flag.IntVar(&o.chunks, "chunks", 200, "throughput: chunks per generation")
	flag.Parse()
	o.gemini.size = o.payload
	o.gemini.binary = o.streamgate
	if err := dispatch(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// dispatch runs what the flags ask for: a serving -role (one process of a run started by
// another), or else a measuring -mode.
func dispatch(o options) error {
	if o.role != "" {
		return runRole(o)
	}
	return runMode(o)
}

// runRole serves as the -role asks until stdin closes, under a CPU profile when -cpuprofile is
// set.
func runRole(o options) error {
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	switch o.role {
	case "gateway":
		return serveGateway(o)
	case "floor":
		return serveUntilStdinCloses(newFloor().handler())
	case "fake":
		return serveUntilStdinCloses(fakeGemini{events: o.gemini.events, interval: o.gemini.interval, pad: strings.Repeat("x", max(0, o.payload-200))})
	case "proxy":
		h, err := newReverseProxy(o.url)
		if err != nil {
			return err
		}
		return serveUntilStdinCloses(h)
	}
	return fmt.Errorf("unknown -role %q", o.role)
}

// runMode runs the measurement -mode names.
func runMode(o options) error {
	switch o.mode {
	case "fanout":
		return runFanout(o)
	case "throughput":
		return throughput(o)
	case "gemini":
		ladder, err := parseLadder(o.ladder)
		if err != nil {
			return err
		}
		o.gemini.ladder = append(o.gemini.ladder, ladder...)
		return runGemini(o.gemini)
	}
	return fmt.Errorf("unknown -mode %q", o.mode)
}

// parseLadder reads -ladder: comma-separated numbers of streams, each at least 1.
func parseLadder(s string) ([]int, error) {
	var ladder []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-ladder: %q is not a number of streams", f)
		}
		ladder = append(ladder, n)
	}
	return ladder, nil
}

// fanoutResult is one fan-out run.
type fanoutResult struct {
	name                       string
	subscribers, failed        int
	pushed, pushErrs           int
	deliveries, missed, badIDs int
	p50, p90, p99, p999, max   time.Duration
	push50, push99             time.Duration
	cpu                        time.Duration // the serving process's, while pushing; 0 when unknown
	replicas                   int           // the gateways read from, when more than one
	subs                       []*subscriber // kept for the per-replica report when replicas > 1
}

// runFanout runs the fan-out against the gateway and then, unless -floor=false, -url or -redis
// is set, against the raw-TCP floor, and prints both side by side.
func runFanout(o options) error {
	if err := raiseFileLimit(uint64(o.subscribers + 1024)); err != nil {
		return err
	}
	if err := checkPorts(o.subscribers + 1024); err != nil {
		return err
	}
	fmt.Printf("load average before: %s\n", loadAverage())
	var results []fanoutResult
	if o.url != "" || o.redis != "" {
		bases, stop, err := clusterTargets(o)
		if err != nil {
			return err
		}
		name := "gateway"
		if len(bases) > 1 {
			name = "cluster"
		}
		r, err := fanout(o, name, bases, nil)
		stop()
		if err != nil {
			return err
		}
		results = append(results, r)
	} else {
		roles := []string{"gateway"}
		if o.floor {
			roles = append(roles, "floor")
		}
		for _, role := range roles {
			args := []string{"-subscribers", strconv.Itoa(o.subscribers)}
			if o.cpuprofile != "" && role == "gateway" {
				args = append(args, "-cpuprofile", o.cpuprofile)
			}
			c, err := startRole(role, args...)
			if err != nil {
				return err
			}
			r, err := fanout(o, role, []string{c.url}, c)
			c.stop()
			if err != nil {
				return fmt.Errorf("%s: %w", role, err)
			}
			results = append(results, r)
			time.Sleep(2 * time.Second) // let the closed connections go
		}
	}
	fmt.Printf("load average after: %s\n", loadAverage())
	printFanout(results)
	return nil
}

// fanout connects o.subscribers to one stream created on bases[0], subscriber i on bases[i mod
// n], pushes through bases[0] for o.duration and collects every subscriber's deliveries.
func fanout(o options, name string, bases []string, server *child) (fanoutResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	apis := make([]*apiClient, len(bases))
	for i, base := range bases {
		apis[i] = &apiClient{base: base, key: o.key, http: client}
	}
	api := apis[0]
	id, err := api.createStream()
	if err != nil {
		return fanoutResult{}, err
	}
	fmt.Printf("%s: stream %s on %s; connecting %d subscribers to %s\n", name, id, bases[0], o.subscribers, strings.Join(bases, " "))

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
			return fanoutResult{}, err
		}
	}
	fmt.Printf("%s: %d subscribers connected in %v\n", name, o.subscribers, time.Since(connectStart).Round(time.Millisecond))

	var cpu0 time.Duration
	if server != nil {
		cpu0, _ = server.cpu()
	}
	pushLat, pushErrs := push(api, id, o)
	time.Sleep(time.Second) // let the last deliveries land
	var cpu time.Duration
	if server != nil {
		if cpu1, err := server.cpu(); err == nil {
			cpu = cpu1 - cpu0
		}
	}
	if err := api.deleteStream(id); err != nil {
		return fanoutResult{}, err
	}
	wg.Wait()
	r := collect(name, subs, pushLat, pushErrs)
	r.cpu = cpu
	if len(bases) > 1 {
		r.replicas, r.subs = len(bases), subs
	}
	return r, nil
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
	// The stream API's own calls (create, the pushes, the count polled) need connections beside
	// the subscribers'.
	gw, err := gateway.New(gateway.Config{Manager: m, Generator: runner, Logger: log, MaxConnections: o.subscribers + 1024})
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
	target int // the gateway it reads from, an index of the bases
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

// collect sums up the subscribers' deliveries.
func collect(name string, subs []*subscriber, pushLat []time.Duration, pushErrs int) fanoutResult {
	r := fanoutResult{name: name, subscribers: len(subs), pushed: len(pushLat), pushErrs: pushErrs}
	var all []int32
	for _, s := range subs {
		all = append(all, s.lat...)
		r.missed += len(pushLat) - len(s.lat)
		r.badIDs += s.badIDs
		if s.err != nil || s.conn == nil {
			r.failed++
		}
	}
	r.deliveries = len(all)
	slices.Sort(all)
	slices.Sort(pushLat)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return time.Duration(all[min(len(all)-1, int(float64(len(all))*p))]) * time.Microsecond
	}
	r.p50, r.p90, r.p99, r.p999, r.max = pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1)
	if len(pushLat) > 0 {
		r.push50 = pushLat[len(pushLat)/2]
		r.push99 = pushLat[min(len(pushLat)-1, int(float64(len(pushLat))*0.99))]
	}
	return r
}

// printFanout prints each run, then the gateway's delivery percentiles against the floor's.
func printFanout(results []fanoutResult) {
	for _, r := range results {
		fmt.Printf("%s: subscribers %d (failed %d), events pushed %d (push errors %d), deliveries %d, missed %d, chunk ID gaps or repeats %d\n",
			r.name, r.subscribers, r.failed, r.pushed, r.pushErrs, r.deliveries, r.missed, r.badIDs)
		fmt.Printf("%s: delivery latency p50 %v  p90 %v  p99 %v  p99.9 %v  max %v; push latency p50 %v  p99 %v; server CPU while pushing %v\n",
			r.name, r.p50, r.p90, r.p99, r.p999, r.max, r.push50.Round(time.Microsecond), r.push99.Round(time.Microsecond), r.cpu)
		if r.replicas > 1 {
			reportReplicas(r.subs, r.replicas)
		}
	}
	if len(results) != 2 {
		return
	}
	g, f := results[0], results[1]
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", float64(a)/float64(b))
	}
	fmt.Println()
	fmt.Printf("%-26s %12s %12s %8s\n", "fan-out figure", "gateway", "raw-TCP floor", "ratio")
	for _, row := range []struct {
		name string
		g, f time.Duration
	}{{"delivery p50", g.p50, f.p50}, {"delivery p90", g.p90, f.p90}, {"delivery p99", g.p99, f.p99}, {"delivery p99.9", g.p999, f.p999}, {"server CPU while pushing", g.cpu, f.cpu}} {
		fmt.Printf("%-26s %12v %12v %8s\n", row.name, row.g, row.f, ratio(row.g, row.f))
	}
	fmt.Printf("%-26s %12d %12d\n", "missed", g.missed, f.missed)
	fmt.Printf("%-26s %12d %12d\n", "gaps or repeats", g.badIDs, f.badIDs)
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
