package telemetry_test

import (
	"bufio"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/telemetry"
)

var update = flag.Bool("update", false, "rewrite testdata/scrape.txt from the test's scrape")

var testBuild = telemetry.BuildInfo{Version: "v1.2.3", Revision: "0123abcd", GoVersion: "go1.26.8"}

func newMetrics(t testing.TB, cfg telemetry.MetricsConfig) *telemetry.Metrics {
	t.Helper()
	if cfg.Build == (telemetry.BuildInfo{}) {
		cfg.Build = testBuild
	}
	m, err := telemetry.NewMetrics(cfg)
	require.NoError(t, err)
	return m
}

// scrape GETs the metrics handler over a real server and returns the body.
func scrape(t *testing.T, h http.Handler) (http.Header, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.Header, string(body)
}

// streamgateLines keeps the lines of a scrape about streamgate_ metrics.
func streamgateLines(body string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if strings.HasPrefix(name, "streamgate_") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// traffic is the scripted mix the scrape test and docs/operations.md's sample describe: a
// completed generation of three chunks after a retried 503, a generation refused with 400, a
// push stream, a slow client, a plugin restart, and a cluster replica whose lease was refreshed
// on time, then late after a failed attempt, then lapsed and was taken again, and whose sweep
// ended two streams of a lost replica.
func traffic(m *telemetry.Metrics) {
	m.StreamOpened("generate", "gemini")
	leave := m.SubscriberJoined("gemini")
	m.UpstreamAttempt("gemini", 503)
	m.UpstreamRetry("gemini")
	m.UpstreamAttempt("gemini", 200)
	m.FirstChunk("gemini", "gemini-2.5-flash", 750*time.Millisecond)
	for _, n := range []int{100, 200, 300} {
		m.ChunkPushed("gemini", n)
	}
	m.Tokens("gemini", "gemini-2.5-flash", 12, 34)
	m.UpstreamDone("gemini", "gemini-2.5-flash", 750*time.Millisecond, 1250*time.Millisecond, 3)
	m.StreamClosed("generate", "gemini", "completed")
	leave()
	leave() // a second leave counts nothing
	m.HTTPRequest("/v1beta/models/:modelAction", 200, 1500*time.Millisecond)

	m.StreamOpened("generate", "gemini")
	m.UpstreamAttempt("gemini", 400)
	m.UpstreamDone("gemini", "no-such-model", 0, 20*time.Millisecond, 0)
	m.StreamClosed("generate", "gemini", "error")
	m.HTTPRequest("/v1beta/models/:modelAction", 400, 25*time.Millisecond)

	m.StreamOpened("push", "api")
	m.HTTPRequest("/v1/streams", 201, 2*time.Millisecond)
	m.ChunkPushed("api", 10)
	m.HTTPRequest("/v1/streams/:id/chunks", 202, time.Millisecond)
	m.SubscriberJoined("events")
	m.SlowClient()
	m.HTTPRequest("/v1/streams/:id/events", 200, 3*time.Second)

	m.PluginUp("jsonl", true)
	m.PluginUp("jsonl", false)
	m.PluginRestart("jsonl")
	m.PluginUp("jsonl", true)
	m.HTTPRequest("/healthz", 200, 0)

	m.LeaseHeld(true)
	m.LeaseRefreshed(1333 * time.Millisecond)
	m.LeaseRefreshFailed()
	m.LeaseRefreshed(40 * time.Millisecond)
	m.LeaseRefreshFailed()
	m.LeaseHeld(false)
	m.LeaseHeld(true)
	m.StreamsSwept(2)
	m.StreamsSwept(0)
}

func TestScrapeAfterTraffic(t *testing.T) {
	m := newMetrics(t, telemetry.MetricsConfig{Models: []string{"gemini-2.5-pro"}, MaxModels: 100})
	traffic(m)
	undo := m.ObserveRetained(func() (int64, int) { return 4096, 2 })
	defer undo()

	header, body := scrape(t, m.Handler())
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", header.Get("Content-Type"))
	got := streamgateLines(body)
	if *update {
		require.NoError(t, os.WriteFile("testdata/scrape.txt", []byte(got), 0o644))
	}
	want, err := os.ReadFile("testdata/scrape.txt")
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		assert.Contains(t, body, "\n# TYPE "+name+" ", "the Go and process collectors are registered")
	}
}

func TestRetainedFollowsRegistration(t *testing.T) {
	m := newMetrics(t, telemetry.MetricsConfig{})
	gauges := func() string {
		return "# HELP streamgate_retained_bytes Bytes of chunk history the manager retains, open and closed streams alike.\n" +
			"# TYPE streamgate_retained_bytes gauge\n"
	}
	check := func(bytes, streams string) {
		t.Helper()
		want := gauges() + "streamgate_retained_bytes " + bytes + "\n" +
			"# HELP streamgate_retained_streams Streams the manager retains, open or closed and still replayable.\n" +
			"# TYPE streamgate_retained_streams gauge\n" +
			"streamgate_retained_streams " + streams + "\n"
		assert.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
			"streamgate_retained_bytes", "streamgate_retained_streams"))
	}
	check("0", "0")
	undo1 := m.ObserveRetained(func() (int64, int) { return 10, 1 })
	check("10", "1")
	undo2 := m.ObserveRetained(func() (int64, int) { return 20, 2 })
	undo1() // replaced already: does nothing
	check("20", "2")
	undo2()
	check("0", "0")
	m.ObserveRetained(nil)
	check("0", "0")
}

// A label value from a request that is not UTF-8 is repaired instead of panicking in
// client_golang.
func TestInvalidUTF8LabelValue(t *testing.T) {
	m := newMetrics(t, telemetry.MetricsConfig{})
	m.HTTPRequest("/bad\xff", 404, 0)
	want := `# HELP streamgate_http_requests_total HTTP requests answered, by route template and status.
# TYPE streamgate_http_requests_total counter
streamgate_http_requests_total{code="404",route="/bad` + "\uFFFD" + `"} 1
`
	assert.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "streamgate_http_requests_total"))
}

func TestNewMetricsRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telemetry.MetricsConfig
	}{
		{"negative max models", telemetry.MetricsConfig{MaxModels: -1}},
		{"empty model", telemetry.MetricsConfig{Models: []string{"a", ""}}},
		{"control character", telemetry.MetricsConfig{Models: []string{"a\nb"}}},
		{"too long", telemetry.MetricsConfig{Models: []string{strings.Repeat("m", 129)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telemetry.NewMetrics(tc.cfg)
			assert.ErrorIs(t, err, telemetry.ErrInvalidConfig)
		})
	}
}

// Two registries never collide: nothing is registered globally.
func TestMetricsAreNotGlobal(t *testing.T) {
	a := newMetrics(t, telemetry.MetricsConfig{})
	b := newMetrics(t, telemetry.MetricsConfig{})
	a.SlowClient()
	slow := func(n string) io.Reader {
		return strings.NewReader(`# HELP streamgate_slow_clients_total Subscribers dropped because their queue overflowed.
# TYPE streamgate_slow_clients_total counter
streamgate_slow_clients_total ` + n + "\n")
	}
	assert.NoError(t, testutil.GatherAndCompare(a.Registry(), slow("1"), "streamgate_slow_clients_total"))
	assert.NoError(t, testutil.GatherAndCompare(b.Registry(), slow("0"), "streamgate_slow_clients_total"))
}

func TestBuildInfoMetricFromBinary(t *testing.T) {
	m, err := telemetry.NewMetrics(telemetry.MetricsConfig{})
	require.NoError(t, err)
	b := telemetry.ReadBuildInfo()
	want := `# HELP streamgate_build_info Always 1; the labels describe the running binary.
# TYPE streamgate_build_info gauge
streamgate_build_info{goversion="` + b.GoVersion + `",revision="` + b.Revision + `",version="` + b.Version + `"} 1
`
	assert.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "streamgate_build_info"))
}

// The recording methods allocate nothing once their label children exist.
func TestHotPathsDoNotAllocate(t *testing.T) {
	m := newMetrics(t, telemetry.MetricsConfig{Models: []string{"gemini-2.5-flash"}})
	for name, f := range map[string]func(){
		"ChunkPushed":     func() { m.ChunkPushed("gemini", 512) },
		"HTTPRequest":     func() { m.HTTPRequest("/v1/streams/:id/events", 200, time.Millisecond) },
		"Stream":          func() { m.StreamOpened("generate", "gemini"); m.StreamClosed("generate", "gemini", "completed") },
		"UpstreamAttempt": func() { m.UpstreamAttempt("gemini", 503); m.UpstreamRetry("gemini") },
		"FirstChunk":      func() { m.FirstChunk("gemini", "gemini-2.5-flash", time.Second) },
		"UpstreamDone":    func() { m.UpstreamDone("gemini", "gemini-2.5-flash", time.Second, 2*time.Second, 5) },
		"Tokens":          func() { m.Tokens("gemini", "gemini-2.5-flash", 10, 20) },
		"Plugin":          func() { m.PluginUp("jsonl", true); m.PluginRestart("jsonl") },
		"SlowClient":      m.SlowClient,
	} {
		t.Run(name, func(t *testing.T) {
			f() // creates the children
			assert.Zero(t, testing.AllocsPerRun(100, f))
		})
	}
}

// The benchmarks run each call serially and from every core at once; the parallel figure is
// dominated by the cores contending for the same counter's cache line.
func benchmark(b *testing.B, f func()) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f()
			}
		})
	})
}

func BenchmarkChunkPushed(b *testing.B) {
	m := newMetrics(b, telemetry.MetricsConfig{})
	benchmark(b, func() { m.ChunkPushed("gemini", 512) })
}

func BenchmarkHTTPRequest(b *testing.B) {
	m := newMetrics(b, telemetry.MetricsConfig{})
	benchmark(b, func() { m.HTTPRequest("/v1/streams/:id/events", 200, 3*time.Millisecond) })
}

// BenchmarkWithLabelValues is the client_golang lookup the children cache replaces, for
// comparison with ChunkPushed's one counter.
func BenchmarkWithLabelValues(b *testing.B) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chunks_total"}, []string{"source"})
	benchmark(b, func() { vec.WithLabelValues("gemini").Inc() })
}

// docs/operations.md documents every streamgate_ metric in its table and holds the sample scrape
// as this package's test produces it.
func TestOperationsDocIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	require.NoError(t, err)
	m := newMetrics(t, telemetry.MetricsConfig{Models: []string{"gemini-2.5-pro"}, MaxModels: 100})
	traffic(m)
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "streamgate_") {
			names = append(names, f.GetName())
		}
	}
	assert.Len(t, names, 23)
	for _, name := range names {
		assert.Contains(t, string(doc), "\n| `"+name+"` | ", "docs/operations.md has no row for %s", name)
	}
	sample, err := os.ReadFile("testdata/scrape.txt")
	require.NoError(t, err)
	assert.Contains(t, string(doc), "```\n"+string(sample)+"```\n", "docs/operations.md's sample scrape is not testdata/scrape.txt")
}

// The lease gauge is absent until cluster mode reports it, then follows the last report.
func TestClusterLeaseHeld(t *testing.T) {
	m := newMetrics(t, telemetry.MetricsConfig{})
	_, body := scrape(t, m.Handler())
	assert.NotContains(t, body, "streamgate_cluster_lease_held")
	for _, tc := range []struct {
		name string
		held bool
		want string
	}{
		{"held", true, "streamgate_cluster_lease_held 1\n"},
		{"lost", false, "streamgate_cluster_lease_held 0\n"},
		{"held again", true, "streamgate_cluster_lease_held 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.LeaseHeld(tc.held)
			_, body := scrape(t, m.Handler())
			assert.Contains(t, streamgateLines(body), tc.want)
		})
	}
}
