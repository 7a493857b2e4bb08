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
}

// latencyTargets returns the three ways to stream from the fake: directly, through a plain
// httputil.ReverseProxy that swaps the key as a gateway would, and through the gateway.
func latencyTargets(b *testing.B, script upstreamtest.Script) []target {
	b.Helper()
	e := newEnv(b, options{
		quiet:   true,
		script:  &script,
		manager: func(c *manager.Config) { c.RetainClosed = time.Second },
		gateway: func(c *gateway.Config) { c.Heartbeat = 0 },
	})
	fakeURL, err := url.Parse(e.fake.URL())
	require.NoError(b, err)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(fakeURL)
			r.Out.Header.Set("x-goog-api-key", upstreamKey)
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		_ = srv.Close()
		proxy.Transport.(*http.Transport).CloseIdleConnections()
	})
	newClient := func() *http.Client {
		tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
		b.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	return []target{
		{"direct", e.fake.URL(), upstreamKey, newClient()},
		{"proxy", "http://" + ln.Addr().String(), aliceKey, newClient()},
		{"gateway", e.url, aliceKey, newClient()},
	}
}

// stream sends one streaming request and returns the arrival time of every frame, measured
// from just before the request was sent.
func (tg target) stream(b *testing.B, arrivals []time.Duration) []time.Duration {
	req, err := http.NewRequest("POST", tg.url+streamPath, strings.NewReader(generateBody))
	require.NoError(b, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-goog-api-key", tg.key)
	start := time.Now()
	resp, err := tg.client.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	arrivals = arrivals[:0]
	for {
		line, err := r.ReadSlice('\n')
		if err == io.EOF {
			return arrivals
		}
		require.NoError(b, err)
		if bytes.Equal(line, []byte("\r\n")) {
			arrivals = append(arrivals, time.Since(start))
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
	targets := latencyTargets(b, upstreamtest.Gemini(defaultTexts...))
	ttfb := make([][]time.Duration, len(targets))
	var arrivals []time.Duration
	for _, tg := range targets { // warm the connection pools
		arrivals = tg.stream(b, arrivals)
	}
	b.ResetTimer()
	for range b.N {
		for i, tg := range targets {
			arrivals = tg.stream(b, arrivals)
			ttfb[i] = append(ttfb[i], arrivals[0])
		}
	}
	b.StopTimer()
	report(b, targets, ttfb, "ttfb")
}

// BenchmarkInterChunkGap streams 20 chunks paced 1 ms apart by the fake and compares the gaps
// between consecutive frames as the client sees them, directly, through the reverse proxy and
// through the gateway: the added gap is what the path adds to the upstream's own spacing.
func BenchmarkInterChunkGap(b *testing.B) {
	targets := latencyTargets(b, upstreamtest.Gemini(upstreamtest.Texts(20, 64)...).Paced(time.Millisecond))
	gaps := make([][]time.Duration, len(targets))
	var arrivals []time.Duration
	b.ResetTimer()
	for range b.N {
		for i, tg := range targets {
			arrivals = tg.stream(b, arrivals)
			for k := 2; k < len(arrivals); k++ { // the first gap includes the first event's delay
				gaps[i] = append(gaps[i], arrivals[k]-arrivals[k-1])
			}
		}
	}
	b.StopTimer()
	report(b, targets, gaps, "gap")
}

// report adds p50 and p99 per target and the p50/p99 each path adds to the direct one.
func report(b *testing.B, targets []target, samples [][]time.Duration, what string) {
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
