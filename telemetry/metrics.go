package telemetry

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ErrInvalidConfig is wrapped by the errors of NewMetrics, NewModelLabels and NewTracing for a
// configuration they refuse.
var ErrInvalidConfig = errors.New("invalid telemetry config")

// Label values Metrics sets itself.
const (
	// OtherModel is the model label of every model ModelLabels does not admit.
	OtherModel = "other"
	// CodeError is the code label of an upstream attempt that got no HTTP response (a
	// connection failure, a timeout before the status line).
	CodeError = "error"
	// TokenInput and TokenOutput are the type label of streamgate_tokens_total.
	TokenInput  = "input"
	TokenOutput = "output"
)

// DefaultMaxModels is the default of MetricsConfig.MaxModels and telemetry.max_models.
const DefaultMaxModels = 100

// Histogram buckets, in seconds. docs/operations.md lists them with each metric.
var (
	// firstChunkBuckets are the GenAI semantic conventions' advice for
	// gen_ai.server.time_to_first_token, with 30 s and 60 s added: upstream.timeouts.first_event
	// defaults to a minute, and a slow first chunk is what this histogram is for.
	firstChunkBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60}
	// requestDurationBuckets are the GenAI advice for gen_ai.client.operation.duration (powers of
	// two from 10 ms), extended by two more steps to about five and a half minutes, because a
	// streamed generation lasts as long as its answer.
	requestDurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68}
	// chunkIntervalBuckets are the GenAI advice for gen_ai.server.time_per_output_token; a chunk
	// carries several tokens, so the upper buckets matter more here.
	chunkIntervalBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5}
	// httpDurationBuckets run from 5 ms for the JSON routes to 10 minutes for SSE subscriptions,
	// whose request lasts as long as the client listens.
	httpDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	// leaseLeftBuckets span the cluster leases worth running, from cluster.MinLease's 100 ms to
	// 30 s: a punctual refresh leaves two thirds of the lease, and the low buckets show how near
	// a late one came to lapsing.
	leaseLeftBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30}
)

// MetricsConfig configures NewMetrics.
type MetricsConfig struct {
	// Models are always admitted as values of the model label (telemetry.models).
	Models []string
	// MaxModels is how many more models are admitted, in the order the upstream first serves
	// them (telemetry.max_models); 0 admits only Models. It must not be negative.
	MaxModels int
	// Build is exported as streamgate_build_info. The zero value means ReadBuildInfo().
	Build BuildInfo
}

// Metrics holds every streamgate_ metric on a registry of its own, with the Go and process
// collectors. Its methods are safe for concurrent use; each records one event and is meant to be
// called through an interface the calling package declares.
type Metrics struct {
	registry *prometheus.Registry
	models   *ModelLabels

	streamsActive children[streamKey, prometheus.Gauge]
	streamsTotal  children[streamStatusKey, prometheus.Counter]
	subscribers   children[string, prometheus.Gauge]
	slowClients   prometheus.Counter
	chunks        children[string, prometheus.Counter]
	chunkBytes    prometheus.Counter

	upstreamRequests children[codeKey, prometheus.Counter]
	upstreamRetries  children[string, prometheus.Counter]
	firstChunk       children[modelKey, prometheus.Observer]
	upstreamDuration children[modelKey, prometheus.Observer]
	chunkInterval    children[modelKey, prometheus.Observer]
	tokens           children[tokenKey, prometheus.Counter]

	httpRequests children[codeKey, prometheus.Counter]
	httpDuration children[string, prometheus.Observer]

	pluginUp       children[string, prometheus.Gauge]
	pluginRestarts children[string, prometheus.Counter]

	leaseLeft     prometheus.Histogram
	leaseFailures prometheus.Counter
	leaseHeld     *prometheus.GaugeVec // no labels: absent until cluster mode sets it
	streamsSwept  prometheus.Counter

	retained atomic.Pointer[func() (int64, int)]
}

// Keys of the label children caches.
type (
	streamKey       struct{ kind, source string }
	streamStatusKey struct{ kind, source, status string }
	// codeKey keys a (provider or route, status code) pair.
	codeKey struct {
		name string
		code int
	}
	modelKey struct{ provider, model string }
	tokenKey struct{ provider, model, typ string }
)

// NewMetrics registers every metric on a new registry.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	models, err := NewModelLabels(cfg.Models, cfg.MaxModels)
	if err != nil {
		return nil, err
	}
	if cfg.Build == (BuildInfo{}) {
		cfg.Build = ReadBuildInfo()
	}
	m := &Metrics{registry: prometheus.NewRegistry(), models: models}
	f := factory{reg: m.registry}

	active := f.gaugeVec("streamgate_streams_active", "Streams open now.", "kind", "source")
	m.streamsActive.init(func(k streamKey) prometheus.Gauge { return active.WithLabelValues(labelValues(k.kind, k.source)...) })
	total := f.counterVec("streamgate_streams_total", "Streams closed, by their status at close.", "kind", "source", "status")
	m.streamsTotal.init(func(k streamStatusKey) prometheus.Counter {
		return total.WithLabelValues(labelValues(k.kind, k.source, k.status)...)
	})
	subs := f.gaugeVec("streamgate_subscribers", "Subscribers attached now, by the route they came through.", "route")
	m.subscribers.init(func(route string) prometheus.Gauge { return subs.WithLabelValues(labelValues(route)...) })
	m.slowClients = f.counter("streamgate_slow_clients_total", "Subscribers dropped because their queue overflowed.")
	chunks := f.counterVec("streamgate_chunks_total", "Chunks pushed into streams.", "source")
	m.chunks.init(func(source string) prometheus.Counter { return chunks.WithLabelValues(labelValues(source)...) })
	m.chunkBytes = f.counter("streamgate_chunk_bytes_total", "Bytes of chunk data pushed into streams.")

	attempts := f.counterVec("streamgate_upstream_requests_total", "Upstream attempts, by HTTP status (error: no response).", "provider", "code")
	m.upstreamRequests.init(func(k codeKey) prometheus.Counter {
		return attempts.WithLabelValues(labelValues(k.name, codeLabel(k.code))...)
	})
	retries := f.counterVec("streamgate_upstream_retries_total", "Upstream attempts that were retries of a failed one.", "provider")
	m.upstreamRetries.init(func(provider string) prometheus.Counter { return retries.WithLabelValues(labelValues(provider)...) })
	ttfc := f.histogramVec("streamgate_upstream_time_to_first_chunk_seconds", "From the first attempt to the first chunk of a generation.", firstChunkBuckets, "provider", "model")
	m.firstChunk.init(func(k modelKey) prometheus.Observer { return ttfc.WithLabelValues(labelValues(k.provider, k.model)...) })
	duration := f.histogramVec("streamgate_upstream_request_duration_seconds", "From the first attempt to the end of a generation, retries included, whatever the outcome.", requestDurationBuckets, "provider", "model")
	m.upstreamDuration.init(func(k modelKey) prometheus.Observer {
		return duration.WithLabelValues(labelValues(k.provider, k.model)...)
	})
	perChunk := f.histogramVec("streamgate_time_per_output_chunk_seconds", "Mean interval between the chunks of a generation after the first.", chunkIntervalBuckets, "provider", "model")
	m.chunkInterval.init(func(k modelKey) prometheus.Observer {
		return perChunk.WithLabelValues(labelValues(k.provider, k.model)...)
	})
	tokens := f.counterVec("streamgate_tokens_total", "Tokens reported by the final usage of generations (Gemini usageMetadata, an OpenAI usage chunk).", "provider", "model", "type")
	m.tokens.init(func(k tokenKey) prometheus.Counter {
		return tokens.WithLabelValues(labelValues(k.provider, k.model, k.typ)...)
	})

	requests := f.counterVec("streamgate_http_requests_total", "HTTP requests answered, by route template and status.", "route", "code")
	m.httpRequests.init(func(k codeKey) prometheus.Counter {
		return requests.WithLabelValues(labelValues(k.name, codeLabel(k.code))...)
	})
	httpDur := f.histogramVec("streamgate_http_request_duration_seconds", "HTTP request durations, by route template; SSE routes last as long as the client listens.", httpDurationBuckets, "route")
	m.httpDuration.init(func(route string) prometheus.Observer { return httpDur.WithLabelValues(labelValues(route)...) })

	up := f.gaugeVec("streamgate_plugin_up", "1 when the plugin process is serving, 0 when it is down or restarting.", "plugin")
	m.pluginUp.init(func(name string) prometheus.Gauge { return up.WithLabelValues(labelValues(name)...) })
	restarts := f.counterVec("streamgate_plugin_restarts_total", "Plugin process restarts.", "plugin")
	m.pluginRestarts.init(func(name string) prometheus.Counter { return restarts.WithLabelValues(labelValues(name)...) })

	m.leaseLeft = f.histogram("streamgate_cluster_lease_left_seconds", "Time left on this replica's cluster lease at each refresh Redis accepted.", leaseLeftBuckets)
	m.leaseFailures = f.counter("streamgate_cluster_lease_refresh_failures_total", "Attempts to refresh or take this replica's cluster lease that failed.")
	m.leaseHeld = f.gaugeVec("streamgate_cluster_lease_held", "1 while this replica holds its cluster lease (it is ready), 0 while it does not; absent outside cluster mode.")
	m.streamsSwept = f.counter("streamgate_cluster_streams_swept_total", "Streams of lost replicas (their lease lapsed) that this replica's sweep ended.")

	f.register(retainedCollector{m})
	build := f.gaugeVec("streamgate_build_info", "Always 1; the labels describe the running binary.", "version", "revision", "goversion")
	build.WithLabelValues(labelValues(cfg.Build.Version, cfg.Build.Revision, cfg.Build.GoVersion)...).Set(1)
	f.register(collectors.NewGoCollector())
	f.register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if f.err != nil {
		return nil, f.err
	}
	return m, nil
}

// Registry returns the registry the metrics are on, to gather them or to register more.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Models returns the model label cap the metrics use.
func (m *Metrics) Models() *ModelLabels { return m.models }

// Handler serves the registry in the Prometheus text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.registry, // counts promhttp_metric_handler_errors_total
	})
}

// StreamOpened counts a stream opened: kind is generate or push, source the route that made it.
func (m *Metrics) StreamOpened(kind, source string) {
	m.streamsActive.get(streamKey{kind, source}).Inc()
}

// StreamClosed counts a stream closed with status (completed, error, cancelled, ...); it pairs
// with one StreamOpened of the same kind and source.
func (m *Metrics) StreamClosed(kind, source, status string) {
	m.streamsActive.get(streamKey{kind, source}).Dec()
	m.streamsTotal.get(streamStatusKey{kind, source, status}).Inc()
}

// SubscriberJoined counts a subscriber attached through route (events, gemini, plugin) until the
// returned leave is called; calling leave more than once counts it out once.
func (m *Metrics) SubscriberJoined(route string) (leave func()) {
	g := m.subscribers.get(route)
	g.Inc()
	var left atomic.Bool
	return func() {
		if left.CompareAndSwap(false, true) {
			g.Dec()
		}
	}
}

// SlowClient counts a subscriber dropped because its queue overflowed.
func (m *Metrics) SlowClient() { m.slowClients.Inc() }

// ChunkPushed counts one chunk of bytes bytes pushed into a stream of source.
func (m *Metrics) ChunkPushed(source string, bytes int) {
	m.chunks.get(source).Inc()
	if bytes > 0 {
		m.chunkBytes.Add(float64(bytes))
	}
}

// UpstreamAttempt counts one upstream attempt that ended with HTTP status code, or with no
// response when code is 0 or less.
func (m *Metrics) UpstreamAttempt(provider string, code int) {
	m.upstreamRequests.get(codeKey{provider, max(code, 0)}).Inc()
}

// UpstreamRetry counts one attempt that retries a failed one.
func (m *Metrics) UpstreamRetry(provider string) { m.upstreamRetries.get(provider).Inc() }

// FirstChunk records the time from the first attempt to the first chunk of a generation. It is
// the call that admits model as a label value (see ModelLabels.Admit): a model counts as seen
// once the upstream has served it, so names the upstream rejects never take a slot.
func (m *Metrics) FirstChunk(provider, model string, d time.Duration) {
	m.firstChunk.get(modelKey{provider, m.models.Admit(model)}).Observe(d.Seconds())
}

// UpstreamDone records a finished generation, whatever its outcome: total is the time from the
// first attempt to the end, ttfc the time to its first chunk and chunks the number of chunks. With
// two chunks or more it also records the mean interval between them, (total-ttfc)/(chunks-1).
func (m *Metrics) UpstreamDone(provider, model string, ttfc, total time.Duration, chunks int) {
	k := modelKey{provider, m.models.Label(model)}
	m.upstreamDuration.get(k).Observe(total.Seconds())
	if chunks >= 2 && total >= ttfc {
		m.chunkInterval.get(k).Observe((total - ttfc).Seconds() / float64(chunks-1))
	}
}

// Tokens adds the token counts of a generation's final usage (Gemini usageMetadata, an OpenAI
// usage chunk).
func (m *Metrics) Tokens(provider, model string, input, output int) {
	model = m.models.Label(model)
	if input > 0 {
		m.tokens.get(tokenKey{provider, model, TokenInput}).Add(float64(input))
	}
	if output > 0 {
		m.tokens.get(tokenKey{provider, model, TokenOutput}).Add(float64(output))
	}
}

// HTTPRequest counts one HTTP request answered with code after d; route is the route template
// ("/v1/streams/:id/events"), never the raw path.
func (m *Metrics) HTTPRequest(route string, code int, d time.Duration) {
	m.httpRequests.get(codeKey{route, code}).Inc()
	m.httpDuration.get(route).Observe(d.Seconds())
}

// PluginUp records whether the plugin's process is serving.
func (m *Metrics) PluginUp(name string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.pluginUp.get(name).Set(v)
}

// PluginRestart counts one restart of the plugin's process.
func (m *Metrics) PluginRestart(name string) { m.pluginRestarts.get(name).Inc() }

// LeaseRefreshed records the time left on the cluster lease at a refresh Redis accepted.
func (m *Metrics) LeaseRefreshed(left time.Duration) { m.leaseLeft.Observe(left.Seconds()) }

// LeaseRefreshFailed counts one failed attempt to refresh or take the cluster lease.
func (m *Metrics) LeaseRefreshFailed() { m.leaseFailures.Inc() }

// LeaseHeld records whether this replica holds its cluster lease. The gauge appears with the
// first call, so that a gateway outside cluster mode does not look like a replica that is not
// ready.
func (m *Metrics) LeaseHeld(held bool) {
	v := 0.0
	if held {
		v = 1
	}
	m.leaseHeld.WithLabelValues().Set(v)
}

// StreamsSwept counts n streams of lost replicas that a sweep ended.
func (m *Metrics) StreamsSwept(n int) {
	if n > 0 {
		m.streamsSwept.Add(float64(n))
	}
}

// ObserveRetained makes streamgate_retained_bytes and streamgate_retained_streams report what
// fn returns, called once per scrape; until then, and after the returned undo, they report 0.
// A later registration replaces an earlier one, whose undo then does nothing.
func (m *Metrics) ObserveRetained(fn func() (bytes int64, streams int)) (undo func()) {
	p := &fn
	m.retained.Store(p)
	return func() { m.retained.CompareAndSwap(p, nil) }
}

// codeLabel renders a status code label; 0 is an attempt without a response.
func codeLabel(code int) string {
	if code <= 0 {
		return CodeError
	}
	return strconv.Itoa(code)
}

var (
	retainedBytesDesc   = prometheus.NewDesc("streamgate_retained_bytes", "Bytes of chunk history the manager retains, open and closed streams alike.", nil, nil)
	retainedStreamsDesc = prometheus.NewDesc("streamgate_retained_streams", "Streams the manager retains, open or closed and still replayable.", nil, nil)
)

// retainedCollector reports the ObserveRetained callback, calling it once per scrape so that the
// two gauges describe the same moment.
type retainedCollector struct{ m *Metrics }

func (c retainedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- retainedBytesDesc
	ch <- retainedStreamsDesc
}

func (c retainedCollector) Collect(ch chan<- prometheus.Metric) {
	var bytes int64
	var streams int
	if fn := c.m.retained.Load(); fn != nil && *fn != nil {
		bytes, streams = (*fn)()
	}
	ch <- prometheus.MustNewConstMetric(retainedBytesDesc, prometheus.GaugeValue, float64(bytes))
	ch <- prometheus.MustNewConstMetric(retainedStreamsDesc, prometheus.GaugeValue, float64(streams))
}

// factory creates and registers metrics, keeping the first registration error.
type factory struct {
	reg *prometheus.Registry
	err error
}

func (f *factory) register(c prometheus.Collector) {
	if err := f.reg.Register(c); err != nil && f.err == nil {
		f.err = fmt.Errorf("telemetry: register metric: %w", err)
	}
}

func (f *factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.register(c)
	return c
}

func (f *factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.register(h)
	return h
}

func (f *factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.register(c)
	return c
}

func (f *factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.register(g)
	return g
}

func (f *factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.register(h)
	return h
}
