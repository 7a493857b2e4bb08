package gateway_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// tracedEnv is an env whose gateway records its spans in memory and whose Generator records the
// contexts it is given.
func tracedEnv(t *testing.T) (*env, *tracetest.InMemoryExporter, *ctxRecorder) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	rec := &ctxRecorder{}
	e := newEnv(t, options{gateway: func(c *gateway.Config) {
		c.TracerProvider = tp
		c.Propagator = propagation.TraceContext{}
		rec.Generator = c.Generator
		c.Generator = rec
	}})
	return e, exporter, rec
}

// attrs returns a span's attributes by key.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		out[kv.Key] = kv.Value
	}
	return out
}

// A Gemini-route request continues the caller's trace with a server span named after its route,
// and the runner's context carries that span's context (not the span), so that the upstream
// attempts are its children.
func TestServerSpanContinuesTraceparent(t *testing.T) {
	e, exporter, rec := tracedEnv(t)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := e.request("POST", streamPath, aliceKey, generateBody, "traceparent", "00-"+traceID+"-"+parentID+"-01",
		"User-Agent", "span-test/1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	readAll(t, resp)
	streamID := resp.Header.Get("X-Stream-Id")

	spans := exporter.GetSpans()
	require.Len(t, spans, 1)
	span := spans[0]
	assert.Equal(t, "POST /v1beta/models/:modelAction", span.Name)
	assert.Equal(t, trace.SpanKindServer, span.SpanKind)
	assert.Equal(t, traceID, span.SpanContext.TraceID().String())
	assert.Equal(t, parentID, span.Parent.SpanID().String())
	assert.True(t, span.Parent.IsRemote())
	assert.Equal(t, codes.Unset, span.Status.Code)
	assert.Equal(t, "github.com/streamgate/streamgate/gateway", span.InstrumentationScope.Name)
	got := attrs(span)
	assert.Equal(t, map[attribute.Key]attribute.Value{
		"http.request.method":       attribute.StringValue("POST"),
		"http.route":                attribute.StringValue("/v1beta/models/:modelAction"),
		"url.path":                  attribute.StringValue("/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
		"url.scheme":                attribute.StringValue("http"),
		"client.address":            attribute.StringValue("127.0.0.1"),
		"user_agent.original":       attribute.StringValue("span-test/1"),
		"http.response.status_code": attribute.IntValue(200),
		"streamgate.stream.id":      attribute.StringValue(streamID),
	}, got)

	seen := rec.spans()
	require.Len(t, seen, 1)
	assert.Equal(t, span.SpanContext, seen[0].sc, "the runner's context holds the server span's context")
	assert.False(t, seen[0].recording, "the runner cannot change the server span")
}

// Without a traceparent a request starts a trace; a request no route matches is named by its
// method alone; a 5xx marks the span as an error, a 4xx does not.
func TestServerSpans(t *testing.T) {
	e, exporter, _ := tracedEnv(t)
	for _, tc := range []struct {
		name         string
		method, path string
		key, body    string
		enqueue      *upstreamtest.Script
		status       int
		spanName     string
		route        string
		code         codes.Code
	}{
		{"created", "POST", "/v1/streams", aliceKey, `{}`, nil, 201, "POST /v1/streams", "/v1/streams", codes.Unset},
		{"no key", "GET", "/v1/streams", "", "", nil, 401, "GET /v1/streams", "/v1/streams", codes.Unset},
		{"no route", "GET", "/v2/nowhere?key=secret", "", "", nil, 404, "GET", "", codes.Unset},
		{"invented method", "BREW", "/v1/streams", aliceKey, "", nil, 501, "HTTP", "", codes.Error},
		{"upstream 500", "POST", streamPath, aliceKey, generateBody, &upstreamtest.Script{Status: 500}, 500,
			"POST /v1beta/models/:modelAction", "/v1beta/models/:modelAction", codes.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exporter.Reset()
			if tc.enqueue != nil {
				e.fake.Enqueue(*tc.enqueue)
			}
			status, body := e.do(tc.method, tc.path, tc.key, tc.body)
			require.Equal(t, tc.status, status, string(body))
			spans := exporter.GetSpans()
			require.Len(t, spans, 1)
			span := spans[0]
			assert.Equal(t, tc.spanName, span.Name)
			assert.False(t, span.Parent.IsValid(), "a root span")
			assert.Equal(t, tc.code, span.Status.Code)
			got := attrs(span)
			assert.Equal(t, attribute.IntValue(tc.status), got["http.response.status_code"])
			if tc.route == "" {
				assert.NotContains(t, got, attribute.Key("http.route"))
			} else {
				assert.Equal(t, attribute.StringValue(tc.route), got["http.route"])
			}
			if tc.code == codes.Error {
				assert.Equal(t, attribute.StringValue(strconv.Itoa(tc.status)), got["error.type"])
			}
			for _, v := range got {
				assert.NotContains(t, v.Emit(), "secret", "the query is not recorded")
			}
		})
	}
}
