package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestGeminiStreamExactFrames(t *testing.T) {
	e := newEnv(t, options{})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
	assert.Empty(t, resp.Header.Get("Content-Encoding"))
	id := resp.Header.Get("X-Stream-Id")
	require.NotEmpty(t, id)
	assert.Equal(t, geminiFrames(upstreamtest.Chunks(defaultTexts...)...), string(body))

	reqs := e.fake.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, upstreamKey, reqs[0].Header.Get("x-goog-api-key"), "the upstream gets the gateway's key")
	assert.Empty(t, reqs[0].Header.Get("Authorization"))
	assert.NotContains(t, reqs[0].RawQuery, "key=")
	assert.Equal(t, "gemini-2.5-flash", reqs[0].Model)
	assert.Equal(t, generateBody, string(reqs[0].Body), "the request body goes upstream unchanged")

	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, "completed", info.CloseReason)
	assert.Equal(t, uint64(3), info.LastEventID)
	assert.Equal(t, "gemini-2.5-flash", info.Model)
}

func TestGeminiStreamKeyPlaces(t *testing.T) {
	e := newEnv(t, options{})
	for name, header := range map[string][]string{
		"bearer": {"Authorization", "Bearer " + aliceKey},
		"query":  nil,
	} {
		t.Run(name, func(t *testing.T) {
			path := streamPath
			if header == nil {
				path += "&key=" + aliceKey
			}
			resp := e.request("POST", path, "", generateBody, header...)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, geminiFrames(upstreamtest.Chunks(defaultTexts...)...), string(body))
		})
	}
	for _, r := range e.fake.Requests() {
		assert.Equal(t, upstreamKey, r.Header.Get("x-goog-api-key"))
		assert.Empty(t, r.Header.Get("Authorization"))
		assert.False(t, strings.Contains(r.RawQuery, aliceKey))
	}
}

func TestGeminiRouteErrors(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.MaxBodyBytes = 1024 }})
	const model = "/v1beta/models/gemini-2.5-flash"
	for _, tc := range []struct {
		name     string
		method   string
		path     string
		key      string
		body     string
		header   []string
		code     int
		status   string
		contains string
	}{
		{"alt proto", "POST", model + ":streamGenerateContent?alt=proto", aliceKey, generateBody, nil, 400, "INVALID_ARGUMENT", "alt=proto is not served"},
		{"unknown action", "POST", model + ":count-Tokens", aliceKey, generateBody, nil, 404, "NOT_FOUND", `unknown action "count-Tokens"`},
		{"no action", "POST", model, aliceKey, generateBody, nil, 501, "UNIMPLEMENTED", "method POST is not allowed on /v1beta/models/gemini-2.5-flash (allowed: GET)"},
		{"bad model", "POST", "/v1beta/models/gem%20ini:streamGenerateContent?alt=sse", aliceKey, generateBody, nil, 400, "INVALID_ARGUMENT", "invalid model"},
		{"empty model", "POST", "/v1beta/models/:streamGenerateContent?alt=sse", aliceKey, generateBody, nil, 400, "INVALID_ARGUMENT", "empty model name"},
		{"bad JSON", "POST", streamPath, aliceKey, `{"contents":`, nil, 400, "INVALID_ARGUMENT", "GenerateContentRequest JSON object"},
		{"JSON array", "POST", streamPath, aliceKey, `[1,2]`, nil, 400, "INVALID_ARGUMENT", "GenerateContentRequest JSON object"},
		{"empty body", "POST", streamPath, aliceKey, ``, nil, 400, "INVALID_ARGUMENT", "GenerateContentRequest JSON object"},
		{"body over limit", "POST", streamPath, aliceKey, `{"x":"` + strings.Repeat("a", 2000) + `"}`, nil, 413, "INVALID_ARGUMENT", "larger than 1024 bytes"},
		{"generate body over limit", "POST", model + ":generateContent", aliceKey, `{"x":"` + strings.Repeat("a", 2000) + `"}`, nil, 413, "INVALID_ARGUMENT", "larger than 1024 bytes"},
		{"wrong method", "GET", model + ":streamGenerateContent?alt=sse", aliceKey, "", nil, 501, "UNIMPLEMENTED", "method GET is not allowed"},
		{"unknown route", "POST", "/v1beta/tunedModels/x:generateContent", aliceKey, generateBody, nil, 404, "NOT_FOUND", "no route for POST /v1beta/tunedModels/x:generateContent"},
		{"no key", "POST", streamPath, "", generateBody, nil, 401, "UNAUTHENTICATED", "API key required"},
		{"wrong key", "POST", streamPath, "wrong-key", generateBody, nil, 401, "UNAUTHENTICATED", "API key not valid"},
		{"malformed authorization", "POST", streamPath, "", generateBody, []string{"Authorization", "Basic abc"}, 401, "UNAUTHENTICATED", "Bearer"},
		{"two different keys", "POST", streamPath, aliceKey, generateBody, []string{"Authorization", "Bearer " + bobKey}, 401, "UNAUTHENTICATED", "different API keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(tc.method, tc.path, tc.key, tc.body, tc.header...)
			se := requireError(t, tc.code, tc.status, status, body)
			assert.Contains(t, se.Message, tc.contains)
			assert.NotContains(t, string(body), aliceKey)
			assert.NotContains(t, string(body), bobKey)
		})
	}
	assert.Zero(t, e.fake.RequestCount(), "no bad request reached the upstream")
	ids, err := e.m.ActiveStreamIDs(context.Background())
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func TestGeminiUpstreamErrorBeforeFirstByte(t *testing.T) {
	e := newEnv(t, options{})
	e.fake.Enqueue(upstreamtest.Error(http.StatusTooManyRequests, "Resource has been exhausted (e.g. check quota).").With("Retry-After", "7"))
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "7", resp.Header.Get("Retry-After"), "the upstream's Retry-After is passed on")
	id := resp.Header.Get("X-Stream-Id")
	require.NotEmpty(t, id)
	assert.Equal(t, errorJSON(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."), string(body))
	info := e.waitStatus(aliceKey, id, "error")
	require.NotNil(t, info.Error)
	assert.Equal(t, 429, info.Error.Code)
}

func TestGeminiMidStreamErrorFrame(t *testing.T) {
	chunks := upstreamtest.Chunks("one", "two", "three")
	script := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event(chunks[1]),
		upstreamtest.ErrorTail(http.StatusInternalServerError, "An internal error has occurred.")}}
	e := newEnv(t, options{script: &script})
	status, body := e.do("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, geminiFrames(chunks[0], chunks[1])+
		"data: "+errorJSON(500, "INTERNAL", "An internal error has occurred.")+"\r\n\r\n", string(body))
}

// readFrame reads one Gemini-route frame, up to and including its blank line.
func readFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "\r\n\r\n") {
		line, err := r.ReadString('\n')
		require.NoError(t, err, "after %q", b.String())
		b.WriteString(line)
	}
	return b.String()
}

// slowScript is a long answer paced so that tests can act in the middle of it.
func slowScript(n int, pace time.Duration) *upstreamtest.Script {
	s := upstreamtest.Gemini(upstreamtest.Texts(n, 16)...).Paced(pace)
	return &s
}

func TestGeminiStreamStoppedByDelete(t *testing.T) {
	e := newEnv(t, options{script: slowScript(100, 10*time.Millisecond)})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	r := bufio.NewReader(resp.Body)
	readFrame(t, r)

	status, body := e.do("DELETE", "/v1/streams/"+id, carolKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var info streamInfo
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, "completed", info.Status)
	assert.Equal(t, "deleted by client", info.CloseReason)

	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	want := "data: " + errorJSON(499, "CANCELLED", "stream stopped: deleted by client") + "\r\n\r\n"
	require.True(t, strings.HasSuffix(string(rest), want), "got %q", rest)
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond,
		"the upstream request is cancelled")
}

// A stream the manager ends for inactivity reaches the Gemini-route caller as an error frame.
func TestGeminiStalledUpstreamEndsWithAnError(t *testing.T) {
	chunks := upstreamtest.Chunks("one", "two")
	script := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Stall()}}
	e := newEnv(t, options{script: &script, manager: func(c *manager.Config) { c.InactivityTimeout = 40 * time.Millisecond }})
	status, body := e.do("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, geminiFrames(chunks[0])+"data: "+errorJSON(504, "DEADLINE_EXCEEDED", "no chunk for 40ms")+"\r\n\r\n", string(body))
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}

func TestGenerateContentPassthrough(t *testing.T) {
	e := newEnv(t, options{})
	const path = "/v1beta/models/gemini-2.5-flash:generateContent"
	resp := e.request("POST", path, aliceKey, generateBody)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, string(upstreamtest.Gemini(defaultTexts...).Body), string(body), "the body passes through byte for byte")

	e.fake.Enqueue(upstreamtest.Error(http.StatusBadRequest, "Invalid JSON payload received.").With("Retry-After", "7"))
	resp = e.request("POST", path, aliceKey, generateBody)
	body = readAll(t, resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))
	assert.JSONEq(t, errorJSON(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), string(body))

	reqs := e.fake.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "generateContent", reqs[0].Call)
	assert.Equal(t, generateBody, string(reqs[0].Body))
	assert.Equal(t, upstreamKey, reqs[0].Header.Get("x-goog-api-key"))
}

// A generic SSE upstream streams through the Gemini route as data-only frames; it has no
// non-streaming call.
func TestGenericSSEUpstream(t *testing.T) {
	e := newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		return upstream.NewSSE(upstream.SSEConfig{URL: url + "/stream", Headers: map[string]string{"x-goog-api-key": upstreamKey}})
	}})
	status, body := e.do("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, status, string(body))
	assert.Equal(t, geminiFrames(upstreamtest.Chunks(defaultTexts...)...), string(body))

	status, body = e.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", aliceKey, generateBody)
	se := requireError(t, 501, "UNIMPLEMENTED", status, body)
	assert.Contains(t, se.Message, "use streamGenerateContent")
}
