package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"go.opentelemetry.io/otel/trace"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// logLines parses the JSON log lines written so far.
func (e *env) logLines() []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(e.t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

// linesWith returns the log lines whose attribute key has value v.
func (e *env) linesWith(key string, v any) []map[string]any {
	var out []map[string]any
	for _, l := range e.logLines() {
		if l[key] == v {
			out = append(out, l)
		}
	}
	return out
}

// A caller's X-Request-Id of 1 to 128 printable ASCII characters is used as it came; anything
// else is replaced by a generated UUID. Either is echoed.
func TestRequestIDAcceptedOrGenerated(t *testing.T) {
	e := newEnv(t, options{})
	for _, tc := range []struct {
		name, id string
		accepted bool
	}{
		{"plain", "req-0123.abc", true},
		{"printable with spaces", `a b!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`, true},
		{"128 bytes", strings.Repeat("r", 128), true},
		{"129 bytes", strings.Repeat("r", 129), false},
		{"a tab", "a\tb", false},
		{"not ASCII", "réq", false},
		{"none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.id != "" {
				header = []string{gateway.HeaderRequestID, tc.id}
			}
			resp := e.request("GET", "/healthz", "", nil, header...)
			readAll(t, resp)
			got := resp.Header.Values(gateway.HeaderRequestID)
			require.Len(t, got, 1)
			if tc.accepted {
				assert.Equal(t, tc.id, got[0])
				return
			}
			u, err := uuid.Parse(got[0])
			require.NoError(t, err, got[0])
			assert.Equal(t, uuid.Version(4), u.Version())
			assert.Equal(t, got[0], u.String(), "the canonical form")
		})
	}
	first := e.request("GET", "/healthz", "", nil)
	readAll(t, first)
	second := e.request("GET", "/healthz", "", nil)
	readAll(t, second)
	assert.NotEqual(t, first.Header.Get(gateway.HeaderRequestID), second.Header.Get(gateway.HeaderRequestID))
}

// Every response carries the request's ID: errors of every kind, preflights and streams too.
func TestRequestIDOnEveryResponse(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.CORSOrigins = []string{"https://app.example"} }})
	pushID := e.createStream(aliceKey, map[string]any{})
	e.push(aliceKey, pushID, "one", "")
	status, body := e.do("DELETE", "/v1/streams/"+pushID, aliceKey, nil) // its events replay, then end
	require.Equal(t, http.StatusOK, status, string(body))
	e.fake.Enqueue(upstreamtest.Script{Status: http.StatusTooManyRequests})
	for _, tc := range []struct {
		name         string
		method, path string
		key          string
		body         any
		header       []string
		status       int
	}{
		{"ok", "GET", "/v1/streams", aliceKey, nil, nil, http.StatusOK},
		{"401", "GET", "/v1/streams", "", nil, nil, http.StatusUnauthorized},
		{"400", "POST", "/v1/streams", aliceKey, `{"model":1}`, nil, http.StatusBadRequest},
		{"404 no route", "GET", "/nowhere", aliceKey, nil, nil, http.StatusNotFound},
		{"501 no method", "DELETE", "/healthz", "", nil, nil, http.StatusNotImplemented},
		{"preflight", "OPTIONS", "/v1/streams", "", nil,
			[]string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST"}, http.StatusNoContent},
		{"upstream error before the stream", "POST", streamPath, aliceKey, generateBody, nil, http.StatusTooManyRequests},
		{"Gemini stream", "POST", streamPath, aliceKey, generateBody, nil, http.StatusOK},
		{"events stream", "GET", "/v1/streams/" + pushID + "/events?after=0", aliceKey, nil, nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "rid-" + strings.ReplaceAll(tc.name, " ", "-")
			resp := e.request(tc.method, tc.path, tc.key, tc.body, append(tc.header, gateway.HeaderRequestID, id)...)
			readAll(t, resp)
			require.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, []string{id}, resp.Header.Values(gateway.HeaderRequestID))
		})
	}
}

// The log lines the gateway writes for a request, and those of the subscriber's queued client,
// carry its request_id.
func TestRequestIDOnLogLines(t *testing.T) {
	script := upstreamtest.Script{Steps: []upstreamtest.Step{
		upstreamtest.Event(upstreamtest.Chunks("Hello")[0]), upstreamtest.Stall(),
	}}
	e := newEnv(t, options{json: true, script: &script})
	resp := e.request("POST", streamPath, aliceKey, generateBody, gateway.HeaderRequestID, "gen-1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close() // the only subscriber leaves: the stream is closed at once
	e.waitStatus(aliceKey, id, "completed")

	require.Eventually(t, func() bool {
		msgs := map[string]bool{}
		for _, l := range e.linesWith("request_id", "gen-1") {
			msgs[l["msg"].(string)] = true
		}
		return msgs["subscriber left"] && msgs["stream closed"]
	}, 5*time.Second, time.Millisecond, "%s", e.logs.String())
	for _, l := range e.linesWith("request_id", "gen-1") {
		if sid, ok := l["stream_id"]; ok {
			assert.Equal(t, id, sid, l)
		}
	}
}

// ctxRecorder is the runner, recording what reaches it in the contexts the gateway passes.
type ctxRecorder struct {
	gateway.Generator
	mu   sync.Mutex
	ids  []string
	seen []spanSeen
}

// spanSeen is what a Generator's context holds of the trace.
type spanSeen struct {
	sc        trace.SpanContext
	recording bool // the span in the context can be changed
}

type requestIDKey struct{}

func (g *ctxRecorder) record(ctx context.Context) {
	id, _ := ctx.Value(requestIDKey{}).(string)
	g.mu.Lock()
	g.ids = append(g.ids, id)
	g.seen = append(g.seen, spanSeen{trace.SpanContextFromContext(ctx), trace.SpanFromContext(ctx).IsRecording()})
	g.mu.Unlock()
}

func (g *ctxRecorder) Run(ctx context.Context, streamID string, req upstream.Request) error {
	g.record(ctx)
	return g.Generator.Run(ctx, streamID, req)
}

func (g *ctxRecorder) Generate(ctx context.Context, req upstream.Request) (*http.Response, error) {
	g.record(ctx)
	return g.Generator.Generate(ctx, req)
}

func (g *ctxRecorder) recorded() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.ids...)
}

func (g *ctxRecorder) spans() []spanSeen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]spanSeen(nil), g.seen...)
}

// The request ID reaches the Generator through Config.WithRequestID, for the upstream to forward:
// on the Gemini routes and on a background generation, which outlives its request.
func TestRequestIDReachesTheGenerator(t *testing.T) {
	rec := &ctxRecorder{}
	e := newEnv(t, options{gateway: func(c *gateway.Config) {
		rec.Generator = c.Generator
		c.Generator = rec
		c.WithRequestID = func(ctx context.Context, id string) context.Context {
			return context.WithValue(ctx, requestIDKey{}, id)
		}
	}})
	resp := e.request("POST", streamPath, aliceKey, generateBody, gateway.HeaderRequestID, "stream-1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	readAll(t, resp)
	status, body := e.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", aliceKey, generateBody, gateway.HeaderRequestID, "generate-1")
	require.Equal(t, http.StatusOK, status, string(body))
	id := e.createStream(aliceKey, map[string]any{"model": "gemini-2.5-flash", "request": map[string]any{}})
	e.waitStatus(aliceKey, id, "completed")
	ids := rec.recorded()
	require.Len(t, ids, 3)
	assert.Equal(t, []string{"stream-1", "generate-1"}, ids[:2])
	_, err := uuid.Parse(ids[2])
	assert.NoError(t, err, "a generated ID: %q", ids[2])
}
