package upstream_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

var openAIStreamReq = upstream.Request{Model: "gemini-2.5-flash", OpenAI: true,
	Body: []byte(`{"model":"gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)}

// An OpenAI stream is pushed chunk for chunk, the usage chunk included and [DONE] not, and its
// attempt is a chat span with the usage and finish reason of its last chunks.
func TestRunOpenAIStream(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	tp, exp := tracing(t)
	r := e.runner(e.gemini(), upstream.RunnerConfig{TracerProvider: tp})
	out := e.run(r, openAIStreamReq)
	require.Equal(t, upstreamtest.OpenAIChunks(true, upstreamtest.OpenAITexts...), out.data())
	require.Equal(t, manager.ReasonCompleted, out.info.CloseReason)
	reqs := e.fake.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/v1beta/openai/chat/completions", reqs[0].Path)
	require.Equal(t, string(openAIStreamReq.Body), string(reqs[0].Body))

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	require.Equal(t, "chat gemini-2.5-flash", spans[0].Name)
	a := attrs(spans[0].Attributes)
	require.Equal(t, "chat", a[telemetry.AttrOperationName].AsString())
	require.Equal(t, "fake-chatcmpl-1", a[telemetry.AttrResponseID].AsString())
	require.Equal(t, []string{"stop"}, a[telemetry.AttrFinishReasons].AsStringSlice())
	require.Equal(t, int64(3), a[telemetry.AttrInputTokens].AsInt64())
	require.Equal(t, int64(4), a[telemetry.AttrOutputTokens].AsInt64())
}

// A failed OpenAI stream ends with one error chunk, and is never sent again once a chunk was
// pushed; before the first chunk it is retried like a Gemini stream.
func TestRunOpenAIStreamFailures(t *testing.T) {
	chunks := upstreamtest.OpenAIChunks(false, "a", "b")
	for _, tc := range []struct {
		name     string
		scripts  []upstreamtest.Script
		pushed   int
		code     int
		message  string
		requests int
	}{
		{"error event", []upstreamtest.Script{upstreamtest.OpenAIStreamFailing(upstreamtest.OpenAIError{Message: "slow down", Type: "rate_limit_error"}, "a")},
			1, 429, "slow down", 1},
		{"no [DONE]", []upstreamtest.Script{{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0])}}},
			1, 503, "upstream stream ended without data: [DONE]", 1},
		{"reset after a chunk", []upstreamtest.Script{{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Reset()}}},
			1, 503, "", 1},
		{"503 then a stream", []upstreamtest.Script{
			{Status: 503, Body: []byte(`[{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}]`)},
			upstreamtest.OpenAIStream(false, "a", "b"),
		}, 2, 0, "", 2},
		{"not JSON before the first chunk, retried", []upstreamtest.Script{
			{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{upstreamtest.Event([]byte("hello"))}},
			upstreamtest.OpenAIStream(false, "a", "b"),
		}, 2, 0, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, upstreamtest.Script{})
			e.fake.Enqueue(tc.scripts...)
			out := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), openAIStreamReq)
			require.Len(t, out.data(), tc.pushed)
			require.Equal(t, tc.requests, e.fake.RequestCount())
			if tc.code == 0 {
				require.Equal(t, manager.ReasonCompleted, out.info.CloseReason)
				return
			}
			se := out.errChunk(t).Err
			require.Equal(t, tc.code, se.Code)
			if tc.message != "" {
				require.Equal(t, tc.message, se.Message)
			}
		})
	}
}

// An OpenAI error keeps its body, scrubbed of the gateway's key, as the stream error's Raw, so
// that the gateway can tell an OpenAI client its type, param and code: as the answer before the
// first chunk and as an error event after it. The error chunk's data stays Gemini's JSON.
func TestRunOpenAIStreamKeepsTheRawError(t *testing.T) {
	chunks := upstreamtest.OpenAIChunks(false, "a")
	echo := `{"error":{"message":"Key ` + testKey + ` is rate limited.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
	want := `{"error":{"message":"Key [redacted] is rate limited.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
	for _, tc := range []struct {
		name   string
		script upstreamtest.Script
		pushed int
		data   string
	}{
		{"error answer", upstreamtest.Script{Status: 429, Body: []byte(echo)}, 0,
			`{"error":{"code":429,"message":"Key [redacted] is rate limited.","status":"RESOURCE_EXHAUSTED"}}`},
		// An error event has no status of its own; a type OpenAI does not document is a 500.
		{"error event", upstreamtest.Script{Framing: upstreamtest.LF, Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event([]byte(echo))}}, 1,
			`{"error":{"code":500,"message":"Key [redacted] is rate limited.","status":"INTERNAL"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, upstreamtest.Script{})
			e.fake.Enqueue(tc.script)
			out := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}}), openAIStreamReq)
			require.Len(t, out.data(), tc.pushed)
			ch := out.errChunk(t)
			require.Equal(t, want, string(ch.Err.Raw))
			require.Equal(t, tc.data, string(ch.Data))
		})
	}
}
