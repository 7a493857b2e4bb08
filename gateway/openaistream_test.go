package gateway_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

const (
	streamChatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],"stream":true}`
	usageChatBody  = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
)

// openAIFrames is the exact body OpenAI streams for these chunks, before its end.
func openAIFrames(chunks ...[]byte) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString("data: ")
		b.Write(c)
		b.WriteString("\n\n")
	}
	return b.String()
}

const openAIDone = "data: [DONE]\n\n"

// readOpenAIFrame reads one LF-framed event.
func readOpenAIFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "\n\n") {
		line, err := r.ReadString('\n')
		require.NoError(t, err, "after %q", b.String())
		b.WriteString(line)
	}
	return b.String()
}

// TestOpenAIStreamExactBytes: a streaming chat completion reaches Gemini's compatibility
// endpoint as it came, with the key as a bearer token, and comes back frame for frame, ending
// with data: [DONE]; the usage chunk include_usage asks for is delivered.
func TestOpenAIStreamExactBytes(t *testing.T) {
	e := newEnv(t, options{})
	for _, tc := range []struct {
		name, path, body string
		usage            bool
	}{
		{"v1", "/v1/chat/completions", streamChatBody, false},
		{"v1beta/openai", "/v1beta/openai/chat/completions", streamChatBody, false},
		{"include_usage", "/v1/chat/completions", usageChatBody, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.request("POST", tc.path, "", tc.body, bearer(aliceKey)...)
			body := readAll(t, resp)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			id := resp.Header.Get("X-Stream-Id")
			require.NotEmpty(t, id)
			want := openAIFrames(upstreamtest.OpenAIChunks(tc.usage, upstreamtest.OpenAITexts...)...) + openAIDone
			assert.Equal(t, want, string(body))

			reqs := e.fake.Requests()
			last := reqs[len(reqs)-1]
			assert.Equal(t, "POST /v1beta/openai/chat/completions", last.Method+" "+last.Path)
			assert.Equal(t, "Bearer "+upstreamKey, last.Header.Get("Authorization"))
			assert.Empty(t, last.Header.Get("x-goog-api-key"))
			assert.Equal(t, "text/event-stream", last.Header.Get("Accept"))
			assert.Equal(t, tc.body, string(last.Body))
			info := e.waitStatus(aliceKey, id, "completed")
			assert.Equal(t, "gemini-2.5-flash", info.Model)
		})
	}
}

// TestOpenAIStreamFailures: an error before the first chunk is the whole answer, with its status
// and OpenAI's error body; a failure after it is one OpenAI error frame and never data: [DONE];
// a stream that started is never sent upstream again.
func TestOpenAIStreamFailures(t *testing.T) {
	e := newEnv(t, options{runner: func(c *upstream.RunnerConfig) { c.Retry.MaxAttempts = 3 }})
	chunks := upstreamtest.OpenAIChunks(false, "Hello", " from")
	failing := upstreamtest.OpenAIStreamFailing(upstreamtest.OpenAIError{Message: "The model is overloaded.", Type: "server_error"}, "Hello", " from")
	for _, tc := range []struct {
		name     string
		scripts  []upstreamtest.Script
		want     string
		requests int
	}{
		{"429s retried until the attempts run out, the last answering", []upstreamtest.Script{
			{Status: 429, Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)},
			{Status: 429, Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)},
			{Status: 429, Header: http.Header{"Retry-After": {"0"}}, Body: []byte(`{"error":{"message":"Rate limit reached.","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`)},
		}, openAIAnswer(429, "", `{"error":{"message":"Rate limit reached.","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`), 3},
		{"400 not retried", []upstreamtest.Script{
			{Status: 400, Body: []byte(`[{"error":{"code":400,"message":"Invalid model.","status":"INVALID_ARGUMENT"}}]`)},
		}, openAIAnswer(400, "", `{"error":{"message":"Invalid model.","type":"invalid_request_error","param":null,"code":null}}`), 1},
		{"error event mid-stream", []upstreamtest.Script{
			failing,
		}, "200 text/event-stream\n" + openAIFrames(failing.Events()[:2]...) +
			`data: {"error":{"message":"The model is overloaded.","type":"server_error","param":null,"code":null}}` + "\n\n", 1},
		{"Gemini's raw error tail mid-stream", []upstreamtest.Script{{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{
			upstreamtest.Event(chunks[0]), upstreamtest.ErrorTail(503, "The model is overloaded."),
		}}}, "200 text/event-stream\n" + openAIFrames(chunks[0]) +
			`data: {"error":{"message":"The model is overloaded.","type":"server_error","param":null,"code":null}}` + "\n\n", 1},
		{"clean end without [DONE]", []upstreamtest.Script{{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{
			upstreamtest.Event(chunks[0]),
		}}}, "200 text/event-stream\n" + openAIFrames(chunks[0]) +
			`data: {"error":{"message":"upstream stream ended without data: [DONE]","type":"server_error","param":null,"code":null}}` + "\n\n", 1},
		{"connection reset mid-stream", []upstreamtest.Script{{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{
			upstreamtest.Event(chunks[0]), upstreamtest.Reset(),
		}}}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fake.RequestCount()
			e.fake.Enqueue(tc.scripts...)
			resp := e.request("POST", "/v1/chat/completions", "", streamChatBody, bearer(aliceKey)...)
			body := readAll(t, resp)
			got := dumpAnswer(resp, body)
			if tc.want == "" {
				assert.True(t, strings.HasPrefix(got, "200 text/event-stream\n"+openAIFrames(chunks[0])+`data: {"error":{"message":"upstream connection dropped mid-stream: `), got)
			} else {
				assert.Equal(t, tc.want, got)
			}
			assert.NotContains(t, string(body), openAIDone)
			assert.NotEmpty(t, resp.Header.Get("X-Stream-Id"))
			assert.Equal(t, tc.requests, e.fake.RequestCount()-before)
		})
	}
}

// TestOpenAIStreamKeepsUpstreamErrors: an OpenAI error the upstream sent keeps its own type,
// param and code on the stream, as a passed-through unary error does, both as the whole answer
// before the first chunk and as the error frame after it; Gemini's errors, which have none, get
// the type of their status. A watcher of the failed stream on the events route is still told
// Gemini's error JSON.
func TestOpenAIStreamKeepsUpstreamErrors(t *testing.T) {
	e := newEnv(t, options{runner: func(c *upstream.RunnerConfig) { c.Retry.MaxAttempts = 1 }})
	const toolsError = `{"error":{"message":"Invalid tools.","type":"invalid_request_error","param":"tools","code":"invalid_value"}}`
	chunks := upstreamtest.OpenAIChunks(false, "Hello")
	for _, tc := range []struct {
		name, watched string
		script        upstreamtest.Script
		want          string
	}{
		{"429 before the first chunk", `{"error":{"code":429,"message":"Rate limit reached.","status":"RESOURCE_EXHAUSTED"}}`,
			upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"7"}},
				Body: []byte(`{"error":{"message":"Rate limit reached.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)},
			openAIAnswer(429, " Retry-After=7", `{"error":{"message":"Rate limit reached.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)},
		{"400 in a JSON array before the first chunk", `{"error":{"code":400,"message":"Invalid tools.","status":"INVALID_ARGUMENT"}}`,
			upstreamtest.Script{Status: 400, Body: []byte("[" + toolsError + "]")},
			openAIAnswer(400, "", toolsError)},
		{"error event mid-stream", `{"error":{"code":400,"message":"Invalid tools.","status":"INVALID_ARGUMENT"}}`,
			upstreamtest.Script{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event([]byte(toolsError))}},
			"200 text/event-stream\n" + openAIFrames(chunks[0]) + "data: " + toolsError + "\n\n"},
		{"Gemini's error event mid-stream", `{"error":{"code":429,"message":"Quota.","status":"RESOURCE_EXHAUSTED"}}`,
			upstreamtest.Script{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]),
				upstreamtest.Event([]byte(`[{"error":{"code":429,"message":"Quota.","status":"RESOURCE_EXHAUSTED"}}]`))}},
			"200 text/event-stream\n" + openAIFrames(chunks[0]) + `data: {"error":{"message":"Quota.","type":"rate_limit_error","param":null,"code":null}}` + "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.Enqueue(tc.script)
			resp := e.request("POST", "/v1/chat/completions", "", streamChatBody, bearer(aliceKey)...)
			assert.Equal(t, tc.want, dumpAnswer(resp, readAll(t, resp)))
			id := resp.Header.Get("X-Stream-Id")
			require.NotEmpty(t, id)
			e.waitStatus(aliceKey, id, "error")
			watcher := e.subscribe(aliceKey, id, "?after=0")
			defer watcher.close()
			var errs []string
			for _, ev := range watcher.rest() {
				if ev.Type == "error" {
					errs = append(errs, ev.Data)
				}
			}
			assert.Equal(t, []string{tc.watched}, errs, "the events route's error frame is Gemini's")
		})
	}
}

// TestOpenAIStreamIsShared: a second client watching an OpenAI-route stream on the events route
// sees the same chunks, and a caller that left resumes after the frames it counted.
func TestOpenAIStreamIsShared(t *testing.T) {
	script := upstreamtest.OpenAIStream(true, upstreamtest.Texts(12, 16)...).Paced(3 * time.Millisecond)
	e := newEnv(t, options{script: &script, gateway: func(c *gateway.Config) { c.OrphanGrace = 10 * time.Second }})
	var want []string
	for _, c := range script.Events() {
		if s := string(c); s != "[DONE]" {
			want = append(want, s)
		}
	}
	// The fake answers an OpenAI request no script is queued for itself; queue the paced one.
	e.fake.Enqueue(script)
	resp := e.request("POST", "/v1/chat/completions", "", usageChatBody, bearer(aliceKey)...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	r := bufio.NewReader(resp.Body)
	var got []string
	for range 4 {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(readOpenAIFrame(t, r), "data: "), "\n\n"))
	}

	watcher := e.subscribe(aliceKey, id, "?after=0")
	defer watcher.close()
	resp.Body.Close()

	resumed := e.subscribe(aliceKey, id, "?after=4")
	defer resumed.close()
	for _, ev := range resumed.rest() {
		if ev.Type == "message" {
			got = append(got, ev.Data)
		}
	}
	assert.Equal(t, want, got, "the caller's frames and the resumed rest: no gap, no duplicate")

	var watched []string
	for _, ev := range watcher.rest() {
		if ev.Type == "message" {
			watched = append(watched, ev.Data)
		}
	}
	assert.Equal(t, want, watched, "the watcher sees the same chunks")

	byHeader := e.subscribe(aliceKey, id, "", "Last-Event-ID", "10")
	defer byHeader.close()
	var rest []string
	for _, ev := range byHeader.rest() {
		if ev.Type == "message" {
			rest = append(rest, ev.Data)
		}
	}
	assert.Equal(t, want[10:], rest, "Last-Event-ID resumes too")
	assert.Equal(t, 1, e.fake.RequestCount(), "never sent upstream again")
}

// TestOpenAIStreamDisconnectCancelsUpstream: the only caller leaving cancels the upstream request,
// as on the Gemini route.
func TestOpenAIStreamDisconnectCancelsUpstream(t *testing.T) {
	script := upstreamtest.OpenAIStream(false, upstreamtest.Texts(100, 16)...).Paced(10 * time.Millisecond)
	e := newEnv(t, options{})
	e.fake.Enqueue(script)
	resp := e.request("POST", "/v1/chat/completions", "", streamChatBody, bearer(aliceKey)...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readOpenAIFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()

	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond,
		"the upstream request is cancelled when the only subscriber leaves")
	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, gateway.ReasonClientDisconnected, info.CloseReason)
	assert.Less(t, info.LastEventID, uint64(100))
}

// TestOpenAIStreamModelNames: the model names OpenAI-compatible servers use pass the OpenAI
// route's check and label the stream as they came.
func TestOpenAIStreamModelNames(t *testing.T) {
	e := newEnv(t, options{})
	for _, model := range []string{"gpt-4o-mini", "meta-llama/Llama-3-8B-Instruct", "llama3:8b", "ft:gpt-4o:org@x+1_v2.0"} {
		t.Run(model, func(t *testing.T) {
			resp := e.request("POST", "/v1/chat/completions", "", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"stream":true}`, bearer(aliceKey)...)
			body := readAll(t, resp)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, openAIFrames(upstreamtest.OpenAIChunks(false, upstreamtest.OpenAITexts...)...)+openAIDone, string(body))
			info := e.waitStatus(aliceKey, resp.Header.Get("X-Stream-Id"), "completed")
			assert.Equal(t, model, info.Model)
		})
	}
}
