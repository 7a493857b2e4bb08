package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestRunRetriesTransientStatuses(t *testing.T) {
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			sc := upstreamtest.Gemini("fine")
			e := newEnv(t, sc)
			e.fake.Enqueue(upstreamtest.Error(code, "try again"))
			requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq), sc.Events())
			require.Equal(t, 2, e.fake.RequestCount())
		})
	}
}

func TestRunDoesNotRetryOtherStatuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  upstreamtest.Script
		code    int
		status  string
		message string
	}{
		{"400 Gemini body", upstreamtest.Error(400, "Invalid JSON payload received."), 400, "INVALID_ARGUMENT", "Invalid JSON payload received."},
		{"401", upstreamtest.Error(401, "Request had invalid authentication credentials."), 401, "UNAUTHENTICATED", "Request had invalid authentication credentials."},
		{"403", upstreamtest.Error(403, "Permission denied."), 403, "PERMISSION_DENIED", "Permission denied."},
		{"404", upstreamtest.Error(404, "Model not found."), 404, "NOT_FOUND", "Model not found."},
		{
			"own status name kept",
			upstreamtest.Script{Status: 400, Body: []byte(`{"error":{"code":400,"message":"User location is not supported.","status":"FAILED_PRECONDITION"}}`)},
			400, "FAILED_PRECONDITION", "User location is not supported.",
		},
		{
			"array form",
			upstreamtest.Script{Status: 400, Body: []byte(`[{"error":{"code":400,"message":"Bad.","status":"INVALID_ARGUMENT"}}]`)},
			400, "INVALID_ARGUMENT", "Bad.",
		},
		{
			"HTML body",
			upstreamtest.Script{Status: 413, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, Body: []byte("<html>too big</html>")},
			413, "INVALID_ARGUMENT", "upstream answered HTTP 413 Request Entity Too Large with a 20-byte text/html body that is not a Gemini error",
		},
		{
			"empty body",
			upstreamtest.Script{Status: 422, Body: []byte{}},
			422, "FAILED_PRECONDITION", "upstream answered HTTP 422 Unprocessable Entity with an empty body",
		},
		{
			"redirect not followed",
			upstreamtest.Script{Status: 302, Header: http.Header{"Location": {"https://elsewhere.example/steal"}}, Body: []byte{}},
			500, "INTERNAL", "upstream answered HTTP 302 Found, want 200 OK",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.script)
			o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
			requireFailed(t, o, nil, tc.code, tc.status, tc.message)
			require.Equal(t, 1, e.fake.RequestCount())
		})
	}
}

func TestRunRetriesExhausted(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(503, "The model is overloaded. Please try again later."))
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
	requireFailed(t, o, nil, 503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
	require.Equal(t, fastRetry.MaxAttempts, e.fake.RequestCount())
}

func TestRunMaxAttemptsOne(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(503, "busy"))
	r := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}})
	requireFailed(t, e.run(r, geminiReq), nil, 503, "UNAVAILABLE", "busy")
	require.Equal(t, 1, e.fake.RequestCount())
}

// The tests of retry waits run in a synctest bubble with the fake in-process (newLocalEnv): the
// bubble's clock jumps over a wait once every goroutine in it is blocked, so the waits take no
// real time and the times the fake records are exact.

func TestRunBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newLocalEnv(t, upstreamtest.Error(500, "flaky"))
		r := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{
			MaxAttempts: 3, InitialInterval: 20 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2,
		}})
		requireFailed(t, e.run(r, geminiReq), nil, 500, "INTERNAL", "flaky")
		reqs := e.fake.Requests()
		require.Len(t, reqs, 3)
		require.Equal(t, 20*time.Millisecond, reqs[1].Time.Sub(reqs[0].Time))
		require.Equal(t, 40*time.Millisecond, reqs[2].Time.Sub(reqs[1].Time))
	})
}

func TestRunMaxElapsedBoundsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newLocalEnv(t, upstreamtest.Error(500, "flaky"))
		r := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{
			MaxAttempts: 10, InitialInterval: 10 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 20, MaxElapsed: 2 * time.Second,
		}})
		requireFailed(t, e.run(r, geminiReq), nil, 500, "INTERNAL", "flaky")
		// Attempts at 0, 10 and 210 ms; the next would wait 4 s, past MaxElapsed.
		require.Equal(t, 3, e.fake.RequestCount())
		reqs := e.fake.Requests()
		require.Equal(t, 10*time.Millisecond, reqs[1].Time.Sub(reqs[0].Time))
		require.Equal(t, 210*time.Millisecond, reqs[2].Time.Sub(reqs[0].Time))
	})
}

func TestRunHonoursRetryAfterSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := upstreamtest.Gemini("after the wait")
		e := newLocalEnv(t, sc)
		e.fake.Enqueue(upstreamtest.Error(429, "Resource has been exhausted (e.g. check quota).").With("Retry-After", "1"))
		requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq), sc.Events())
		reqs := e.fake.Requests()
		require.Len(t, reqs, 2)
		require.Equal(t, time.Second, reqs[1].Time.Sub(reqs[0].Time), "the retry did not wait Retry-After")
	})
}

func TestRunHonoursRetryAfterDate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := upstreamtest.Gemini("after the wait")
		e := newLocalEnv(t, sc)
		// HTTP dates have whole seconds: start 0.3 s past one, so that the date 1.3 s away is 0.7 s
		// after the first attempt.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(300 * time.Millisecond)))
		at := time.Now().Add(1300 * time.Millisecond).UTC().Truncate(time.Second)
		e.fake.Enqueue(upstreamtest.Error(503, "busy").With("Retry-After", at.Format(http.TimeFormat)))
		requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq), sc.Events())
		reqs := e.fake.Requests()
		require.Len(t, reqs, 2)
		require.False(t, reqs[1].Time.Before(at), "retried at %v, before the Retry-After date %v", reqs[1].Time, at)
		require.Equal(t, 700*time.Millisecond, reqs[1].Time.Sub(reqs[0].Time))
	})
}

func TestRunRetryAfterBeyondMaxElapsedGivesUp(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(429, "quota").With("Retry-After", "3600"))
	r := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxElapsed: time.Minute}})
	requireFailed(t, e.run(r, geminiReq), nil, 429, "RESOURCE_EXHAUSTED", "quota")
	require.Equal(t, 1, e.fake.RequestCount())
}

func TestRunContextCancelledDuringRetryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newLocalEnv(t, upstreamtest.Error(503, "busy").With("Retry-After", "30"))
		r := e.runner(e.gemini(), upstream.RunnerConfig{})
		id := e.stream()
		c, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(c, id, geminiReq) }()
		synctest.Wait() // Run waits for the retry
		require.Equal(t, 1, e.fake.RequestCount())
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled context did not stop the retry wait")
		}
		requireFailed(t, e.outcome(id), nil, 499, "CANCELLED", "request cancelled")
		require.Equal(t, 1, e.fake.RequestCount())
	})
}

func TestRunErrorStatusWithStalledBodyKeepsTheStatus(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	// A 503 whose body never ends: the first-event timeout cuts the read, the status stays.
	e.fake.SetDefault(upstreamtest.Script{Status: 503, Steps: []upstreamtest.Step{upstreamtest.Raw([]byte(`{"error":`)), upstreamtest.Stall()}})
	r := e.runner(e.gemini(), upstream.RunnerConfig{
		Retry:    upstream.RetryConfig{MaxAttempts: 1},
		Timeouts: upstream.Timeouts{FirstEvent: 50 * time.Millisecond},
	})
	requireFailed(t, e.run(r, geminiReq), nil, 503, "UNAVAILABLE",
		"upstream answered HTTP 503 Service Unavailable with a 9-byte application/json body that is not a Gemini error")
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}
