package main_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/pluginstest"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// metricLines scrapes the admin listener and returns its sample lines, without HELP and TYPE.
func metricLines(t *testing.T, admin string) map[string]bool {
	t.Helper()
	status, body := get(t, admin+"/metrics")
	require.Equal(t, http.StatusOK, status)
	lines := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if l := sc.Text(); !strings.HasPrefix(l, "#") {
			lines[l] = true
		}
	}
	return lines
}

// childRunning returns the pid of the child of parent that runs exe.
func childRunning(t *testing.T, parent int, exe string) int {
	t.Helper()
	for _, pid := range pluginstest.Processes(binDir) {
		path, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if path == exe && len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			return pid
		}
	}
	t.Fatalf("no child of %d runs %s", parent, exe)
	return 0
}

// The scripted traffic of the operations issue, as far as the upstream runner, the manager and the
// plugin host record it: a completed generation, a generation retried after a 503, one refused
// with 400, and the jsonl plugin killed with SIGKILL. The admin listener's /metrics shows what
// that traffic implies, exactly; the OTLP receiver gets one client span per upstream attempt, each
// the one whose traceparent the upstream received.
func TestMetricsAndTracesOfScriptedTraffic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "streams")
	require.NoError(t, os.Mkdir(out, 0o755))
	reply := upstreamtest.Gemini("Hello ", "from ", "the fake")
	fake := upstreamtest.NewServer(t, reply)
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	cfg := writeConfig(t, dir, "gw.yaml", fmt.Sprintf(`
listen: 127.0.0.1:0
upstream:
  kind: gemini
  base_url: %s
  api_key: test-upstream-key-0123456789
  retry: {initial_interval: 1ms, max_interval: 2ms}
telemetry: {otlp_endpoint: %s}
plugins:
  - {name: jsonl, path: %s, config: {dir: %s}, attach: {all: true}}
`, fake.URL(), collector.URL, jsonlPlugin, out))
	p := start(t, dir, nil, "-config", cfg)
	route := p.url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

	// The retried generation continues the caller's trace and carries the caller's request ID.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	generate := func(header http.Header) (int, string) {
		req, err := http.NewRequest("POST", route, strings.NewReader(generateBody))
		require.NoError(t, err)
		req.Header = header
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode, string(body)
	}
	code, body := generate(http.Header{})
	require.Equal(t, http.StatusOK, code, body)
	fake.Enqueue(upstreamtest.Error(503, "overloaded"))
	code, body = generate(http.Header{"Traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}, "X-Request-Id": {"traffic-2"}})
	require.Equal(t, http.StatusOK, code, body)
	fake.Enqueue(upstreamtest.Error(400, "bad request"))
	code, body = generate(http.Header{})
	require.Equal(t, http.StatusBadRequest, code, body)
	reqs := fake.Requests()
	require.Len(t, reqs, 4, "200; 503 and 200; 400")
	for _, r := range reqs[1:3] {
		assert.Equal(t, "traffic-2", r.Header.Get("X-Request-Id"), "every attempt forwards the caller's request ID")
		assert.True(t, strings.HasPrefix(r.Header.Get("traceparent"), "00-"+traceID+"-"), "the caller's trace: %q", r.Header.Get("traceparent"))
	}

	pid := childRunning(t, p.cmd.Process.Pid, jsonlPlugin)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	chunkBytes := 0
	for _, c := range reply.Events() {
		chunkBytes += len(c)
	}
	errChunk := (&manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: "bad request"}).JSON()
	const model = `model="gemini-2.5-flash",provider="gemini"`
	want := []string{
		`streamgate_upstream_requests_total{code="200",provider="gemini"} 2`,
		`streamgate_upstream_requests_total{code="400",provider="gemini"} 1`,
		`streamgate_upstream_requests_total{code="503",provider="gemini"} 1`,
		`streamgate_upstream_retries_total{provider="gemini"} 1`,
		`streamgate_upstream_time_to_first_chunk_seconds_count{` + model + `} 2`,
		`streamgate_upstream_request_duration_seconds_count{` + model + `} 3`,
		`streamgate_time_per_output_chunk_seconds_count{` + model + `} 2`,
		`streamgate_tokens_total{` + model + `,type="input"} 8`,
		`streamgate_tokens_total{` + model + `,type="output"} 8`,
		`streamgate_chunks_total{source="gemini"} 6`,
		`streamgate_chunk_bytes_total ` + strconv.Itoa(2*chunkBytes),
		`streamgate_streams_active{kind="generate",source="gemini"} 0`,
		`streamgate_streams_total{kind="generate",source="gemini",status="completed"} 2`,
		`streamgate_streams_total{kind="generate",source="gemini",status="error"} 1`,
		`streamgate_retained_streams 3`,
		`streamgate_retained_bytes ` + strconv.Itoa(2*chunkBytes+len(errChunk)),
		`streamgate_subscribers{route="plugin"} 0`,
		`streamgate_plugin_up{plugin="jsonl"} 1`,
		`streamgate_plugin_restarts_total{plugin="jsonl"} 1`,
	}
	missing := func() []string {
		lines := metricLines(t, p.admin)
		var out []string
		for _, w := range want {
			if !lines[w] {
				out = append(out, w)
			}
		}
		return out
	}
	// The plugin's sessions end after the streams, and its restart after the kill.
	// One scrape must show them all; asking again after it could catch a restarted plugin's session
	// re-attaching for a moment (streamgate_subscribers{route="plugin"} 1), so keep the scrape seen.
	var last []string
	assert.Eventually(t, func() bool { last = missing(); return len(last) == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Empty(t, last, "lines missing from /metrics")

	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	servers := map[string]*tracepb.Span{}
	for _, s := range recv.named("POST /v1beta/models/:modelAction") {
		servers[hex.EncodeToString(s.GetSpanId())] = s
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range recv.named("generate_content gemini-2.5-flash") {
		require.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, s.GetKind())
		byID[hex.EncodeToString(s.GetSpanId())] = s
	}
	require.Len(t, byID, len(reqs), "one client span per attempt")
	for _, r := range reqs {
		parts := strings.Split(r.Header.Get("traceparent"), "-")
		require.Len(t, parts, 4, "traceparent %q", r.Header.Get("traceparent"))
		s := byID[parts[2]]
		require.NotNil(t, s, "the upstream request names a span that was exported: %q", r.Header.Get("traceparent"))
		assert.Equal(t, parts[1], hex.EncodeToString(s.GetTraceId()))
		parent := servers[hex.EncodeToString(s.GetParentSpanId())]
		require.NotNil(t, parent, "a client span is a child of its request's server span")
		assert.Equal(t, parts[1], hex.EncodeToString(parent.GetTraceId()))
	}
}
