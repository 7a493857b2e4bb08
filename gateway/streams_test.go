package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestPushStreamLifecycleExactBytes(t *testing.T) {
	e := newEnv(t, options{})
	status, body := e.do("POST", "/v1/streams", aliceKey, `{"id":"chat-1"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var created map[string]any
	require.NoError(t, json.Unmarshal(body, &created))
	assert.Equal(t, []string{"created_at", "events_url", "id", "model", "status"}, keys(created))
	assert.Equal(t, "chat-1", created["id"])
	assert.Equal(t, "active", created["status"])
	assert.Equal(t, "", created["model"])
	assert.Equal(t, "/v1/streams/chat-1/events", created["events_url"])

	resp := e.request("GET", "/v1/streams/chat-1/events", aliceKey, nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
	assert.Equal(t, "chat-1", resp.Header.Get("X-Stream-Id"))
	e.waitClients("chat-1", 1)

	e.push(aliceKey, "chat-1", map[string]any{"text": "hi"}, "")
	status, body = e.do("POST", "/v1/streams/chat-1/chunks", aliceKey, "{ \"data\" : { \"a\" : [1, 2],\r\n \"b\": \"x\\ny\" }, \"event\": \"delta\" }")
	require.Equal(t, http.StatusAccepted, status, string(body))
	assert.JSONEq(t, `{"id":2}`, string(body), "the answer names the chunk's ID")
	status, body = e.do("POST", "/v1/streams/chat-1/error", aliceKey, `{"code":503,"message":"upstream hiccup"}`)
	require.Equal(t, http.StatusAccepted, status, string(body))
	e.push(aliceKey, "chat-1", "after the error", "")
	status, body = e.do("DELETE", "/v1/streams/chat-1", aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "id: 1\ndata: {\"text\":\"hi\"}\n\n"+
		"id: 2\nevent: delta\ndata: {\"a\":[1,2],\"b\":\"x\\ny\"}\n\n"+
		"id: 3\nevent: error\ndata: "+errorJSON(503, "UNAVAILABLE", "upstream hiccup")+"\n\n"+
		"id: 4\ndata: \"after the error\"\n\n"+
		"event: done\ndata: {\"status\":\"completed\",\"reason\":\"deleted by client\"}\n\n", string(got))

	var info map[string]any
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, []string{"clients", "close_reason", "closed_at", "created_at", "error", "id", "last_event_id", "model", "status"}, keys(info))
	assert.Equal(t, float64(4), info["last_event_id"])
	assert.Equal(t, "deleted by client", info["close_reason"])
	assert.NotNil(t, info["closed_at"])
	assert.Nil(t, info["error"])
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestPushStreamTerminatingError(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{})
	sub := e.subscribe(aliceKey, id, "")
	defer sub.close()
	e.push(aliceKey, id, 1, "")
	status, body := e.do("POST", "/v1/streams/"+id+"/error", aliceKey, `{"code":504,"status":"DEADLINE_EXCEEDED","message":"boom","terminate":true}`)
	require.Equal(t, http.StatusAccepted, status, string(body))
	assert.Equal(t, []event{
		{ID: "1", Type: "message", Data: "1"},
		{ID: "2", Type: "error", Data: errorJSON(504, "DEADLINE_EXCEEDED", "boom")},
		{ID: "2", Type: "done", Data: `{"status":"error","reason":"Stream terminated due to error: boom"}`},
	}, sub.rest())
	info := e.info(aliceKey, id)
	assert.Equal(t, "error", info.Status)
	require.NotNil(t, info.Error)
	assert.Equal(t, 504, info.Error.Code)
	assert.Equal(t, "boom", info.Error.Message)
}

func TestBackgroundGenerationThroughAPI(t *testing.T) {
	e := newEnv(t, options{})
	status, body := e.do("POST", "/v1/streams", aliceKey, `{"model":"gemini-2.5-flash","request":`+generateBody+`}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var created struct {
		ID        string `json:"id"`
		Model     string `json:"model"`
		EventsURL string `json:"events_url"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	assert.Equal(t, "gemini-2.5-flash", created.Model)
	assert.Equal(t, "/v1/streams/"+created.ID+"/events", created.EventsURL)

	sub := e.subscribe(aliceKey, created.ID, "")
	defer sub.close()
	var want []event
	for i, c := range upstreamtest.Chunks(defaultTexts...) {
		want = append(want, event{ID: strconv.Itoa(i + 1), Type: "message", Data: string(c)})
	}
	want = append(want, event{ID: "3", Type: "done", Data: `{"status":"completed","reason":"completed"}`})
	assert.Equal(t, want, sub.rest())

	reqs := e.fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, generateBody, string(reqs[0].Body))
	assert.Equal(t, upstreamKey, reqs[0].Header.Get("x-goog-api-key"))
	info := e.info(aliceKey, created.ID)
	assert.Equal(t, "completed", info.Status)
	assert.Equal(t, "gemini-2.5-flash", info.Model)
	assert.Equal(t, uint64(3), info.LastEventID)
	assert.Zero(t, info.Clients)
	require.NotNil(t, info.ClosedAt)
	assert.False(t, info.ClosedAt.Before(info.CreatedAt))
}

func TestListStreams(t *testing.T) {
	e := newEnv(t, options{})
	a := e.createStream(aliceKey, map[string]any{"id": "a"})
	b := e.createStream(carolKey, map[string]any{"id": "b"})
	e.createStream(bobKey, map[string]any{"id": "c"})
	status, body := e.do("DELETE", "/v1/streams/"+a, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	list := func(key, query string) []string {
		t.Helper()
		status, body := e.do("GET", "/v1/streams"+query, key, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var out struct{ Streams []streamInfo }
		require.NoError(t, json.Unmarshal(body, &out))
		var ids []string
		for _, s := range out.Streams {
			ids = append(ids, s.ID)
		}
		return ids
	}
	assert.Equal(t, []string{b}, list(aliceKey, ""))
	assert.Equal(t, []string{a, b}, list(carolKey, "?all=true"))
	assert.Equal(t, []string{"c"}, list(bobKey, "?all=1"))
	assert.Equal(t, []string{"c"}, list(bobKey, "?all=false"))
	status, body = e.do("GET", "/v1/streams?all=maybe", bobKey, nil)
	requireError(t, 400, "INVALID_ARGUMENT", status, body)
	status, body = e.do("GET", "/v1/streams", bobKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), `"streams":[`)
}

func TestTwoClientsShareOneGeneration(t *testing.T) {
	e := newEnv(t, options{script: slowScript(20, 2*time.Millisecond)})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	watcher := e.subscribe(carolKey, id, "")
	defer watcher.close()

	caller, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	events := watcher.rest()
	chunks := e.fake.Requests()
	require.Len(t, chunks, 1, "one upstream request serves both clients")
	want := slowScript(20, 0).Events()
	assert.Equal(t, geminiFrames(want...), string(caller))
	require.Len(t, events, 21)
	for i, c := range want {
		assert.Equal(t, event{ID: strconv.Itoa(i + 1), Type: "message", Data: string(c)}, events[i])
	}
	assert.Equal(t, "done", events[20].Type)
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{"id": "secret-plans"})
	_, unknownBody := e.do("GET", "/v1/streams/no-such-stream", bobKey, nil)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/streams/" + id, ""},
		{"GET", "/v1/streams/" + id + "/events", ""},
		{"POST", "/v1/streams/" + id + "/chunks", `{"data":1}`},
		{"POST", "/v1/streams/" + id + "/error", `{"message":"x"}`},
		{"DELETE", "/v1/streams/" + id, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			status, got := e.do(tc.method, tc.path, bobKey, body)
			requireError(t, 404, "NOT_FOUND", status, got)
			assert.Equal(t, strings.ReplaceAll(string(unknownBody), "no-such-stream", id), string(got),
				"another tenant's stream looks exactly like an unknown one")
		})
	}
	assert.Equal(t, "active", e.info(carolKey, id).Status, "a key of the same tenant sees it")
	status, body := e.do("POST", "/v1/streams", bobKey, `{"id":"secret-plans"}`)
	requireError(t, 409, "ALREADY_EXISTS", status, body)
}

func TestEventSourceKeyInQuery(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{})
	sub := e.subscribe("", id, "?key="+aliceKey+"&after=0")
	defer sub.close()
	e.push(aliceKey, id, "x", "")
	assert.Equal(t, event{ID: "1", Type: "message", Data: `"x"`}, sub.next())
	assert.NotContains(t, e.logs.String(), aliceKey, "the client's key is never logged")
}
