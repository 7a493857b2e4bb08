package upstream_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// idEvents returns n events with IDs 1..n and data "event i".
func idEvents(n int) []upstreamtest.Step {
	steps := make([]upstreamtest.Step, n)
	for i := range steps {
		steps[i] = upstreamtest.EventWithID(fmt.Sprint(i+1), "", []byte(fmt.Sprintf("event %d", i+1)))
	}
	return steps
}

func eventData(from, to int) [][]byte {
	var out [][]byte
	for i := from; i <= to; i++ {
		out = append(out, []byte(fmt.Sprintf("event %d", i)))
	}
	return out
}

func (e *env) sse(cfg upstream.SSEConfig) *upstream.SSE {
	e.t.Helper()
	if cfg.URL == "" {
		cfg.URL = e.baseURL + "/v1/chat/completions?stream=true"
	}
	p, err := upstream.NewSSE(cfg)
	require.NoError(e.t, err)
	return p
}

// TestSSEURLUserInfo: a URL's user info goes as basic authentication, as an http.Client sends it,
// unless the configured headers carry an Authorization of their own.
func TestSSEURLUserInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"user info", nil, "Basic dXNlcjpwYXNz"}, // user:pass
		{"own header", map[string]string{"Authorization": "Bearer sk-" + testKey}, "Bearer sk-" + testKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, upstreamtest.Script{Steps: idEvents(1)})
			url := strings.Replace(e.baseURL, "://", "://user:pass@", 1) + "/events"
			p := e.sse(upstream.SSEConfig{URL: url, Headers: tc.headers})
			requireCompleted(t, e.run(e.runner(p, upstream.RunnerConfig{}), upstream.Request{Body: []byte(`{}`)}), eventData(1, 1))
			require.Equal(t, tc.want, e.fake.Requests()[0].Header.Get("Authorization"))
		})
	}
}

func TestSSERequest(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{Steps: idEvents(2)})
	p := e.sse(upstream.SSEConfig{Headers: map[string]string{"Authorization": "Bearer sk-" + testKey, "X-Custom": "yes", "Accept": "application/json"}})
	o := e.run(e.runner(p, upstream.RunnerConfig{}), upstream.Request{Model: "ignored", Body: []byte(`{"model":"gpt","stream":true}`)})
	requireCompleted(t, o, eventData(1, 2))

	req := e.fake.Requests()[0]
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/v1/chat/completions", req.Path)
	require.Equal(t, "stream=true", req.RawQuery, "no alt=sse on a generic SSE URL")
	require.Equal(t, []byte(`{"model":"gpt","stream":true}`), req.Body)
	require.Equal(t, "Bearer sk-"+testKey, req.Header.Get("Authorization"))
	require.Equal(t, "yes", req.Header.Get("X-Custom"))
	require.Equal(t, "text/event-stream", req.Header.Get("Accept"), "Accept cannot be overridden")
	require.Equal(t, "no-cache", req.Header.Get("Cache-Control"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.Empty(t, req.Header.Get("Last-Event-ID"))
}

func TestSSEGetHasNoBody(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{Steps: idEvents(1)})
	o := e.run(e.runner(e.sse(upstream.SSEConfig{Method: http.MethodGet}), upstream.RunnerConfig{}), upstream.Request{Body: []byte(`{"x":1}`)})
	requireCompleted(t, o, eventData(1, 1))
	req := e.fake.Requests()[0]
	require.Equal(t, http.MethodGet, req.Method)
	require.Empty(t, req.Body)
	require.Empty(t, req.Header.Get("Content-Type"))
}

func TestSSEResumesWithLastEventID(t *testing.T) {
	full := upstreamtest.Script{Steps: idEvents(6), Resume: true}
	e := newEnv(t, full)
	first := upstreamtest.Script{Steps: append(append([]upstreamtest.Step{upstreamtest.Raw([]byte("retry: 200\n\n"))}, idEvents(3)...), upstreamtest.Reset())}
	e.fake.Enqueue(first)
	o := e.run(e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}), upstream.Request{})
	requireCompleted(t, o, eventData(1, 6))

	reqs := e.fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "3", reqs[1].Header.Get("Last-Event-ID"))
	require.GreaterOrEqual(t, reqs[1].Time.Sub(reqs[0].Time), 200*time.Millisecond, "the stream's retry field sets the reconnection wait")
}

func TestSSEResumesAfterIdleAndAfterRepeatedDrops(t *testing.T) {
	full := upstreamtest.Script{Steps: idEvents(5), Resume: true}
	e := newEnv(t, full)
	e.fake.Enqueue(
		upstreamtest.Script{Steps: append(idEvents(2), upstreamtest.Stall())},
		upstreamtest.Error(503, "busy"),
		upstreamtest.Script{Steps: append(idEvents(4), upstreamtest.Reset()), Resume: true},
	)
	r := e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{Timeouts: upstream.Timeouts{Idle: 100 * time.Millisecond}})
	requireCompleted(t, e.run(r, upstream.Request{}), eventData(1, 5))
	var ids []string
	for _, req := range e.fake.Requests() {
		ids = append(ids, req.Header.Get("Last-Event-ID"))
	}
	require.Equal(t, []string{"", "2", "2", "4"}, ids)
}

func TestSSEResumeGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Reset()}})
	e.fake.Enqueue(upstreamtest.Script{Steps: append(idEvents(2), upstreamtest.Reset())})
	o := e.run(e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}), upstream.Request{})
	requireFailed(t, o, eventData(1, 2), 503, "UNAVAILABLE", "")
	// The attempt that forwarded events counts as the first of the resumed sequence.
	require.Equal(t, fastRetry.MaxAttempts, e.fake.RequestCount())
}

func TestSSEWithoutIDsIsNotResumed(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{
		upstreamtest.Event([]byte("a")), upstreamtest.Event([]byte("b")), upstreamtest.Reset(),
	}})
	o := e.run(e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}), upstream.Request{})
	requireFailed(t, o, [][]byte{[]byte("a"), []byte("b")}, 503, "UNAVAILABLE", "")
	require.Contains(t, o.errChunk(t).Err.Message, "upstream connection dropped mid-stream: ")
	require.Equal(t, 1, e.fake.RequestCount())
}

func TestSSENoContentEndsTheStream(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{Status: http.StatusNoContent, Body: []byte{}})
	e.fake.Enqueue(upstreamtest.Script{Steps: append(idEvents(2), upstreamtest.Reset())})
	requireCompleted(t, e.run(e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}), upstream.Request{}), eventData(1, 2))
	require.Equal(t, 2, e.fake.RequestCount())
}

func TestSSEIDOnlyBlockSetsTheResumePoint(t *testing.T) {
	full := upstreamtest.Script{Steps: idEvents(3), Resume: true}
	e := newEnv(t, full)
	e.fake.Enqueue(upstreamtest.Script{Steps: append(idEvents(1), upstreamtest.Raw([]byte("id: 2\n\n")), upstreamtest.Reset())})
	requireCompleted(t, e.run(e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}), upstream.Request{}),
		[][]byte{[]byte("event 1"), []byte("event 3")})
	require.Equal(t, "2", e.fake.Requests()[1].Header.Get("Last-Event-ID"))
}

func TestSSEGenerateIsUnsupported(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	_, err := e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}).Generate(ctx, upstream.Request{})
	require.ErrorIs(t, err, upstream.ErrUnsupported)
	require.Zero(t, e.fake.RequestCount())
}
