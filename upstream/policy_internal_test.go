package upstream

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", math.MaxInt64},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute},
		{"Sun Mar  1 12:00:05 2026", 5 * time.Second},
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, parseRetryAfter(tc.in, now))
		})
	}
}

func TestBuiltinPolicy(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	status := func(code int) *failure {
		return statusFailure(&http.Response{StatusCode: code, Header: http.Header{}}, nil, now)
	}
	for _, tc := range []struct {
		name      string
		f         *failure
		retryable bool
		want      Action
	}{
		{"connect", connectFailure(mustURL("http://h"), context.Canceled), true, ActionRetry},
		{"503", status(503), true, ActionRetry},
		{"400", status(400), true, ActionTerminate},
		{"drop after events", dropFailure(context.Canceled, true), false, ActionTerminate},
		{"first event timeout", firstEventFailure(time.Second), true, ActionTerminate},
		{"too large", tooLargeFailure(10), true, ActionTerminate},
		{"credential", credentialFailure(context.Canceled), true, ActionTerminate},
		{"Gemini 500 before events", upstreamFailure(&manager.StreamError{Code: 500}), true, ActionRetry},
		{"Gemini 400 before events", upstreamFailure(&manager.StreamError{Code: 400}), true, ActionTerminate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, builtinDecision(ErrorInfo{Retryable: tc.retryable}, tc.f).Action)
		})
	}
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		require.True(t, retryableStatus(code), code)
	}
	for _, code := range []int{400, 401, 403, 404, 409, 413, 422, 501, 505} {
		require.False(t, retryableStatus(code), code)
	}
}

// TestDecideMaxElapsedBoundsRetries walks a retry sequence through decide on a clock of its own:
// each retry's wait moves the sequence's start back by that wait, as if it had passed. The budget is
// minutes and the test takes microseconds, so the outcome does not depend on scheduling.
func TestDecideMaxElapsedBoundsRetries(t *testing.T) {
	r, err := NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Retry: RetryConfig{
		MaxAttempts: 10, InitialInterval: time.Minute, MaxInterval: time.Hour, Multiplier: 2, MaxElapsed: 5 * time.Minute,
	}})
	require.NoError(t, err)
	f := statusFailure(&http.Response{StatusCode: 500, Header: http.Header{}}, nil, time.Now())
	seq := newSequence(r.retry, time.Now())
	var waits []time.Duration
	for {
		v := r.decide(context.Background(), ErrorInfo{Retryable: true, Attempt: seq.attempt}, f, seq, 0)
		if v.action != ActionRetry {
			require.Equal(t, ActionTerminate, v.action)
			require.Same(t, f.err, v.err)
			break
		}
		waits = append(waits, v.wait)
		seq.start = seq.start.Add(-v.wait)
		seq.attempt++
	}
	// Attempts at 0, 1 and 3 minutes; the next would start at 7, past MaxElapsed.
	require.Equal(t, []time.Duration{time.Minute, 2 * time.Minute}, waits)
	require.Equal(t, 3, seq.attempt)
}

type nopStreams struct{}

func (nopStreams) PushChunk(context.Context, string, manager.Chunk) error       { return nil }
func (nopStreams) CloseStream(context.Context, string, string) error            { return nil }
func (nopStreams) HandleStreamError(context.Context, string, error, bool) error { return nil }
func (nopStreams) Done(context.Context, string) (<-chan struct{}, error)        { return nil, nil }
func (nopStreams) Info(context.Context, string) (manager.StreamInfo, error) {
	return manager.StreamInfo{}, nil
}

var _ http.RoundTripper = (*pipeTransport)(nil)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
