package upstream_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// requireErrorBody checks that the stream's only error chunk, which the gateway answers as the
// HTTP body of a failure before the first chunk, is exactly Gemini's error JSON for code, status
// and message.
func requireErrorBody(t *testing.T, o outcome, code int, status, message string) {
	t.Helper()
	require.JSONEq(t, `{"error":{"code":`+strconv.Itoa(code)+`,"status":"`+status+`","message":"`+message+`"}}`, string(o.errChunk(t).Data))
}

// TestRunRefusesA200ThatIsNotAnEventStream: a 200 page holding a "data:" line was forwarded as a
// stream with a frame of it; the Content-Type is now checked before any byte of the body is read.
func TestRunRefusesA200ThatIsNotAnEventStream(t *testing.T) {
	page := upstreamtest.Raw([]byte("<html><body>\ndata: {\"candidates\":[]}\n\n</body></html>\n"))
	for _, tc := range []struct {
		name        string
		contentType string
		message     string
	}{
		{"HTML page", "text/html; charset=utf-8",
			"upstream answered 200 OK with Content-Type text/html, not an event stream (want text/event-stream)"},
		{"JSON", "application/json",
			"upstream answered 200 OK with Content-Type application/json, not an event stream (want text/event-stream)"},
		{"not a media type", "event stream",
			"upstream answered 200 OK with a Content-Type that is not a media type, not an event stream (want text/event-stream)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{page}}.With("Content-Type", tc.contentType))
			o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
			requireFailed(t, o, nil, 503, "UNAVAILABLE", tc.message)
			requireErrorBody(t, o, 503, "UNAVAILABLE", tc.message)
			require.Equal(t, fastRetry.MaxAttempts, e.fake.RequestCount(), "retried like a body that ends early")
		})
	}
}

func TestRunMissingContentTypeIsNotAnEventStream(t *testing.T) {
	// A nil Script.Header value keeps the fake (and net/http) from setting the header.
	sc := upstreamtest.Gemini("ok")
	sc.Header = map[string][]string{"Content-Type": nil}
	e := newEnv(t, sc)
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}}), geminiReq)
	requireFailed(t, o, nil, 503, "UNAVAILABLE",
		"upstream answered 200 OK with no Content-Type, not an event stream (want text/event-stream)")
}

func TestRunEventStreamWithParametersIsAccepted(t *testing.T) {
	sc := upstreamtest.Gemini("one ", "two").With("Content-Type", "Text/Event-Stream; charset=utf-8")
	e := newEnv(t, sc)
	requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq), sc.Events())
}

// TestRunGeminiEventThatIsNotJSON: a Gemini stream of "data: a" events was forwarded event by
// event; the first one now fails the attempt, and no frame of it reaches the stream.
func TestRunGeminiEventThatIsNotJSON(t *testing.T) {
	junk := make([]upstreamtest.Step, 1000)
	for i := range junk {
		junk[i] = upstreamtest.Event([]byte("a"))
	}
	chunks := upstreamtest.Chunks("one ", "two")
	const message = "upstream sent an event with 1-byte data that is not a JSON object, not a Gemini stream"
	t.Run("before the first event", func(t *testing.T) {
		e := newEnv(t, upstreamtest.Script{Steps: junk})
		o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
		requireFailed(t, o, nil, 503, "UNAVAILABLE", message)
		requireErrorBody(t, o, 503, "UNAVAILABLE", message)
		require.Equal(t, fastRetry.MaxAttempts, e.fake.RequestCount(), "retried like a body that ends early")
	})
	t.Run("mid-stream", func(t *testing.T) {
		e := newEnv(t, upstreamtest.Script{Steps: append([]upstreamtest.Step{upstreamtest.Event(chunks[0])}, junk...)})
		o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
		requireFailed(t, o, chunks[:1], 503, "UNAVAILABLE", message)
		require.Equal(t, 1, e.fake.RequestCount(), "a Gemini request is never re-sent after an event was forwarded")
	})
	t.Run("empty data", func(t *testing.T) {
		e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Raw([]byte("data:\r\n\r\n"))}})
		o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}}), geminiReq)
		requireFailed(t, o, nil, 503, "UNAVAILABLE", "upstream sent an event with 0-byte data that is not a JSON object, not a Gemini stream")
	})
}

func TestSSEContentTypes(t *testing.T) {
	events := upstreamtest.Script{Steps: idEvents(2)}
	for _, tc := range []struct {
		name        string
		configured  []string
		contentType string
		message     string // "" means the stream completes
	}{
		{"default, event stream", nil, "text/event-stream", ""},
		{"default, HTML", nil, "text/html",
			"upstream answered 200 OK with Content-Type text/html, not an event stream (want text/event-stream)"},
		{"configured, matching", []string{"text/event-stream", "Text/Plain"}, "text/plain; charset=utf-8", ""},
		{"configured, not matching", []string{"application/x-ndjson"}, "text/event-stream",
			"upstream answered 200 OK with Content-Type text/event-stream, not an event stream (want application/x-ndjson)"},
		{"configured two, not matching", []string{"text/event-stream", "text/plain"}, "text/html",
			"upstream answered 200 OK with Content-Type text/html, not an event stream (want text/event-stream or text/plain)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, events.With("Content-Type", tc.contentType))
			r := e.runner(e.sse(upstream.SSEConfig{ContentTypes: tc.configured}), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}})
			o := e.run(r, upstream.Request{})
			if tc.message == "" {
				requireCompleted(t, o, eventData(1, 2))
				return
			}
			requireFailed(t, o, nil, 503, "UNAVAILABLE", tc.message)
		})
	}
}

func TestSSEContentTypesConfig(t *testing.T) {
	for _, bad := range []string{"", "text", "text/event-stream; charset=utf-8", "*/*", "text/*", "a b/c"} {
		_, err := upstream.NewSSE(upstream.SSEConfig{URL: "http://127.0.0.1/s", ContentTypes: []string{"text/event-stream", bad}})
		require.ErrorIs(t, err, upstream.ErrInvalidConfig, "%q", bad)
		require.ErrorContains(t, err, "sse ContentTypes[1]")
	}
}
