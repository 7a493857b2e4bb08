package upstream_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestRunMidStreamFaults(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two ", "three")
	first2 := [][]byte{chunks[0], chunks[1]}
	prefix := []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event(chunks[1])}
	for _, tc := range []struct {
		name    string
		steps   []upstreamtest.Step
		framing upstreamtest.Framing
		code    int
		status  string
		message string
	}{
		{
			name:    "reset",
			steps:   []upstreamtest.Step{upstreamtest.Reset()},
			code:    503,
			status:  "UNAVAILABLE",
			message: "", // the transport's wording varies: checked below
		},
		{
			name:    "clean end without finishReason",
			code:    503,
			status:  "UNAVAILABLE",
			message: "upstream stream ended without a final chunk (no finishReason)",
		},
		{
			name:    "unfinished event at the end",
			steps:   []upstreamtest.Step{upstreamtest.Raw([]byte("data: {\"candidates\":"))},
			code:    503,
			status:  "UNAVAILABLE",
			message: "upstream stream ended with 20 bytes that are not a complete event",
		},
		{
			name:    "pretty JSON error tail",
			steps:   []upstreamtest.Step{upstreamtest.ErrorTail(500, "An internal error has occurred.")},
			code:    500,
			status:  "INTERNAL",
			message: "An internal error has occurred.",
		},
		{
			name:    "pretty JSON error tail, CR framing",
			steps:   []upstreamtest.Step{upstreamtest.ErrorTail(503, "The model is overloaded.")},
			framing: upstreamtest.CR,
			code:    503,
			status:  "UNAVAILABLE",
			message: "The model is overloaded.",
		},
		{
			name:    "compact JSON error tail without a final newline",
			steps:   []upstreamtest.Step{upstreamtest.Raw([]byte(`{"error":{"code":429,"message":"Resource has been exhausted.","status":"RESOURCE_EXHAUSTED"}}`))},
			code:    429,
			status:  "RESOURCE_EXHAUSTED",
			message: "Resource has been exhausted.",
		},
		{
			name:    "JSON error tail, then a reset",
			steps:   []upstreamtest.Step{upstreamtest.ErrorTail(500, "Internal error encountered."), upstreamtest.Reset()},
			code:    500,
			status:  "INTERNAL",
			message: "Internal error encountered.",
		},
		{
			name:    "JSON error tail without a status",
			steps:   []upstreamtest.Step{upstreamtest.Raw([]byte("{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"Bad.\"\n  }\n}\n"))},
			code:    400,
			status:  "INVALID_ARGUMENT",
			message: "Bad.",
		},
		{
			name:    "error as an event",
			steps:   []upstreamtest.Step{upstreamtest.Event([]byte(`{"error":{"code":500,"message":"Boom.","status":"INTERNAL"}}`))},
			code:    500,
			status:  "INTERNAL",
			message: "Boom.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := upstreamtest.Script{Steps: append(append([]upstreamtest.Step(nil), prefix...), tc.steps...), Framing: tc.framing}
			e := newEnv(t, sc)
			o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
			requireFailed(t, o, first2, tc.code, tc.status, tc.message)
			if tc.message == "" {
				require.Contains(t, o.errChunk(t).Err.Message, "upstream connection dropped mid-stream: ")
			}
			require.Equal(t, 1, e.fake.RequestCount(), "a Gemini request is never re-sent after an event was forwarded")
		})
	}
}

func TestRunStalledUpstream(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	sc := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Stall()}}
	e := newEnv(t, sc)
	r := e.runner(e.gemini(), upstream.RunnerConfig{Timeouts: upstream.Timeouts{Idle: 100 * time.Millisecond}})
	o := e.run(r, geminiReq)
	requireFailed(t, o, chunks[:1], 504, "DEADLINE_EXCEEDED", "upstream sent nothing for 100ms")
	require.Equal(t, 1, e.fake.RequestCount())
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}

func TestRunSlowButSteadyUpstreamIsNotIdle(t *testing.T) {
	// 8 chunks 100 ms apart: the stream lasts twice the idle timeout, each gap a quarter of it.
	sc := upstreamtest.Gemini(upstreamtest.Texts(8, 10)...).Paced(100 * time.Millisecond)
	e := newEnv(t, sc)
	r := e.runner(e.gemini(), upstream.RunnerConfig{Timeouts: upstream.Timeouts{FirstEvent: 2 * time.Second, Idle: 400 * time.Millisecond}})
	requireCompleted(t, e.run(r, geminiReq), sc.Events())
}

func TestRunNoFirstEventInTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []upstreamtest.Step
	}{
		{"headers never sent", []upstreamtest.Step{upstreamtest.Stall()}},
		{"headers sent, no event", []upstreamtest.Step{upstreamtest.Headers(), upstreamtest.Stall()}},
		{"only comments", []upstreamtest.Step{upstreamtest.Raw([]byte(": hello\r\n\r\n")), upstreamtest.Stall()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, upstreamtest.Script{Steps: tc.steps})
			// 300ms, not less: on a loaded 2-core machine the fake's headers alone took over
			// 100ms to arrive, which failed "headers sent" with the headers' timeout instead.
			r := e.runner(e.gemini(), upstream.RunnerConfig{Timeouts: upstream.Timeouts{FirstEvent: 300 * time.Millisecond}})
			o := e.run(r, geminiReq)
			requireFailed(t, o, nil, 504, "DEADLINE_EXCEEDED", "no event from upstream within 300ms")
			require.Equal(t, 1, e.fake.RequestCount(), "the built-in policy does not retry a first-event timeout")
			require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
		})
	}
}

func TestRunResetBeforeFirstByteIsRetried(t *testing.T) {
	sc := upstreamtest.Gemini("ok")
	e := newEnv(t, sc)
	e.fake.Enqueue(upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Reset()}})
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireCompleted(t, o, sc.Events())
	require.Equal(t, 2, e.fake.RequestCount())
}

func TestRunDropBeforeFirstEventIsRetried(t *testing.T) {
	sc := upstreamtest.Gemini("ok")
	e := newEnv(t, sc)
	e.fake.Enqueue(
		upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Headers(), upstreamtest.Reset()}},
		upstreamtest.Script{}, // 200 with an empty body
		upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.ErrorTail(503, "overloaded")}}, // 200, then an error body
	)
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireCompleted(t, o, sc.Events())
	require.Equal(t, 4, e.fake.RequestCount())
}

func TestRunUnreachableUpstream(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	e := newEnv(t, upstreamtest.Gemini("unused"))
	o := e.run(e.runner(e.geminiAt("http://"+addr), upstream.RunnerConfig{}), geminiReq)
	requireFailed(t, o, nil, 503, "UNAVAILABLE", "")
	msg := o.errChunk(t).Err.Message
	require.Contains(t, msg, "upstream request to "+addr+" failed: ")
	require.Contains(t, msg, "connection refused")
	require.Equal(t, 4, strings.Count(e.logs.String(), "msg=\"upstream attempt failed; retrying\"")+1, "MaxAttempts attempts")
}

func TestRunStreamClosedByAnotherParty(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	sc := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Stall()}}
	e := newEnv(t, sc)
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	id := e.stream()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, id, geminiReq) }()
	require.Eventually(t, func() bool {
		info, err := e.m.Info(ctx, id)
		return err == nil && info.LastChunkID == 1
	}, 5*time.Second, time.Millisecond)

	require.NoError(t, e.m.CloseStream(ctx, id, "client went away"))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the stream was closed")
	}
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
	o := e.outcome(id)
	require.Equal(t, "client went away", o.info.CloseReason)
	require.Equal(t, chunks[:1], o.data())
	require.Len(t, o.chunks, 1, "no error chunk for a stream someone else closed")
}

func TestRunStreamClosedDuringRetryWait(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(503, "busy").With("Retry-After", "30"))
	r := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 3}})
	id := e.stream()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, id, geminiReq) }()
	require.Eventually(t, func() bool { return e.fake.RequestCount() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, e.m.CloseStream(ctx, id, "stop"))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept waiting for a retry on a closed stream")
	}
	require.Equal(t, 1, e.fake.RequestCount())
}

func TestRunCallerContextCancelled(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Stall()}})
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	id := e.stream()
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(c, id, geminiReq) }()
	require.Eventually(t, func() bool {
		info, err := e.m.Info(ctx, id)
		return err == nil && info.LastChunkID == 1
	}, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	requireFailed(t, e.outcome(id), chunks[:1], 499, "CANCELLED", "request cancelled")
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}

func TestRunCallerDeadline(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Stall()}})
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	id := e.stream()
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.NoError(t, r.Run(c, id, geminiReq))
	requireFailed(t, e.outcome(id), nil, 504, "DEADLINE_EXCEEDED", "request deadline exceeded")
}

// TestRunErrorBeforeFirstByteIsTheFirstChunk: the gateway turns such a first chunk into the
// HTTP status and body of its answer.
func TestRunErrorBeforeFirstByteIsTheFirstChunk(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(404, "models/nope is not found for API version v1beta."))
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireFailed(t, o, nil, 404, "NOT_FOUND", "models/nope is not found for API version v1beta.")
	require.Equal(t, uint64(1), o.chunks[0].ID)
	require.Equal(t, manager.StatusError, o.info.Status)
	require.Equal(t, 1, e.fake.RequestCount())
}
