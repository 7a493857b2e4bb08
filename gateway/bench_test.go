package gateway_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// target is one way to reach the fake Gemini in a latency benchmark.
type target struct {
	name   string
	url    string
	key    string
	client *http.Client
	r      *bufio.Reader // reused, so the client side allocates little
}

// latencyTargets returns the ways to stream from the fake: directly, through a plain
// httputil.ReverseProxy that swaps the key as a gateway would, through the same proxy with one
// goroutine hand-off added (hopTransport: the floor of the gateway's runner -> subscriber design),
// and through the gateway.
func latencyTargets(b *testing.B, script upstreamtest.Script) []*target {
	return latencyTargetsWrapped(b, script, nil)
}

// latencyTargetsWrapped is latencyTargets with the fake's handler wrapped.
func latencyTargetsWrapped(b *testing.B, script upstreamtest.Script, wrap func(http.Handler) http.Handler) []*target {
	b.Helper()
	e := newEnv(b, options{
		quiet:   true,
		wrap:    wrap,
		script:  &script,
		manager: func(c *manager.Config) { c.RetainClosed = time.Second },
		gateway: func(c *gateway.Config) { c.Heartbeat = 0 },
	})
	newClient := func() *http.Client {
		tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
		b.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	proxyTransport := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	hopTransport := hopTransport{&http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	return []*target{
		{name: "direct", url: e.fakeURL, key: upstreamKey, client: newClient()},
		{name: "proxy", url: serveProxy(b, e.fakeURL, proxyTransport), key: aliceKey, client: newClient()},
		{name: "hop", url: serveProxy(b, e.fakeURL, hopTransport), key: aliceKey, client: newClient()},
		{name: "gateway", url: e.url, key: aliceKey, client: newClient()},
	}
}

// serveProxy serves a plain httputil.ReverseProxy to the fake on a loopback port, swapping the
// client's key for the gateway's as a gateway would, and returns its URL.
func serveProxy(b *testing.B, fakeURL string, transport http.RoundTripper) string {
	return serveProxyWith(b, fakeURL, transport, "x-goog-api-key", upstreamKey)
}

// serveProxyWith is serveProxy with the upstream credential set as header: value.
func serveProxyWith(b *testing.B, fakeURL string, transport http.RoundTripper, header, value string) string {
	b.Helper()
	target, err := url.Parse(fakeURL)
	require.NoError(b, err)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Set(header, value)
		},
		Transport: transport,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		_ = srv.Close()
		if c, ok := transport.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	return "http://" + ln.Addr().String()
}

// hopTransport makes each round trip on a new goroutine, which then reads the response body and
// hands every read to the proxy's handler through a channel: the gateway's runner goroutine and its
// hand-off of each chunk to the subscriber's goroutine, without anything else the gateway does.
type hopTransport struct{ *http.Transport }

// hopReads is what the reading goroutine of a hopTransport round trip hands over.
type hopReads struct {
	resp  *http.Response
	err   error
	reads chan []byte // closed after the last read
}

func (t hopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	started := make(chan hopReads, 1)
	go t.read(req, started)
	h := <-started
	if h.err != nil {
		return nil, h.err
	}
	h.resp.Body = &hopBody{reads: h.reads}
	return h.resp, nil
}

// read makes the round trip, then hands over each read of the body until it ends or the request
// is cancelled.
func (t hopTransport) read(req *http.Request, started chan<- hopReads) {
	resp, err := t.Transport.RoundTrip(req)
	if err != nil {
		started <- hopReads{err: err}
		return
	}
	body := resp.Body // RoundTrip replaces resp.Body once it has resp
	defer body.Close()
	reads := make(chan []byte, 64)
	defer close(reads)
	started <- hopReads{resp: resp, reads: reads}
	for {
		buf := make([]byte, 4096)
		n, err := body.Read(buf)
		if n > 0 {
			select {
			case reads <- buf[:n]:
			case <-req.Context().Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hopBody is the response body the proxy reads: the reads handed over, in order.
type hopBody struct {
	reads chan []byte
	rest  []byte
}

func (b *hopBody) Read(p []byte) (int, error) {
	if len(b.rest) == 0 {
		r, ok := <-b.reads
		if !ok {
			return 0, io.EOF
		}
		b.rest = r
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

func (b *hopBody) Close() error { return nil }

// stream sends one streaming request and returns when it was sent and when every frame arrived.
func (tg *target) stream(b *testing.B, arrivals []time.Time) (time.Time, []time.Time) {
	req, err := http.NewRequest("POST", tg.url+streamPath, strings.NewReader(generateBody))
	require.NoError(b, err)
	req.Header.Set("x-goog-api-key", tg.key)
	return tg.timeFrames(b, req, []byte("\r\n"), arrivals)
}

// timeFrames sends req and returns when it was sent and when each frame arrived: each line
// equal to frameEnd (the blank line ending an SSE event in the dialect's line ending).
func (tg *target) timeFrames(b *testing.B, req *http.Request, frameEnd []byte, arrivals []time.Time) (time.Time, []time.Time) {
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := tg.client.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	if tg.r == nil {
		tg.r = bufio.NewReader(resp.Body)
	}
	r := tg.r
	r.Reset(resp.Body)
	arrivals = arrivals[:0]
	for {
		line, err := r.ReadSlice('\n')
		if err == io.EOF {
			return start, arrivals
		}
		require.NoError(b, err)
		if bytes.Equal(line, frameEnd) {
			arrivals = append(arrivals, time.Now())
		}
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkTTFB measures time to the first frame of a stream directly from the fake Gemini,
// through a plain httputil.ReverseProxy and through the gateway, interleaved in one run, and
// reports each one's p50/p99 and what the proxy and the gateway add to the direct figures.
func BenchmarkTTFB(b *testing.B) {
	benchTTFB(b, latencyTargets(b, upstreamtest.Gemini(defaultTexts...)), (*target).stream)
}

// streamFunc reads one stream through a target: when it was asked for, and the arrival of each
// frame appended to arrivals[:0].
type streamFunc func(tg *target, b *testing.B, arrivals []time.Time) (time.Time, []time.Time)

// benchTTFB runs b.N rounds of one stream through each target in turn and reports each one's
// time to the first frame.
func benchTTFB(b *testing.B, targets []*target, stream streamFunc) {
	ttfb := make([][]time.Duration, len(targets))
	var arrivals []time.Time
	for _, tg := range targets { // warm the connection pools
		_, arrivals = stream(tg, b, arrivals)
	}
	b.ResetTimer()
	for range b.N {
		for i, tg := range targets {
			var start time.Time
			start, arrivals = stream(tg, b, arrivals)
			ttfb[i] = append(ttfb[i], arrivals[0].Sub(start))
		}
	}
	b.StopTimer()
	report(b, targets, ttfb, "ttfb")
}

// BenchmarkInterChunkGap streams 20 chunks paced 1 ms apart by the fake, whose flushes are
// timestamped, directly, through the reverse proxy and through the gateway. For every chunk after
// the first it measures the delivery latency (client arrival - upstream flush) and the added gap
// (the gap between two chunks at the client minus the same gap at the upstream), and reports the
// p50/p99 of each per target and what the proxy and the gateway add to the direct figures.
func BenchmarkInterChunkGap(b *testing.B) {
	flushes := &flushLog{}
	script := upstreamtest.Gemini(upstreamtest.Texts(20, 64)...).Paced(time.Millisecond)
	benchChunkGap(b, latencyTargetsWrapped(b, script, flushes.wrap), flushes, (*target).stream, nil)
}

// benchChunkGap runs b.N rounds of one stream through each target in turn (before, when set, runs
// ahead of each) and reports, for every frame after the first, its delivery latency and added gap
// against the fake's flushes.
func benchChunkGap(b *testing.B, targets []*target, flushes *flushLog, stream streamFunc, before func()) {
	latency := make([][]time.Duration, len(targets))
	gaps := make([][]time.Duration, len(targets))
	var arrivals []time.Time
	b.ResetTimer()
	for range b.N {
		for i, tg := range targets {
			flushes.reset()
			if before != nil {
				before()
			}
			_, arrivals = stream(tg, b, arrivals)
			sent := flushes.get()
			require.GreaterOrEqual(b, len(sent), len(arrivals))
			for k := 1; k < len(arrivals); k++ { // the first chunk is TTFB's business
				latency[i] = append(latency[i], arrivals[k].Sub(sent[k]))
				gaps[i] = append(gaps[i], arrivals[k].Sub(arrivals[k-1])-sent[k].Sub(sent[k-1]))
			}
		}
	}
	b.StopTimer()
	report(b, targets, latency, "chunk_latency")
	report(b, targets, gaps, "gap")
}

// flushLog records when the fake flushed each write of the current request.
type flushLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *flushLog) reset() {
	l.mu.Lock()
	l.times = l.times[:0]
	l.mu.Unlock()
}

func (l *flushLog) get() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.times)
}

func (l *flushLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&flushRecorder{ResponseWriter: w, log: l}, r)
	})
}

// flushRecorder timestamps every flush of a response: the fake flushes once per event.
type flushRecorder struct {
	http.ResponseWriter
	log *flushLog
}

// FlushError records the time just before the flush's write, when the data leaves the fake.
func (f *flushRecorder) FlushError() error {
	now := time.Now()
	f.log.mu.Lock()
	f.log.times = append(f.log.times, now)
	f.log.mu.Unlock()
	return http.NewResponseController(f.ResponseWriter).Flush()
}

func (f *flushRecorder) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// report adds p50 and p99 per target and the p50/p99 each path adds to the direct one.
func report(b *testing.B, targets []*target, samples [][]time.Duration, what string) {
	direct50, direct99 := percentile(samples[0], 0.50), percentile(samples[0], 0.99)
	for i, tg := range targets {
		p50, p99 := percentile(samples[i], 0.50), percentile(samples[i], 0.99)
		b.ReportMetric(micros(p50), tg.name+"_"+what+"_p50_us")
		b.ReportMetric(micros(p99), tg.name+"_"+what+"_p99_us")
		if i > 0 {
			b.ReportMetric(micros(p50-direct50), tg.name+"_added_"+what+"_p50_us")
			b.ReportMetric(micros(p99-direct99), tg.name+"_added_"+what+"_p99_us")
		}
	}
}
