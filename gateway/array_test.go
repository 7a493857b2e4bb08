package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

const arrayPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"

// geminiArray is the exact body Gemini streams for these elements without alt=sse.
func geminiArray(elements ...string) string {
	if len(elements) == 0 {
		return "[\r\n]"
	}
	return "[" + strings.Join(elements, "\r\n,\r\n") + "\r\n]"
}

func strs(chunks [][]byte) []string {
	out := make([]string, len(chunks))
	for i, c := range chunks {
		out[i] = string(c)
	}
	return out
}

// TestArrayStreamExactBytes: without alt=sse (or with alt=json) the stream is one JSON array,
// Gemini's framing, application/json, with X-Stream-Id; a mid-stream error is Gemini's error JSON
// as the last element, and the array is closed.
func TestArrayStreamExactBytes(t *testing.T) {
	chunks := upstreamtest.Chunks(defaultTexts...)
	failing := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]),
		upstreamtest.ErrorTail(http.StatusServiceUnavailable, "The model is overloaded.")}}
	e := newEnv(t, options{})
	e.fake.Enqueue(upstreamtest.Gemini(defaultTexts...), upstreamtest.Gemini(defaultTexts...), failing,
		upstreamtest.Error(http.StatusTooManyRequests, "Quota exceeded.").With("Retry-After", "9"))
	for _, tc := range []struct {
		name, path, want string
	}{
		{"no alt", arrayPath, "200 application/json; charset=UTF-8\n" + geminiArray(strs(chunks)...)},
		{"alt=json under v1", "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=json", "200 application/json; charset=UTF-8\n" + geminiArray(strs(chunks)...)},
		{"mid-stream error", arrayPath, "200 application/json; charset=UTF-8\n" +
			geminiArray(string(chunks[0]), errorJSON(503, "UNAVAILABLE", "The model is overloaded."))},
		{"error before the first chunk", arrayPath, errAnswer(429, " Retry-After=9", errorJSON(429, "RESOURCE_EXHAUSTED", "Quota exceeded."))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.request("POST", tc.path, aliceKey, generateBody)
			body := readAll(t, resp)
			assert.Equal(t, tc.want, dumpAnswer(resp, body))
			assert.NotEmpty(t, resp.Header.Get("X-Stream-Id"))
			if resp.StatusCode == http.StatusOK {
				var elements []json.RawMessage
				require.NoError(t, json.Unmarshal(body, &elements), "the body is one JSON value")
			}
		})
	}
	reqs := e.fake.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, "alt=sse", reqs[0].RawQuery, "the upstream is always read as an event stream")
	assert.Equal(t, "/v1/models/gemini-2.5-flash:streamGenerateContent", reqs[1].Path)
}

// pausingScript sends its first chunk, then waits until the fake is closed before the others:
// the test decides when the upstream finishes.
func pausingScript(chunks [][]byte) *upstreamtest.Script {
	return &upstreamtest.Script{Steps: []upstreamtest.Step{
		upstreamtest.Event(chunks[0]),
		{Delay: time.Hour, Data: chunks[1]},
		upstreamtest.Event(chunks[2]),
	}}
}

// TestArrayStreamIsProgressive: the first element reaches the caller, and a standard streaming
// JSON decoder reads it, while the upstream is still generating; the rest follows when it goes on.
func TestArrayStreamIsProgressive(t *testing.T) {
	chunks := upstreamtest.Chunks(defaultTexts...)
	e := newEnv(t, options{script: pausingScript(chunks)})
	resp := e.request("POST", arrayPath, aliceKey, generateBody)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	id := resp.Header.Get("X-Stream-Id")

	first := make([]byte, len("[")+len(chunks[0]))
	_, err := io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	assert.Equal(t, "["+string(chunks[0]), string(first))
	assert.Equal(t, "active", e.info(aliceKey, id).Status, "the upstream has not finished")

	dec := json.NewDecoder(io.MultiReader(strings.NewReader(string(first)), resp.Body))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('['), tok)
	var el json.RawMessage
	require.NoError(t, dec.Decode(&el), "the first element decodes before the upstream goes on")
	assert.JSONEq(t, string(chunks[0]), string(el))

	e.fake.Close() // the upstream goes on
	for _, want := range chunks[1:] {
		require.True(t, dec.More())
		require.NoError(t, dec.Decode(&el))
		assert.JSONEq(t, string(want), string(el))
	}
	require.False(t, dec.More())
	tok, err = dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim(']'), tok)
	e.waitStatus(aliceKey, id, "completed")
}

// TestArrayStreamResumesOnTheEventsRoute: a JSON array stream is shared like any Gemini-route
// stream; a caller that got N elements resumes with ?after=N on the events route, and both see
// the same chunks.
func TestArrayStreamResumesOnTheEventsRoute(t *testing.T) {
	chunks := upstreamtest.Chunks(defaultTexts...)
	e := newEnv(t, options{script: pausingScript(chunks)})
	resp := e.request("POST", arrayPath, aliceKey, generateBody)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	first := make([]byte, len("[")+len(chunks[0]))
	_, err := io.ReadFull(resp.Body, first)
	require.NoError(t, err)

	resumed := e.subscribe(carolKey, id, "?after=1")
	defer resumed.close()
	e.waitClients(id, 2)
	e.fake.Close()
	assert.Equal(t, []event{
		{ID: "2", Type: "message", Data: string(chunks[1])},
		{ID: "3", Type: "message", Data: string(chunks[2])},
		{ID: "3", Type: "done", Data: `{"status":"completed","reason":"completed"}`},
	}, resumed.rest())
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, geminiArray(strs(chunks)...), string(first)+string(rest))
}
