package telemetry_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv141 "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/streamgate/streamgate/telemetry"
)

// env is a LookupEnv over a map.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// receiver collects the export requests an OTLP receiver got, over HTTP or gRPC.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	reqs  []*coltracepb.ExportTraceServiceRequest
	paths []string
}

func (r *receiver) add(path string, req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, path)
	r.reqs = append(r.reqs, req)
}

// Export implements the gRPC trace service.
func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.add("grpc", req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// ServeHTTP is an OTLP/HTTP receiver of binary protobuf.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var msg coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &msg)
	}
	if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "bad export request", http.StatusBadRequest)
		return
	}
	r.add(req.URL.Path, &msg)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// exported is one received span with its resource.
type exported struct {
	resource map[string]any
	span     *tracepb.Span
}

func (r *receiver) spans() []exported {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exported
	for _, req := range r.reqs {
		for _, rs := range req.GetResourceSpans() {
			res := attrMap(rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					out = append(out, exported{res, s})
				}
			}
		}
	}
	return out
}

func attrMap(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_ArrayValue:
			var vals []string
			for _, e := range v.ArrayValue.GetValues() {
				vals = append(vals, e.GetStringValue())
			}
			m[kv.GetKey()] = vals
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

// generation records a span shaped like the upstream runner's, with a retry and a first chunk.
func generation(ctx context.Context, tp trace.TracerProvider) trace.SpanContext {
	_, span := tp.Tracer("github.com/streamgate/streamgate/upstream").Start(ctx,
		telemetry.SpanName(telemetry.OperationGenerateContent, "gemini-2.5-flash"),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			telemetry.AttrOperationName.String(telemetry.OperationGenerateContent),
			telemetry.AttrProviderName.String(telemetry.ProviderGemini),
			telemetry.AttrRequestModel.String("gemini-2.5-flash"),
			telemetry.AttrStreamID.String("s-1"),
		))
	span.AddEvent(telemetry.EventRetry, trace.WithAttributes(telemetry.AttrAttempt.Int(2), telemetry.AttrHTTPStatusCode.Int(503)))
	span.AddEvent(telemetry.EventFirstChunk)
	span.SetAttributes(
		telemetry.AttrResponseID.String("resp-7"),
		telemetry.AttrFinishReasons.StringSlice([]string{"stop"}),
		telemetry.AttrInputTokens.Int(12),
		telemetry.AttrOutputTokens.Int(34),
	)
	span.SetStatus(codes.Ok, "")
	span.End()
	return span.SpanContext()
}

var wantGenerationAttrs = map[string]any{
	"gen_ai.operation.name":          "generate_content",
	"gen_ai.provider.name":           "gcp.gemini",
	"gen_ai.request.model":           "gemini-2.5-flash",
	"gen_ai.response.id":             "resp-7",
	"gen_ai.response.finish_reasons": []string{"stop"},
	"gen_ai.usage.input_tokens":      int64(12),
	"gen_ai.usage.output_tokens":     int64(34),
	"streamgate.stream.id":           "s-1",
}

func checkGeneration(t *testing.T, r *receiver, sc trace.SpanContext, service string) {
	t.Helper()
	spans := r.spans()
	require.Len(t, spans, 1)
	got := spans[0]
	assert.Equal(t, service, got.resource["service.name"])
	assert.Equal(t, "v9.9.9", got.resource["service.version"])
	assert.Equal(t, "go", got.resource["telemetry.sdk.language"])
	assert.Equal(t, "generate_content gemini-2.5-flash", got.span.GetName())
	assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, got.span.GetKind())
	tid := sc.TraceID()
	assert.Equal(t, tid[:], got.span.GetTraceId())
	assert.Equal(t, wantGenerationAttrs, attrMap(got.span.GetAttributes()))
	require.Len(t, got.span.GetEvents(), 2)
	assert.Equal(t, "streamgate.retry", got.span.GetEvents()[0].GetName())
	assert.Equal(t, map[string]any{"streamgate.upstream.attempt": int64(2), "http.response.status_code": int64(503)},
		attrMap(got.span.GetEvents()[0].GetAttributes()))
	assert.Equal(t, "streamgate.first_chunk", got.span.GetEvents()[1].GetName())
}

// The standard variables alone turn tracing on over OTLP/HTTP, /v1/traces is appended to the
// base endpoint, and Shutdown flushes the span to the receiver.
func TestOTLPHTTPFromEnvironment(t *testing.T) {
	r := &receiver{}
	srv := httptest.NewServer(r)
	defer srv.Close()
	ctx := context.Background()
	tr, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{
		ServiceVersion: "v9.9.9",
		LookupEnv: env(map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_SERVICE_NAME":           "gateway-eu",
		}),
	})
	require.NoError(t, err)
	assert.True(t, tr.Enabled())
	assert.Equal(t, srv.URL+"/v1/traces", tr.Endpoint())
	assert.Equal(t, telemetry.ProtocolHTTPProtobuf, tr.Protocol())
	sc := generation(ctx, tr.TracerProvider())
	require.NoError(t, tr.Shutdown(ctx))
	assert.Equal(t, []string{"/v1/traces"}, r.paths)
	checkGeneration(t, r, sc, "gateway-eu")
}

// telemetry.otlp_endpoint and telemetry.otlp_protocol select gRPC; the service name defaults.
func TestOTLPGRPCFromConfig(t *testing.T) {
	r := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, r)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(ln) }()
	defer func() {
		gs.Stop()
		assert.NoError(t, <-served)
	}()
	ctx := context.Background()
	tr, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{
		Endpoint:       "http://" + ln.Addr().String(),
		Protocol:       telemetry.ProtocolGRPC,
		ServiceVersion: "v9.9.9",
		// The configuration wins over the variables.
		LookupEnv: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}),
	})
	require.NoError(t, err)
	assert.Equal(t, "http://"+ln.Addr().String(), tr.Endpoint())
	sc := generation(ctx, tr.TracerProvider())
	require.NoError(t, tr.Shutdown(ctx))
	assert.Equal(t, []string{"grpc"}, r.paths)
	checkGeneration(t, r, sc, "streamgate")
}

// traceparentServer is an upstream that reports the traceparent header of each request.
func traceparentServer() (*httptest.Server, <-chan string) {
	got := make(chan string, 1)
	return httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		got <- req.Header.Get("Traceparent")
	})), got
}

// A server span continues an incoming traceparent, and Transport makes the upstream request a
// client span of it carrying the same trace ID; both spans reach the receiver.
func TestTransportPropagatesTraceparent(t *testing.T) {
	r := &receiver{}
	collector := httptest.NewServer(r)
	defer collector.Close()
	upstream, traceparents := traceparentServer()
	defer upstream.Close()
	ctx := context.Background()
	tr, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{Endpoint: collector.URL})
	require.NoError(t, err)
	assert.Equal(t, collector.URL+"/v1/traces", tr.Endpoint())

	incoming := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	ctx = tr.Propagator().Extract(ctx, propagation.HeaderCarrier(incoming))
	ctx, server := tr.TracerProvider().Tracer("gateway").Start(ctx, "POST /v1beta/models/:modelAction", trace.WithSpanKind(trace.SpanKindServer))
	client := &http.Client{Transport: tr.Transport(nil)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, upstream.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	server.End()
	client.CloseIdleConnections()
	require.NoError(t, tr.Shutdown(context.Background()))

	upstreamTraceparent := <-traceparents
	require.Regexp(t, `^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$`, upstreamTraceparent)
	spans := r.spans()
	require.Len(t, spans, 2)
	sort.Slice(spans, func(i, j int) bool { return spans[i].span.GetKind() < spans[j].span.GetKind() })
	srvSpan, cliSpan := spans[0].span, spans[1].span
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, srvSpan.GetKind())
	assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, cliSpan.GetKind())
	parent, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	assert.Equal(t, parent[:], srvSpan.GetParentSpanId(), "the server span continues the incoming trace")
	assert.Equal(t, srvSpan.GetSpanId(), cliSpan.GetParentSpanId())
	assert.Equal(t, upstreamTraceparent[36:52], trace.SpanID(cliSpan.GetSpanId()).String(), "the upstream saw the client span")
}

// Off, nothing is recorded, but an incoming trace still passes through to the upstream.
func TestTracingOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telemetry.TracingConfig
	}{
		{"nothing configured", telemetry.TracingConfig{}},
		{"variables without an endpoint", telemetry.TracingConfig{LookupEnv: env(map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})}},
		{"SDK disabled", telemetry.TracingConfig{Endpoint: "http://127.0.0.1:1", LookupEnv: env(map[string]string{"OTEL_SDK_DISABLED": "true"})}},
		{"exporter none", telemetry.TracingConfig{LookupEnv: env(map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			tr, err := telemetry.NewTracing(ctx, tc.cfg)
			require.NoError(t, err)
			assert.False(t, tr.Enabled())
			assert.Empty(t, tr.Endpoint())

			upstream, traceparents := traceparentServer()
			defer upstream.Close()
			const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			ctx = tr.Propagator().Extract(ctx, propagation.HeaderCarrier(http.Header{"Traceparent": {incoming}}))
			ctx, span := tr.TracerProvider().Tracer("gateway").Start(ctx, "request")
			assert.False(t, span.IsRecording())
			client := &http.Client{Transport: tr.Transport(nil)}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			span.End()
			client.CloseIdleConnections()
			assert.Equal(t, incoming, <-traceparents)
			assert.NoError(t, tr.Shutdown(ctx))
		})
	}
}

func TestTracingRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telemetry.TracingConfig
	}{
		{"protocol", telemetry.TracingConfig{Endpoint: "http://127.0.0.1:4318", Protocol: "http/json"}},
		{"protocol variable", telemetry.TracingConfig{LookupEnv: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "udp"})}},
		{"endpoint without scheme", telemetry.TracingConfig{Endpoint: "collector:4317"}},
		{"endpoint with query", telemetry.TracingConfig{Endpoint: "http://collector:4318/?x=1"}},
		{"endpoint variable", telemetry.TracingConfig{LookupEnv: env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://collector"})}},
		{"exporter", telemetry.TracingConfig{LookupEnv: env(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telemetry.NewTracing(context.Background(), tc.cfg)
			assert.ErrorIs(t, err, telemetry.ErrInvalidConfig)
		})
	}
}

// Where spans go, for each way of naming the endpoint.
func TestTracingEndpointResolution(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telemetry.TracingConfig
		vars map[string]string
		want string
	}{
		{"config without path", telemetry.TracingConfig{Endpoint: "http://c:4318"}, nil, "http://c:4318/v1/traces"},
		{"config with root path", telemetry.TracingConfig{Endpoint: "https://c:4318/"}, nil, "https://c:4318/v1/traces"},
		{"config with path kept", telemetry.TracingConfig{Endpoint: "http://c/otlp/traces"}, nil, "http://c/otlp/traces"},
		{"config grpc", telemetry.TracingConfig{Endpoint: "https://c:4317", Protocol: "grpc"}, nil, "https://c:4317"},
		{"base variable", telemetry.TracingConfig{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/prefix/"}, "http://c:4318/prefix/v1/traces"},
		{"traces variable as is", telemetry.TracingConfig{}, map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom",
		}, "http://c:4318/custom"},
		{"traces protocol wins", telemetry.TracingConfig{}, map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
		}, "http://c:4317"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.LookupEnv = env(tc.vars)
			tr, err := telemetry.NewTracing(context.Background(), cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, tr.Endpoint())
			// Nothing was recorded, so shutting down sends nothing to these unreachable hosts.
			require.NoError(t, tr.Shutdown(context.Background()))
		})
	}
}

// The attribute keys are the semantic conventions' own, as the last Go semconv package with the
// GenAI group spells them.
func TestAttributeKeysAreSemconv(t *testing.T) {
	for _, pair := range [][2]attribute.Key{
		{telemetry.AttrOperationName, semconv141.GenAIOperationNameKey},
		{telemetry.AttrProviderName, semconv141.GenAIProviderNameKey},
		{telemetry.AttrRequestModel, semconv141.GenAIRequestModelKey},
		{telemetry.AttrResponseID, semconv141.GenAIResponseIDKey},
		{telemetry.AttrFinishReasons, semconv141.GenAIResponseFinishReasonsKey},
		{telemetry.AttrInputTokens, semconv141.GenAIUsageInputTokensKey},
		{telemetry.AttrOutputTokens, semconv141.GenAIUsageOutputTokensKey},
		{telemetry.AttrErrorType, semconv141.ErrorTypeKey},
		{telemetry.AttrHTTPStatusCode, semconv141.HTTPResponseStatusCodeKey},
	} {
		assert.Equal(t, pair[1], pair[0])
	}
	assert.Equal(t, semconv141.GenAIOperationNameGenerateContent.Value.AsString(), telemetry.OperationGenerateContent)
	assert.Equal(t, semconv141.GenAIOperationNameEmbeddings.Value.AsString(), telemetry.OperationEmbeddings)
	assert.Equal(t, semconv141.GenAIProviderNameGCPGemini.Value.AsString(), telemetry.ProviderGemini)
	assert.Equal(t, semconv141.GenAIProviderNameGCPVertexAI.Value.AsString(), telemetry.ProviderVertexAI)
}
