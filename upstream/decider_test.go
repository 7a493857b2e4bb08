package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// recordingDecider answers with decide and records what it was asked.
type recordingDecider struct {
	decide func(upstream.ErrorInfo) upstream.Decision
	mu     sync.Mutex
	infos  []upstream.ErrorInfo
}

func (d *recordingDecider) Decide(_ context.Context, info upstream.ErrorInfo) upstream.Decision {
	d.mu.Lock()
	d.infos = append(d.infos, info)
	d.mu.Unlock()
	return d.decide(info)
}

func (d *recordingDecider) asked() []upstream.ErrorInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]upstream.ErrorInfo(nil), d.infos...)
}

func decision(a upstream.Action) func(upstream.ErrorInfo) upstream.Decision {
	return func(upstream.ErrorInfo) upstream.Decision { return upstream.Decision{Action: a} }
}

func TestDeciderSeesEveryError(t *testing.T) {
	sc := upstreamtest.Gemini("ok")
	e := newEnv(t, sc)
	e.fake.Enqueue(upstreamtest.Error(503, "busy"), upstreamtest.Error(429, "quota"))
	d := &recordingDecider{decide: decision(upstream.ActionDefault)}
	id := e.stream()
	require.NoError(t, e.runner(e.gemini(), upstream.RunnerConfig{Decider: upstream.Chain{d}}).Run(ctx, id, geminiReq))
	requireCompleted(t, e.outcome(id), sc.Events())

	infos := d.asked()
	require.Len(t, infos, 2)
	for i, want := range []struct {
		code   int
		status string
	}{{503, "UNAVAILABLE"}, {429, "RESOURCE_EXHAUSTED"}} {
		info := infos[i]
		require.Equal(t, upstream.PhaseUpstream, info.Phase)
		require.Equal(t, id, info.StreamID)
		require.Equal(t, i+1, info.Attempt)
		require.Equal(t, want.code, info.HTTPStatus)
		require.Equal(t, &manager.StreamError{Code: want.code, Status: want.status, Message: map[int]string{503: "busy", 429: "quota"}[want.code]}, info.Err)
		require.True(t, info.Retryable)
		require.Positive(t, info.Elapsed)
		require.Empty(t, info.Subscription)
	}
}

func TestDeciderRetriesWhatTheBuiltInPolicyWouldNot(t *testing.T) {
	sc := upstreamtest.Gemini("ok")
	e := newEnv(t, sc)
	e.fake.Enqueue(upstreamtest.Error(400, "flaky validation"))
	d := &recordingDecider{decide: func(info upstream.ErrorInfo) upstream.Decision {
		if info.HTTPStatus == 400 {
			return upstream.Decision{Action: upstream.ActionRetry}
		}
		return upstream.Decision{}
	}}
	requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: upstream.Chain{d}}), geminiReq), sc.Events())
	require.Equal(t, 2, e.fake.RequestCount())
}

func TestDeciderRetryStaysWithinMaxAttempts(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(400, "always"))
	d := &recordingDecider{decide: decision(upstream.ActionRetry)}
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: d}), geminiReq)
	requireFailed(t, o, nil, 400, "INVALID_ARGUMENT", "always")
	require.Equal(t, fastRetry.MaxAttempts, e.fake.RequestCount())
}

func TestDeciderTerminatesWithRewrittenError(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(503, "internal upstream detail: pool-7 exhausted"))
	d := &recordingDecider{decide: func(upstream.ErrorInfo) upstream.Decision {
		return upstream.Decision{Action: upstream.ActionTerminate, Err: &manager.StreamError{Code: 503, Message: "Service busy, try later."}}
	}}
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: d}), geminiReq)
	requireFailed(t, o, nil, 503, "UNAVAILABLE", "Service busy, try later.")
	require.Equal(t, 1, e.fake.RequestCount(), "terminate overrides the built-in retry")
}

func TestDeciderSkip(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Reset()}})
	d := &recordingDecider{decide: decision(upstream.ActionSkip)}
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: d}), geminiReq)
	require.Equal(t, manager.StatusCompleted, o.info.Status)
	require.Equal(t, chunks[:1], o.data())
	require.Len(t, o.chunks, 1, "no error chunk")
	require.Contains(t, o.info.CloseReason, upstream.ReasonSkippedPrefix+"upstream connection dropped mid-stream: ")
}

func TestDeciderRetryAfterForwardedEventIsRefused(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	e := newEnv(t, upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Reset()}})
	d := &recordingDecider{decide: decision(upstream.ActionRetry)}
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: d}), geminiReq)
	requireFailed(t, o, chunks[:1], 503, "UNAVAILABLE", "")
	require.Equal(t, 1, e.fake.RequestCount(), "a Gemini request is never re-sent after an event was forwarded")
	infos := d.asked()
	require.Len(t, infos, 1)
	require.False(t, infos[0].Retryable)
	require.Contains(t, e.logs.String(), "retry refused")
}

func TestDeciderChainOrder(t *testing.T) {
	e := newEnv(t, upstreamtest.Error(503, "busy"))
	first := &recordingDecider{decide: decision(upstream.ActionDefault)}
	second := &recordingDecider{decide: decision(upstream.ActionTerminate)}
	third := &recordingDecider{decide: decision(upstream.ActionRetry)}
	o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: upstream.Chain{first, second, third}}), geminiReq)
	requireFailed(t, o, nil, 503, "UNAVAILABLE", "busy")
	require.Len(t, first.asked(), 1)
	require.Len(t, second.asked(), 1)
	require.Empty(t, third.asked())
}

func TestDeciderRetryAfterIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // see the retry-wait tests in retry_test.go
		sc := upstreamtest.Gemini("ok")
		e := newLocalEnv(t, sc)
		e.fake.Enqueue(upstreamtest.Error(500, "oops"))
		d := &recordingDecider{decide: func(upstream.ErrorInfo) upstream.Decision {
			return upstream.Decision{Action: upstream.ActionRetry, RetryAfter: 150 * time.Millisecond}
		}}
		requireCompleted(t, e.run(e.runner(e.gemini(), upstream.RunnerConfig{Decider: d}), geminiReq), sc.Events())
		reqs := e.fake.Requests()
		require.Len(t, reqs, 2)
		require.Equal(t, 150*time.Millisecond, reqs[1].Time.Sub(reqs[0].Time))
	})
}

// flakyCredential fails its first n uses, then sets the test key.
type flakyCredential struct{ fails atomic.Int32 }

func (c *flakyCredential) Apply(_ context.Context, req *http.Request) error {
	if c.fails.Add(-1) >= 0 {
		return errors.New("token endpoint unreachable")
	}
	req.Header.Set("x-goog-api-key", testKey)
	return nil
}

func TestDeciderRetriesCredentialFailures(t *testing.T) {
	sc := upstreamtest.Gemini("ok")
	e := newEnv(t, sc)
	cred := &flakyCredential{}
	cred.fails.Store(2)
	p, err := upstream.NewGemini(upstream.GeminiConfig{BaseURL: e.baseURL, Credential: cred})
	require.NoError(t, err)
	d := &recordingDecider{decide: func(info upstream.ErrorInfo) upstream.Decision {
		if info.HTTPStatus == 0 && info.Err.Code == 500 {
			return upstream.Decision{Action: upstream.ActionRetry}
		}
		return upstream.Decision{}
	}}
	requireCompleted(t, e.run(e.runner(p, upstream.RunnerConfig{Decider: d}), geminiReq), sc.Events())
	require.Equal(t, 1, e.fake.RequestCount())
	infos := d.asked()
	require.Len(t, infos, 2)
	require.Equal(t, "apply upstream credential: token endpoint unreachable", infos[0].Err.Message)
	require.Equal(t, []int{1, 2}, []int{infos[0].Attempt, infos[1].Attempt})

	// Without a Decider the built-in policy does not retry a credential failure.
	cred.fails.Store(1)
	o := e.run(e.runner(p, upstream.RunnerConfig{}), geminiReq)
	requireFailed(t, o, nil, 500, "INTERNAL", "apply upstream credential: token endpoint unreachable")
	require.Equal(t, 1, e.fake.RequestCount())
}
