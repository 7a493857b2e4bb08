package upstream_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestRunGeminiForwardsEveryEventUnchanged(t *testing.T) {
	sc := upstreamtest.Gemini("Hel", "lo, ", "wor", "ld!")
	e := newEnv(t, sc)
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	before := time.Now()
	o := e.run(r, geminiReq)
	after := time.Now()

	requireCompleted(t, o, sc.Events())
	for i, ch := range o.chunks {
		require.Equal(t, uint64(i+1), ch.ID)
		require.False(t, ch.Time.Before(before) || ch.Time.After(after), "chunk %d stamped %v", i, ch.Time)
	}
	require.Equal(t, 1, e.fake.RequestCount())
	require.Equal(t, 0, e.fake.CancelledCount())

	req := e.fake.Requests()[0]
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", req.Path)
	require.Equal(t, "alt=sse", req.RawQuery)
	require.Equal(t, "streamGenerateContent", req.Call)
	require.Equal(t, "gemini-2.5-flash", req.Model)
	require.Equal(t, geminiReq.Body, req.Body)
	require.Equal(t, testKey, req.Header.Get("x-goog-api-key"))
	require.Equal(t, "text/event-stream", req.Header.Get("Accept"))
	require.Equal(t, "no-cache", req.Header.Get("Cache-Control"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.Empty(t, req.Header.Get("Authorization"))
}

func TestRunGeminiFramings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		framing upstreamtest.Framing
	}{
		{"CRLF", upstreamtest.CRLF},
		{"LF", upstreamtest.LF},
		{"CR only", upstreamtest.CR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := upstreamtest.Gemini(upstreamtest.Texts(5, 300)...)
			sc.Framing = tc.framing
			e := newEnv(t, sc)
			requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq), sc.Events())
		})
	}
}

func TestRunGeminiHugeEvent(t *testing.T) {
	huge := upstreamtest.Chunks(strings.Repeat("x", 8<<20), "done")
	sc := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(huge[0]), upstreamtest.Event(huge[1])}}
	e := newEnv(t, sc)
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireCompleted(t, o, huge)
	require.Greater(t, len(o.chunks[0].Data), 8<<20)
}

func TestRunEventOverTheLimitFails(t *testing.T) {
	chunks := upstreamtest.Chunks(strings.Repeat("x", 2000), "done")
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event(chunks[1])}})
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{MaxEventSize: 1024}), geminiReq)
	requireFailed(t, o, nil, 500, "INTERNAL", "upstream event larger than the limit of 1024 bytes")
	require.Equal(t, 1, e.fake.RequestCount())
}

func TestRunGeminiBlockedPromptCompletes(t *testing.T) {
	blocked := []byte(`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"modelVersion":"m"}`)
	sc := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(blocked)}}
	e := newEnv(t, sc)
	requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq), sc.Events())
}

func TestRunWordsInTextDoNotCountAsFinal(t *testing.T) {
	// The text of the only chunk contains `"finishReason` but the chunk has no finishReason field.
	chunk := []byte(`{"candidates":[{"content":{"parts":[{"text":"\"finishReason\": \"STOP\""}],"role":"model"},"index":0}]}`)
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunk)}})
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireFailed(t, o, [][]byte{chunk}, 503, "UNAVAILABLE", "upstream stream ended without a final chunk (no finishReason)")
}

func TestRunUnknownStreamAndBadModel(t *testing.T) {
	e := newEnv(t, upstreamtest.Gemini("a"))
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	require.ErrorContains(t, r.Run(ctx, "no-such-stream", geminiReq), "stream not found")

	o := e.run(r, upstream.Request{Model: "../../v1/files", Body: geminiReq.Body})
	requireFailed(t, o, nil, 400, "INVALID_ARGUMENT", "run upstream for stream "+o.info.ID+
		`: invalid upstream request: model name "../../v1/files" has '/' at byte 2 (allowed: ASCII letters, digits, '-', '.', '_', '@')`)
	require.Zero(t, e.fake.RequestCount(), "a request that cannot be made is not sent")
}

func TestRunConcurrentStreams(t *testing.T) {
	sc := upstreamtest.Gemini(upstreamtest.Texts(20, 50)...).Paced(time.Millisecond)
	e := newEnv(t, sc)
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	const n = 20
	ids := make([]string, n)
	errs := make(chan error, n)
	for i := range ids {
		ids[i] = e.stream()
		go func() { errs <- r.Run(ctx, ids[i], geminiReq) }()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	for _, id := range ids {
		requireCompleted(t, e.outcome(id), sc.Events())
	}
	require.Equal(t, n, e.fake.RequestCount())
}

func TestRunPushesEventTypesOfPlainStreams(t *testing.T) {
	sc := upstreamtest.Script{Steps: []upstreamtest.Step{
		upstreamtest.EventWithID("", "delta", []byte("one")),
		upstreamtest.Event([]byte("two\nlines")),
		upstreamtest.Raw([]byte(": keep-alive\n\n")),
		upstreamtest.EventWithID("", "done", []byte("[DONE]")),
	}}
	e := newEnv(t, sc)
	p, err := upstream.NewSSE(upstream.SSEConfig{URL: e.baseURL + "/v1/chat"})
	require.NoError(t, err)
	o := e.run(e.runner(p, upstream.RunnerConfig{}), upstream.Request{Body: []byte(`{}`)})
	require.Equal(t, "completed", o.info.CloseReason)
	require.Len(t, o.chunks, 3)
	for i, want := range []struct{ event, data string }{{"delta", "one"}, {"", "two\nlines"}, {"done", "[DONE]"}} {
		require.Equal(t, want.event, o.chunks[i].Event)
		require.True(t, bytes.Equal([]byte(want.data), o.chunks[i].Data))
	}
}
