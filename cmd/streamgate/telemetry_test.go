package main_test

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver of binary protobuf on loopback.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var msg coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &msg)
	}
	if err != nil || req.URL.Path != "/v1/traces" {
		http.Error(w, "bad export request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *otlpReceiver) named(name string) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if s.GetName() == name {
			out = append(out, s)
		}
	}
	return out
}

// The binary wires the gateway into the metrics, the tracer provider and the logs: a Gemini-route
// request is counted on the admin listener's /metrics, its server span reaches an OTLP receiver
// continuing the caller's trace, and its access line carries the caller's X-Request-Id.
func TestGatewayTelemetry(t *testing.T) {
	receiver := &otlpReceiver{}
	collector := httptest.NewServer(receiver)
	defer collector.Close()
	p := start(t, t.TempDir(), []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL}, "-listen", "127.0.0.1:0")

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, err := http.NewRequest("POST", p.url+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", strings.NewReader(generateBody))
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	req.Header.Set("X-Request-Id", "e2e-request-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "e2e-request-1", resp.Header.Get("X-Request-Id"))
	streamID := resp.Header.Get("X-Stream-Id")
	status, _ := get(t, p.url+"/v2/nowhere")
	require.Equal(t, http.StatusNotFound, status)

	status, metrics := get(t, p.admin+"/metrics")
	require.Equal(t, http.StatusOK, status)
	for _, line := range []string{
		`streamgate_http_requests_total{code="200",route="/v1beta/models/:modelAction"} 1`,
		`streamgate_http_requests_total{code="404",route="unmatched"} 1`,
		`streamgate_http_request_duration_seconds_count{route="/v1beta/models/:modelAction"} 1`,
		`streamgate_subscribers{route="gemini"} 0`,
	} {
		assert.Contains(t, string(metrics), "\n"+line+"\n")
	}
	status, _ = get(t, p.admin+"/readyz")
	assert.Equal(t, http.StatusOK, status)

	require.Equal(t, 0, p.stop(syscall.SIGTERM), "the last spans are flushed at exit")
	spans := receiver.named("POST /v1beta/models/:modelAction")
	require.Len(t, spans, 1, "stderr:\n%s", p.stderr)
	span := spans[0]
	assert.Equal(t, traceID, hex.EncodeToString(span.GetTraceId()))
	assert.Equal(t, parentID, hex.EncodeToString(span.GetParentSpanId()))
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, span.GetKind())
	var gotStream string
	for _, kv := range span.GetAttributes() {
		if kv.GetKey() == "streamgate.stream.id" {
			gotStream = kv.GetValue().GetStringValue()
		}
	}
	assert.Equal(t, streamID, gotStream)

	var access []map[string]any
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" && m["request_id"] == "e2e-request-1" {
			access = append(access, m)
		}
	}
	require.Len(t, access, 1, "stderr:\n%s", p.stderr)
	assert.Equal(t, "/v1beta/models/:modelAction", access[0]["route"])
	assert.Equal(t, float64(200), access[0]["status"])
	assert.Equal(t, streamID, access[0]["stream_id"])
}
