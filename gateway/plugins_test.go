package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// jsonlPlugin is the example jsonl transport writing into dir.
func jsonlPlugin(dir string, rule plugins.AttachRule) plugins.PluginConfig {
	cfg, _ := json.Marshal(map[string]string{"dir": dir})
	return plugins.PluginConfig{Name: "jsonl", Path: pluginBin("jsonl"), Config: cfg, Attach: rule}
}

// retryPlugin is the example error handler with the given rules.
func retryPlugin(rules string) plugins.PluginConfig {
	return plugins.PluginConfig{Name: "retry", Path: pluginBin("retry"), Config: json.RawMessage(`{"rules":` + rules + `}`)}
}

// jsonlFile is what the jsonl plugin writes for the events a subscriber saw, then the close line.
func jsonlFile(streamID string, events []event, reason string) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, `{"stream_id":%q,"id":%s,"event":"","data":%s}`+"\n", streamID, ev.ID, ev.Data)
	}
	fmt.Fprintf(&b, `{"stream_id":%q,"closed":true,"reason":%q}`+"\n", streamID, reason)
	return b.String()
}

// jsonlPath is the one file the jsonl plugin writes a stream to, <dir>/<tenant>/<id>.<instance>.jsonl,
// or "" while there is none.
func jsonlPath(dir, streamID string) string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", streamID+".*.jsonl"))
	if len(paths) != 1 {
		return ""
	}
	return paths[0]
}

// waitFile waits until the jsonl file of a stream holds its close line, and returns it.
func waitFile(t *testing.T, dir, streamID string) string {
	t.Helper()
	var content string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(jsonlPath(dir, streamID))
		content = string(b)
		return strings.Contains(content, `"closed":true`)
	}, 10*time.Second, 5*time.Millisecond, "the jsonl file of %s was never closed", streamID)
	return content
}

// dataEvents returns the events before the final "done".
func dataEvents(t *testing.T, events []event) []event {
	t.Helper()
	require.NotEmpty(t, events)
	require.Equal(t, "done", events[len(events)-1].Type)
	return events[:len(events)-1]
}

func TestAttachedTransportWritesWhatSubscribersSaw(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, options{
		script:  slowScript(12, 2*time.Millisecond),
		plugins: []plugins.PluginConfig{jsonlPlugin(dir, plugins.AttachRule{All: true})},
	})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	watcher := e.subscribe(aliceKey, id, "?after=0")
	defer watcher.close()
	body := readAll(t, resp)

	events := dataEvents(t, watcher.rest())
	require.Len(t, events, 12)
	var frames [][]byte
	for _, ev := range events {
		frames = append(frames, []byte(ev.Data))
	}
	assert.Equal(t, geminiFrames(frames...), string(body), "the caller saw the same chunks")
	assert.Equal(t, jsonlFile(id, events, "completed"), waitFile(t, dir, id))
}

func TestAttachedTransportDoesNotKeepAnAbandonedGeneration(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, options{
		script:  slowScript(100, 10*time.Millisecond),
		plugins: []plugins.PluginConfig{jsonlPlugin(dir, plugins.AttachRule{All: true})},
	})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()

	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, gateway.ReasonClientDisconnected, info.CloseReason, "a transport attached by rule only observes")
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
	assert.Contains(t, waitFile(t, dir, id), `"reason":"client disconnected"`)
}

func TestSubscribedTransportKeepsTheGenerationGoing(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, options{
		script:  slowScript(10, 5*time.Millisecond),
		plugins: []plugins.PluginConfig{jsonlPlugin(dir, plugins.AttachRule{})},
	})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	status, body := e.do("POST", "/v1/streams/"+id+"/subscriptions", aliceKey, `{"transport":"jsonl"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var sub struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &sub))
	require.NotEmpty(t, sub.ID)
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()

	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, "completed", info.CloseReason, "the generation was re-routed to the plugin")
	assert.Equal(t, uint64(10), info.LastEventID)
	assert.Zero(t, e.fake.CancelledCount())
	replay := e.subscribe(aliceKey, id, "?after=0")
	defer replay.close()
	assert.Equal(t, jsonlFile(id, dataEvents(t, replay.rest()), "completed"), waitFile(t, dir, id))
}

func TestSubscriptionRoutes(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, options{plugins: []plugins.PluginConfig{jsonlPlugin(dir, plugins.AttachRule{}), retryPlugin(`[]`)}})
	id := e.createStream(aliceKey, map[string]any{"id": "routed"})
	e.push(aliceKey, id, map[string]int{"n": 1}, "")
	subsPath := "/v1/streams/" + id + "/subscriptions"

	status, body := e.do("POST", subsPath, aliceKey, `{"transport":"jsonl"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var sub struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &sub))
	e.push(aliceKey, id, map[string]int{"n": 2}, "")
	e.waitClients(id, 1)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(jsonlPath(dir, id))
		return strings.Count(string(b), "\n") == 2
	}, 5*time.Second, 5*time.Millisecond)

	status, body = e.do("DELETE", subsPath+"/"+sub.ID, aliceKey, nil)
	require.Equal(t, http.StatusNoContent, status, string(body))
	assert.Equal(t, `{"stream_id":"routed","id":1,"event":"","data":{"n":1}}
{"stream_id":"routed","id":2,"event":"","data":{"n":2}}
{"stream_id":"routed","closed":true,"reason":"unsubscribed"}
`, waitFile(t, dir, id))

	tests := []struct {
		name, method, path, key, body string
		code                          int
		status                        string
	}{
		{"unknown transport", "POST", subsPath, aliceKey, `{"transport":"kafka"}`, 404, "NOT_FOUND"},
		{"an error handler is no transport", "POST", subsPath, aliceKey, `{"transport":"retry"}`, 404, "NOT_FOUND"},
		{"config the plugin refuses", "POST", subsPath, aliceKey, `{"transport":"jsonl","config":{"dir":"/etc"}}`, 400, "INVALID_ARGUMENT"},
		{"config not an object", "POST", subsPath, aliceKey, `{"transport":"jsonl","config":[1]}`, 400, "INVALID_ARGUMENT"},
		{"no transport", "POST", subsPath, aliceKey, `{}`, 400, "INVALID_ARGUMENT"},
		{"unknown field", "POST", subsPath, aliceKey, `{"transport":"jsonl","url":"x"}`, 400, "INVALID_ARGUMENT"},
		{"bad JSON", "POST", subsPath, aliceKey, `{"transport":`, 400, "INVALID_ARGUMENT"},
		{"unknown stream", "POST", "/v1/streams/nope/subscriptions", aliceKey, `{"transport":"jsonl"}`, 404, "NOT_FOUND"},
		{"another tenant's stream", "POST", subsPath, bobKey, `{"transport":"jsonl"}`, 404, "NOT_FOUND"},
		{"no key", "POST", subsPath, "", `{"transport":"jsonl"}`, 401, "UNAUTHENTICATED"},
		{"unsubscribe twice", "DELETE", subsPath + "/" + sub.ID, aliceKey, "", 404, "NOT_FOUND"},
		{"unsubscribe another tenant's", "DELETE", subsPath + "/" + sub.ID, bobKey, "", 404, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			code, b := e.do(tt.method, tt.path, tt.key, body)
			requireError(t, tt.code, tt.status, code, b)
		})
	}
	count, err := e.m.ClientCount(t.Context(), id)
	require.NoError(t, err)
	assert.Zero(t, count, "refused subscriptions leave no client behind")
}

func TestSubscriptionRoutesWithoutPlugins(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{})
	code, b := e.do("POST", "/v1/streams/"+id+"/subscriptions", aliceKey, `{"transport":"jsonl"}`)
	requireError(t, 404, "NOT_FOUND", code, b)
	code, b = e.do("DELETE", "/v1/streams/"+id+"/subscriptions/x", aliceKey, nil)
	requireError(t, 404, "NOT_FOUND", code, b)
}

func TestErrorHandlerRewritesAnUpstreamError(t *testing.T) {
	script := upstreamtest.Error(400, "upstream detail: prompt field 7 of project-secret")
	e := newEnv(t, options{
		script:  &script,
		plugins: []plugins.PluginConfig{retryPlugin(`[{"codes":[400],"action":"terminate","message":"request rejected"}]`)},
	})
	code, body := e.do("POST", streamPath, aliceKey, generateBody)
	se := requireError(t, 400, "INVALID_ARGUMENT", code, body)
	assert.Equal(t, "request rejected", se.Message)
	assert.NotContains(t, string(body), "project-secret")
}

func TestErrorHandlerRetriesWhatTheBuiltInPolicyWouldNot(t *testing.T) {
	e := newEnv(t, options{
		plugins: []plugins.PluginConfig{retryPlugin(`[{"codes":[400],"action":"retry","max_attempts":2,"backoff":"1ms"}]`)},
		runner:  func(c *upstream.RunnerConfig) { c.Retry.MaxAttempts = 3 },
	})
	e.fake.Enqueue(upstreamtest.Error(400, "transient validation hiccup"))
	code, body := e.do("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, code, string(body))
	assert.Equal(t, geminiFrames(upstreamtest.Gemini(defaultTexts...).Events()...), string(body))
	assert.Equal(t, 2, e.fake.RequestCount())
}

// A stream's info lists its transport subscriptions (the plugins tests show a failed one listed
// with its error: a chunk too large for the transport), and a stream without any lists none.
func TestStreamInfoListsSubscriptions(t *testing.T) {
	e := newEnv(t, options{plugins: []plugins.PluginConfig{jsonlPlugin(t.TempDir(), plugins.AttachRule{})}})
	id := e.createStream(aliceKey, map[string]any{"id": "listed"})
	status, body := e.do("GET", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, string(body), "subscriptions", "no subscription, no list")

	status, body = e.do("POST", "/v1/streams/"+id+"/subscriptions", aliceKey, `{"transport":"jsonl"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var sub struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &sub))
	status, body = e.do("GET", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status)
	var info struct {
		Subscriptions json.RawMessage `json:"subscriptions"`
	}
	require.NoError(t, json.Unmarshal(body, &info))
	assert.JSONEq(t, `[{"id":"`+sub.ID+`","transport":"jsonl","attached":false,"failed":false}]`, string(info.Subscriptions))
}
