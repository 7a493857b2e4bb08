package plugins

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/pluginstest"
	"github.com/streamgate/streamgate/upstream"
)

const retryRules = `{"rules":[
	{"codes":[503],"action":"retry","max_attempts":3,"backoff":"100ms"},
	{"codes":[400],"action":"terminate","message":"The request was rejected."},
	{"statuses":["RESOURCE_EXHAUSTED"],"phase":"delivery","action":"skip"}]}`

func upstreamErr(code int, status string) upstream.ErrorInfo {
	return upstream.ErrorInfo{Phase: upstream.PhaseUpstream, StreamID: "s1", Attempt: 1,
		Err: &manager.StreamError{Code: code, Status: status, Message: "upstream said no, token=abc"}, HTTPStatus: code}
}

func TestRetryPluginDecisionsThroughTheChain(t *testing.T) {
	h := startHost(t, Config{Plugins: []PluginConfig{{Name: "retry", Path: bin("retry"), Config: json.RawMessage(retryRules)}}})
	chain := h.Deciders()
	require.Len(t, chain, 1)
	ctx := context.Background()

	d := chain.Decide(ctx, upstreamErr(503, "UNAVAILABLE"))
	assert.Equal(t, upstream.ActionRetry, d.Action)
	assert.GreaterOrEqual(t, d.RetryAfter, 50*time.Millisecond)
	assert.LessOrEqual(t, d.RetryAfter, 100*time.Millisecond)

	third := upstreamErr(503, "UNAVAILABLE")
	third.Attempt = 2
	d = chain.Decide(ctx, third)
	assert.Equal(t, upstream.ActionRetry, d.Action)
	assert.GreaterOrEqual(t, d.RetryAfter, 100*time.Millisecond)
	assert.LessOrEqual(t, d.RetryAfter, 200*time.Millisecond)
	third.Attempt = 3
	assert.Equal(t, upstream.Decision{Action: upstream.ActionTerminate}, chain.Decide(ctx, third))

	assert.Equal(t, upstream.Decision{Action: upstream.ActionTerminate,
		Err: &manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: "The request was rejected."}},
		chain.Decide(ctx, upstreamErr(400, "INVALID_ARGUMENT")))

	assert.Equal(t, upstream.Decision{}, chain.Decide(ctx, upstreamErr(404, "NOT_FOUND")))
	assert.Equal(t, upstream.Decision{}, chain.Decide(ctx, upstreamErr(429, "RESOURCE_EXHAUSTED")), "skip rule is for delivery only")
	delivery := upstreamErr(429, "RESOURCE_EXHAUSTED")
	delivery.Phase = upstream.PhaseDelivery
	assert.Equal(t, upstream.Decision{Action: upstream.ActionSkip}, chain.Decide(ctx, delivery))
}

func TestChainOrderAndDefer(t *testing.T) {
	h := startHost(t, Config{Streams: newManager(t), Plugins: []PluginConfig{
		{Name: "defers", Path: bin("testplugin")},
		{Name: "retry", Path: bin("retry"), Config: json.RawMessage(retryRules)},
		{Name: "skips", Path: bin("testplugin"), Config: json.RawMessage(`{"decide":"skip"}`)},
	}})
	chain := h.Deciders()
	require.Len(t, chain, 3)
	ctx := context.Background()
	assert.Equal(t, upstream.ActionRetry, chain.Decide(ctx, upstreamErr(503, "UNAVAILABLE")).Action, "first non-default answer wins")
	assert.Equal(t, upstream.Decision{Action: upstream.ActionSkip}, chain.Decide(ctx, upstreamErr(404, "NOT_FOUND")), "both earlier links defer")
}

func TestFailingHandlersDefer(t *testing.T) {
	h := startHost(t, Config{Streams: newManager(t), DecisionTimeout: 50 * time.Millisecond, Plugins: []PluginConfig{
		{Name: "slow", Path: bin("testplugin"), Config: json.RawMessage(`{"decide":"terminate","sleep":"5s"}`)},
		{Name: "failing", Path: bin("testplugin"), Config: json.RawMessage(`{"decide":"fail"}`)},
	}})
	chain := h.Deciders()
	require.Len(t, chain, 2)
	assert.Equal(t, upstream.Decision{}, chain.Decide(context.Background(), upstreamErr(503, "UNAVAILABLE")))
}

func TestCrashedHandlerDefersThenRestarts(t *testing.T) {
	h := startHost(t, Config{RestartMinBackoff: 10 * time.Millisecond, Plugins: []PluginConfig{
		{Name: "retry", Path: bin("retry"), Config: json.RawMessage(retryRules)}}})
	chain := h.Deciders()
	s := h.byName["retry"]
	pid := s.current().pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !pluginstest.Alive(pid) }, 5*time.Second, 5*time.Millisecond)

	// While the plugin is down or restarting the chain answers at once; afterwards it retries again.
	require.Eventually(t, func() bool {
		p := s.current()
		return p != nil && p.pid() != pid && chain.Decide(context.Background(), upstreamErr(503, "UNAVAILABLE")).Action == upstream.ActionRetry
	}, 10*time.Second, 10*time.Millisecond)
}

func TestHungPluginIsKilledAndRestarted(t *testing.T) {
	h := startHost(t, Config{HealthInterval: 20 * time.Millisecond, HealthTimeout: 50 * time.Millisecond, RestartMinBackoff: 10 * time.Millisecond,
		Plugins: []PluginConfig{{Name: "retry", Path: bin("retry"), Config: json.RawMessage(retryRules)}}})
	s := h.byName["retry"]
	pid := s.current().pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	require.Eventually(t, func() bool {
		p := s.current()
		return p != nil && p.pid() != pid
	}, 10*time.Second, 10*time.Millisecond)
	assert.False(t, pluginstest.Alive(pid), "the hung process must be killed")
	// The new process is current before its handshake and configuration are done; until then the
	// chain defers, as TestCrashedHandlerDefersThenRestarts shows, so wait for its answer.
	require.Eventually(t, func() bool {
		return h.Deciders().Decide(context.Background(), upstreamErr(503, "UNAVAILABLE")).Action == upstream.ActionRetry
	}, 10*time.Second, 10*time.Millisecond)
}
