package upstream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/internal/testmetrics"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

var _ upstream.Metrics = (*telemetry.Metrics)(nil)

func newMetrics(t *testing.T) *telemetry.Metrics {
	t.Helper()
	m, err := telemetry.NewMetrics(telemetry.MetricsConfig{MaxModels: telemetry.DefaultMaxModels})
	require.NoError(t, err)
	return m
}

// upstreamMetrics are the metrics a runner records.
var upstreamMetrics = []string{
	"streamgate_upstream_requests_total", "streamgate_upstream_retries_total",
	"streamgate_upstream_time_to_first_chunk_seconds", "streamgate_upstream_request_duration_seconds",
	"streamgate_time_per_output_chunk_seconds", "streamgate_tokens_total",
	"streamgate_chunks_total", "streamgate_chunk_bytes_total",
}

// sourced creates a stream labelled as the gateway's Gemini route labels its streams.
func (e *env) sourced() string {
	e.t.Helper()
	id, err := e.m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelSource: "gemini"}})
	require.NoError(e.t, err)
	return id
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestRunRecordsMetrics(t *testing.T) {
	reply := upstreamtest.Gemini("Hello ", "streaming world")
	chunks := reply.Events()
	bytes := strconv.Itoa(len(chunks[0]) + len(chunks[1]))
	const model = `model="gemini-2.5-flash",provider="gemini"`
	// Tokens: the fake's usageMetadata, 4 prompt tokens and one per word of the reply.
	completed := []string{
		`streamgate_chunk_bytes_total ` + bytes,
		`streamgate_chunks_total{source="gemini"} 2`,
		`streamgate_time_per_output_chunk_seconds_count{` + model + `} 1`,
		`streamgate_tokens_total{` + model + `,type="input"} 4`,
		`streamgate_tokens_total{` + model + `,type="output"} 3`,
		`streamgate_upstream_request_duration_seconds_count{` + model + `} 1`,
		`streamgate_upstream_time_to_first_chunk_seconds_count{` + model + `} 1`,
	}
	for _, tc := range []struct {
		name    string
		base    func(e *env) string // the fake's URL, or where there is none
		enqueue []upstreamtest.Script
		want    []string // but the _sum lines, which depend on the clock
	}{
		{"completed", nil, nil, append([]string{
			`streamgate_upstream_requests_total{code="200",provider="gemini"} 1`,
		}, completed...)},
		{"retried 503", nil, []upstreamtest.Script{upstreamtest.Error(503, "overloaded")}, append([]string{
			`streamgate_upstream_requests_total{code="200",provider="gemini"} 1`,
			`streamgate_upstream_requests_total{code="503",provider="gemini"} 1`,
			`streamgate_upstream_retries_total{provider="gemini"} 1`,
		}, completed...)},
		{"400", nil, []upstreamtest.Script{upstreamtest.Error(400, "bad request")}, []string{
			`streamgate_chunk_bytes_total 0`, // a metric without labels is always there
			`streamgate_upstream_request_duration_seconds_count{model="other",provider="gemini"} 1`,
			`streamgate_upstream_requests_total{code="400",provider="gemini"} 1`,
		}},
		{"no response", func(*env) string { return "http://" + closedAddr(t) }, nil, []string{
			`streamgate_chunk_bytes_total 0`,
			`streamgate_upstream_request_duration_seconds_count{model="other",provider="gemini"} 1`,
			`streamgate_upstream_requests_total{code="error",provider="gemini"} 4`,
			`streamgate_upstream_retries_total{provider="gemini"} 3`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, reply)
			e.fake.Enqueue(tc.enqueue...)
			base := e.baseURL
			if tc.base != nil {
				base = tc.base(e)
			}
			metrics := newMetrics(t)
			r := e.runner(e.geminiAt(base), upstream.RunnerConfig{Metrics: metrics})
			id := e.sourced()
			require.NoError(t, r.Run(ctx, id, geminiReq))
			require.Equal(t, slices.Sorted(slices.Values(tc.want)), withoutSums(testmetrics.Samples(t, metrics.Registry(), upstreamMetrics...)))
		})
	}
}

func TestGenerateRecordsMetrics(t *testing.T) {
	reply := upstreamtest.Gemini("one answer in four words")
	e := newEnv(t, reply)
	e.fake.Enqueue(upstreamtest.Error(503, "overloaded"))
	metrics := newMetrics(t)
	resp, err := e.runner(e.gemini(), upstream.RunnerConfig{Metrics: metrics}).Generate(ctx, geminiReq)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	const model = `model="gemini-2.5-flash",provider="gemini"`
	require.Equal(t, []string{
		`streamgate_chunk_bytes_total 0`,
		`streamgate_tokens_total{` + model + `,type="input"} 4`,
		`streamgate_tokens_total{` + model + `,type="output"} 5`,
		`streamgate_upstream_request_duration_seconds_count{` + model + `} 1`,
		`streamgate_upstream_requests_total{code="200",provider="gemini"} 1`,
		`streamgate_upstream_requests_total{code="503",provider="gemini"} 1`,
		`streamgate_upstream_retries_total{provider="gemini"} 1`,
		`streamgate_upstream_time_to_first_chunk_seconds_count{` + model + `} 1`,
	}, withoutSums(testmetrics.Samples(t, metrics.Registry(), upstreamMetrics...)))
}

// withoutSums drops the _sum lines of histograms.
func withoutSums(lines []string) []string {
	var out []string
	for _, l := range lines {
		if name, _, _ := strings.Cut(l, "{"); !strings.HasSuffix(name, "_sum") {
			out = append(out, l)
		}
	}
	return out
}

// tracing returns a tracer provider that records every ended span.
func tracing(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// attrs returns a span's attributes by key.
func attrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	out := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = kv.Value
	}
	return out
}

// traceparent is the W3C header of a sampled span.
func traceparent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())
}

func TestRunTracesEachAttemptAndPropagates(t *testing.T) {
	reply := upstreamtest.Gemini("traced ", "reply")
	e := newEnv(t, reply)
	e.fake.Enqueue(upstreamtest.Error(503, "overloaded"))
	tp, exp := tracing(t)
	r := e.runner(e.gemini(), upstream.RunnerConfig{TracerProvider: tp, Propagator: propagation.TraceContext{}})

	// The gateway's server span, and a context detached from its request as the gateway's is.
	reqCtx, server := tp.Tracer("test").Start(ctx, "POST /v1beta/models/:modelAction", trace.WithSpanKind(trace.SpanKindServer))
	runCtx := upstream.WithRequestID(context.WithoutCancel(reqCtx), "req-7f3a")
	id := e.sourced()
	require.NoError(t, r.Run(runCtx, id, geminiReq))
	server.End()

	spans := exp.GetSpans()
	require.Len(t, spans, 3, "two attempts and the server span")
	parent := server.SpanContext()
	reqs := e.fake.Requests()
	require.Len(t, reqs, 2)
	for i, s := range spans[:2] {
		require.Equal(t, "generate_content gemini-2.5-flash", s.Name)
		require.Equal(t, trace.SpanKindClient, s.SpanKind)
		require.Equal(t, parent.TraceID(), s.SpanContext.TraceID())
		require.Equal(t, parent.SpanID(), s.Parent.SpanID(), "a child of the server span")
		require.Equal(t, traceparent(s.SpanContext), reqs[i].Header.Get("traceparent"), "attempt %d carries its own span", i+1)
		require.Equal(t, "req-7f3a", reqs[i].Header.Get("X-Request-Id"))
		a := attrs(s.Attributes)
		require.Equal(t, "generate_content", a[telemetry.AttrOperationName].AsString())
		require.Equal(t, telemetry.ProviderGemini, a[telemetry.AttrProviderName].AsString())
		require.Equal(t, "gemini-2.5-flash", a[telemetry.AttrRequestModel].AsString())
		require.Equal(t, id, a[telemetry.AttrStreamID].AsString())
		require.Equal(t, int64(i+1), a[telemetry.AttrAttempt].AsInt64())
	}

	failed, ok := spans[0], spans[1]
	a := attrs(failed.Attributes)
	require.Equal(t, int64(503), a[telemetry.AttrHTTPStatusCode].AsInt64())
	require.Equal(t, "503", a[telemetry.AttrErrorType].AsString())
	require.Equal(t, codes.Error, failed.Status.Code)
	require.Len(t, failed.Events, 1)
	require.Equal(t, telemetry.EventRetry, failed.Events[0].Name)
	require.Equal(t, map[attribute.Key]attribute.Value{
		telemetry.AttrAttempt:        attribute.IntValue(2),
		telemetry.AttrHTTPStatusCode: attribute.IntValue(503),
	}, attrs(failed.Events[0].Attributes))

	a = attrs(ok.Attributes)
	require.Equal(t, int64(200), a[telemetry.AttrHTTPStatusCode].AsInt64())
	require.NotContains(t, a, telemetry.AttrErrorType)
	require.Equal(t, codes.Unset, ok.Status.Code)
	require.Equal(t, "fake-response", a[telemetry.AttrResponseID].AsString())
	require.Equal(t, []string{"STOP"}, a[telemetry.AttrFinishReasons].AsStringSlice())
	require.Equal(t, int64(4), a[telemetry.AttrInputTokens].AsInt64())
	require.Equal(t, int64(2), a[telemetry.AttrOutputTokens].AsInt64())
	require.Len(t, ok.Events, 1)
	require.Equal(t, telemetry.EventFirstChunk, ok.Events[0].Name)
}

func TestGenerateTracesAndPropagates(t *testing.T) {
	e := newEnv(t, upstreamtest.Gemini("whole answer"))
	tp, exp := tracing(t)
	r := e.runner(e.gemini(), upstream.RunnerConfig{TracerProvider: tp, Propagator: propagation.TraceContext{}})
	reqCtx, server := tp.Tracer("test").Start(ctx, "server")
	resp, err := r.Generate(upstream.WithRequestID(reqCtx, "req-gen"), geminiReq)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	server.End()

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	s := spans[0]
	require.Equal(t, "generate_content gemini-2.5-flash", s.Name)
	require.Equal(t, server.SpanContext().SpanID(), s.Parent.SpanID())
	req := e.fake.Requests()[0]
	require.Equal(t, traceparent(s.SpanContext), req.Header.Get("traceparent"))
	require.Equal(t, "req-gen", req.Header.Get("X-Request-Id"))
	a := attrs(s.Attributes)
	require.NotContains(t, a, telemetry.AttrStreamID, "no stream")
	require.Equal(t, "fake-response", a[telemetry.AttrResponseID].AsString())
	require.Equal(t, int64(2), a[telemetry.AttrOutputTokens].AsInt64())
}

func TestWithoutTracingTheCallersTraceparentStillReachesTheUpstream(t *testing.T) {
	e := newEnv(t, upstreamtest.Gemini("untraced"))
	r := e.runner(e.gemini(), upstream.RunnerConfig{Propagator: propagation.TraceContext{}})
	tp, _ := tracing(t)
	reqCtx, server := tp.Tracer("test").Start(ctx, "server")
	defer server.End()
	require.NoError(t, r.Run(context.WithoutCancel(reqCtx), e.sourced(), geminiReq))
	req := e.fake.Requests()[0]
	require.Equal(t, traceparent(server.SpanContext()), req.Header.Get("traceparent"))
	require.Empty(t, req.Header.Values("X-Request-Id"), "no request ID in ctx, none sent")
}

// TestStreamEndLogAndDurations runs in a synctest bubble with the fake in-process, so that every
// duration is exact: a 503 asks for a second's wait, then two chunks come 100 ms apart.
func TestStreamEndLogAndDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reply := upstreamtest.Gemini("a ", "b").Paced(100 * time.Millisecond)
		e := newLocalEnv(t, reply)
		e.fake.Enqueue(upstreamtest.Error(503, "overloaded").With("Retry-After", "1"))
		logs := &testlog.Buffer{}
		metrics := newMetrics(t)
		r := e.runner(e.gemini(), upstream.RunnerConfig{Metrics: metrics, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		id := e.sourced()
		require.NoError(t, r.Run(upstream.WithRequestID(ctx, "req-1"), id, geminiReq))

		lines := jsonLines(t, logs.String())
		require.Len(t, lines, 2, "the retry and the end: %s", logs.String())
		retry, end := lines[0], lines[1]
		require.Equal(t, "upstream attempt failed; retrying", retry["msg"])
		require.Equal(t, 1000.0, retry["wait_ms"])
		require.Equal(t, "req-1", retry["request_id"])
		delete(end, "time")
		require.Equal(t, map[string]any{
			"level": "INFO", "msg": "upstream stream ended", "provider": "gemini", "stream_id": id, "request_id": "req-1",
			"model": "gemini-2.5-flash", "status": "completed", "attempts": 2.0, "chunks": 2.0,
			"ttfc_ms": 1100.0, "duration_ms": 1200.0, "input_tokens": 4.0, "output_tokens": 2.0,
		}, end)

		const model = `{model="gemini-2.5-flash",provider="gemini"}`
		require.Equal(t, []string{
			`streamgate_time_per_output_chunk_seconds_count` + model + ` 1`,
			`streamgate_time_per_output_chunk_seconds_sum` + model + ` 0.1`,
			`streamgate_upstream_request_duration_seconds_count` + model + ` 1`,
			`streamgate_upstream_request_duration_seconds_sum` + model + ` 1.2`,
			`streamgate_upstream_time_to_first_chunk_seconds_count` + model + ` 1`,
			`streamgate_upstream_time_to_first_chunk_seconds_sum` + model + ` 1.1`,
		}, testmetrics.Samples(t, metrics.Registry(), "streamgate_upstream_time_to_first_chunk_seconds",
			"streamgate_upstream_request_duration_seconds", "streamgate_time_per_output_chunk_seconds"))
	})
}

func TestStreamEndLogOfAFailure(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(400, "bad request"))
	logs := &testlog.Buffer{}
	r := e.runner(e.gemini(), upstream.RunnerConfig{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	id := e.sourced()
	require.NoError(t, r.Run(ctx, id, geminiReq))
	lines := jsonLines(t, logs.String())
	end := lines[len(lines)-1]
	require.Equal(t, "upstream stream ended", end["msg"])
	require.Equal(t, "error", end["status"])
	require.Equal(t, 400.0, end["code"])
	require.Equal(t, 0.0, end["chunks"])
	require.IsType(t, 0.0, end["duration_ms"])
	require.NotContains(t, end, "ttfc_ms", "no chunk, no time to it")
	require.NotContains(t, end, "input_tokens")
	require.NotContains(t, end, "request_id")
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "%s", sc.Text())
		out = append(out, m)
	}
	return out
}
