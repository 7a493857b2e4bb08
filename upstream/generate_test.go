package upstream_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

func TestGeneratePassesTheResponseThrough(t *testing.T) {
	sc := upstreamtest.Gemini("Hello ", "world")
	e := newEnv(t, sc)
	resp, err := e.runner(e.gemini(), upstream.RunnerConfig{}).Generate(ctx, geminiReq)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	require.Equal(t, strconv.Itoa(len(sc.Body)), resp.Header.Get("Content-Length"))
	require.Equal(t, sc.Body, readAll(t, resp.Body))

	req := e.fake.Requests()[0]
	require.Equal(t, "/v1beta/models/gemini-2.5-flash:generateContent", req.Path)
	require.Empty(t, req.RawQuery)
	require.Equal(t, "application/json", req.Header.Get("Accept"))
	require.Equal(t, testKey, req.Header.Get("x-goog-api-key"))
	require.Equal(t, geminiReq.Body, req.Body)
}

func TestGenerateRetriesTransientErrors(t *testing.T) {
	sc := upstreamtest.Gemini("fine")
	e := newEnv(t, sc)
	e.fake.Enqueue(upstreamtest.Error(503, "busy"), upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Reset()}}, upstreamtest.Error(429, "quota"))
	resp, err := e.runner(e.gemini(), upstream.RunnerConfig{}).Generate(ctx, geminiReq)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, sc.Body, readAll(t, resp.Body))
	require.Equal(t, 4, e.fake.RequestCount())
}

func TestGenerateReturnsErrorResponses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   upstreamtest.Script
		requests int
	}{
		{"not retried", upstreamtest.Error(400, "Invalid argument."), 1},
		{"retries exhausted", upstreamtest.Error(503, "Overloaded."), fastRetry.MaxAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.script)
			resp, err := e.runner(e.gemini(), upstream.RunnerConfig{}).Generate(ctx, geminiReq)
			require.NoError(t, err)
			require.Equal(t, tc.script.Status, resp.StatusCode)
			require.Equal(t, tc.script.Body, readAll(t, resp.Body), "the error body is passed through unchanged")
			require.Equal(t, tc.requests, e.fake.RequestCount())
		})
	}
}

// TestGenerateDescribesErrorBodiesThatAreNotGeminiErrors: such a body may echo anything, so it is
// not passed through; the caller gets a Gemini-shaped error naming it, as on the streaming route.
func TestGenerateDescribesErrorBodiesThatAreNotGeminiErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   upstreamtest.Script
		want     *manager.StreamError
		requests int
	}{
		{
			"HTML body",
			upstreamtest.Script{Status: 413, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, Body: []byte("<html>too big</html>")},
			&manager.StreamError{Code: 413, Status: "INVALID_ARGUMENT", Message: "upstream answered HTTP 413 Request Entity Too Large with a 20-byte text/html body that is not a Gemini error"},
			1,
		},
		{
			"empty body",
			upstreamtest.Script{Status: 422, Body: []byte{}},
			&manager.StreamError{Code: 422, Status: "FAILED_PRECONDITION", Message: "upstream answered HTTP 422 Unprocessable Entity with an empty body"},
			1,
		},
		{
			"plain text echoing the key, retried",
			upstreamtest.Script{Status: 503, Header: http.Header{"Content-Type": {"text/plain"}, "Retry-After": {"0"}}, Body: []byte("busy, key " + testKey)},
			&manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "upstream answered HTTP 503 Service Unavailable with a 51-byte text/plain body that is not a Gemini error"},
			fastRetry.MaxAttempts,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.script)
			resp, err := e.runner(e.gemini(), upstream.RunnerConfig{}).Generate(ctx, geminiReq)
			require.Nil(t, resp)
			require.Equal(t, tc.want, err)
			require.Equal(t, tc.requests, e.fake.RequestCount())
		})
	}
}

// TestGenerateTimeouts: a stalled upstream hung the caller of :generateContent; FirstEvent now
// bounds the wait for the response's headers and Idle every silence while its body is read.
func TestGenerateTimeouts(t *testing.T) {
	// 300ms, not less: on a loaded 2-core machine a 400's headers took over 100ms to arrive, and
	// the case "the status wins" got the headers' timeout instead.
	timeouts := upstream.Timeouts{FirstEvent: 300 * time.Millisecond, Idle: 300 * time.Millisecond}
	for _, tc := range []struct {
		name     string
		script   upstreamtest.Script
		want     *manager.StreamError
		requests int
	}{
		{
			"stall before the headers",
			upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Stall()}},
			&manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "no response from upstream within 300ms"},
			1, // not retried, as on the streaming route
		},
		{
			"stall after the headers",
			upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Headers(), upstreamtest.Stall()}},
			&manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "upstream sent nothing for 300ms"},
			fastRetry.MaxAttempts, // retried like a dropped body
		},
		{
			"stall mid-body",
			upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Raw([]byte(`{"candidates":[`)), upstreamtest.Stall()}},
			&manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "upstream sent nothing for 300ms"},
			fastRetry.MaxAttempts,
		},
		{
			"error status whose body stalls: the status wins",
			upstreamtest.Script{Status: 400, Steps: []upstreamtest.Step{upstreamtest.Raw([]byte(`{"error":`)), upstreamtest.Stall()}},
			&manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: "upstream answered HTTP 400 Bad Request with a 9-byte application/json body that is not a Gemini error"},
			1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.script)
			resp, err := e.runner(e.gemini(), upstream.RunnerConfig{Timeouts: timeouts}).Generate(ctx, geminiReq)
			require.Nil(t, resp)
			require.Equal(t, tc.want, err)
			require.Equal(t, tc.requests, e.fake.RequestCount())
			require.Eventually(t, func() bool { return e.fake.CancelledCount() == tc.requests }, 5*time.Second, time.Millisecond,
				"every stalled request was cancelled")
		})
	}
}

func TestGenerateResponseTooLarge(t *testing.T) {
	sc := upstreamtest.Gemini(upstreamtest.Texts(1, 2048)...)
	e := newEnv(t, sc)
	resp, err := e.runner(e.gemini(), upstream.RunnerConfig{MaxEventSize: 1024}).Generate(ctx, geminiReq)
	require.Nil(t, resp)
	require.Equal(t, &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "upstream response larger than the limit of 1024 bytes"}, err)
	require.Equal(t, 1, e.fake.RequestCount())

	resp, err = e.runner(e.gemini(), upstream.RunnerConfig{MaxEventSize: len(sc.Body)}).Generate(ctx, geminiReq)
	require.NoError(t, err)
	require.Equal(t, sc.Body, readAll(t, resp.Body), "a response of exactly the limit passes")
}

func TestGenerateUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	e := newEnv(t, upstreamtest.Script{})
	resp, err := e.runner(e.geminiAt("http://"+addr), upstream.RunnerConfig{}).Generate(ctx, geminiReq)
	require.Nil(t, resp)
	var se *manager.StreamError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 503, se.Code)
	require.Equal(t, "UNAVAILABLE", se.Status)
	require.Contains(t, se.Message, "connection refused")
}

func TestGenerateDeciderRewrites(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(500, "stack trace: secret internals"))
	d := &recordingDecider{decide: func(upstream.ErrorInfo) upstream.Decision {
		return upstream.Decision{Action: upstream.ActionTerminate, Err: &manager.StreamError{Code: 500, Message: "Something went wrong."}}
	}}
	resp, err := e.runner(e.gemini(), upstream.RunnerConfig{Decider: d}).Generate(ctx, geminiReq)
	require.Nil(t, resp)
	require.Equal(t, &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "Something went wrong."}, err)
	infos := d.asked()
	require.Len(t, infos, 1)
	require.Empty(t, infos[0].StreamID)
	require.Equal(t, 500, infos[0].HTTPStatus)
}

func TestGenerateCancelledDuringRetryWait(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(503, "busy").With("Retry-After", "30"))
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := r.Generate(c, geminiReq)
		done <- result{resp, err}
	}()
	require.Eventually(t, func() bool { return e.fake.RequestCount() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	var res result
	select {
	case res = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled context did not stop the retry wait")
	}
	require.Nil(t, res.resp)
	require.Equal(t, &manager.StreamError{Code: 499, Status: "CANCELLED", Message: "request cancelled"}, res.err)
	require.Equal(t, 1, e.fake.RequestCount())
}

func TestGenerateBadModel(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	_, err := e.runner(e.gemini(), upstream.RunnerConfig{}).Generate(ctx, upstream.Request{Model: "a/b"})
	require.ErrorIs(t, err, upstream.ErrInvalidRequest)
}
