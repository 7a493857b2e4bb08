package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/plugins/sdk"
)

func configured(t *testing.T, config string) *handler {
	t.Helper()
	h := &handler{}
	require.NoError(t, h.Configure(context.Background(), json.RawMessage(config)))
	return h
}

func info(phase sdk.Phase, code int, status string, attempt int) sdk.ErrorInfo {
	return sdk.ErrorInfo{Phase: phase, StreamID: "s", Attempt: attempt, Err: sdk.Error{Code: code, Status: status, Message: "upstream detail"}}
}

func TestRules(t *testing.T) {
	h := configured(t, `{"rules":[
		{"codes":[503],"action":"retry","max_attempts":3,"backoff":"100ms","max_backoff":"300ms"},
		{"codes":[400],"action":"terminate","message":"The request was rejected."},
		{"statuses":["resource_exhausted"],"phase":"delivery","action":"skip"},
		{"codes":[418],"action":"terminate"},
		{"codes":[502],"action":"defer"}]}`)
	for _, tc := range []struct {
		name string
		in   sdk.ErrorInfo
		want sdk.Decision
	}{
		{"retry exhausted terminates", info(sdk.PhaseUpstream, 503, "UNAVAILABLE", 3), sdk.Decision{Action: sdk.ActionTerminate}},
		{"terminate rewrites", info(sdk.PhaseUpstream, 400, "INVALID_ARGUMENT", 1),
			sdk.Decision{Action: sdk.ActionTerminate, Err: &sdk.Error{Code: 400, Status: "INVALID_ARGUMENT", Message: "The request was rejected."}}},
		{"terminate keeps the error", info(sdk.PhaseDelivery, 418, "X", 1), sdk.Decision{Action: sdk.ActionTerminate}},
		{"phase filters", info(sdk.PhaseUpstream, 429, "RESOURCE_EXHAUSTED", 1), sdk.Decision{Action: sdk.ActionDefer}},
		{"status matches case-insensitively", info(sdk.PhaseDelivery, 429, "RESOURCE_EXHAUSTED", 1), sdk.Decision{Action: sdk.ActionSkip}},
		{"explicit defer", info(sdk.PhaseUpstream, 502, "UNAVAILABLE", 1), sdk.Decision{Action: sdk.ActionDefer}},
		{"no rule", info(sdk.PhaseUpstream, 404, "NOT_FOUND", 1), sdk.Decision{Action: sdk.ActionDefer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.Handle(context.Background(), tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRetryBackoffWithJitter(t *testing.T) {
	h := configured(t, `{"rules":[{"codes":[503],"action":"retry","max_attempts":10,"backoff":"100ms","max_backoff":"300ms"}]}`)
	for attempt, bounds := range map[int][2]time.Duration{1: {50, 100}, 2: {100, 200}, 3: {150, 300}, 9: {150, 300}} {
		for range 50 {
			d, err := h.Handle(context.Background(), info(sdk.PhaseUpstream, 503, "UNAVAILABLE", attempt))
			require.NoError(t, err)
			assert.Equal(t, sdk.ActionRetry, d.Action)
			assert.GreaterOrEqual(t, d.RetryAfter, bounds[0]*time.Millisecond, "attempt %d", attempt)
			assert.LessOrEqual(t, d.RetryAfter, bounds[1]*time.Millisecond, "attempt %d", attempt)
		}
	}
}

func TestHTTPStatusMatchesCodes(t *testing.T) {
	h := configured(t, `{"rules":[{"codes":[503],"action":"skip"}]}`)
	in := info(sdk.PhaseUpstream, 500, "INTERNAL", 1)
	in.Err.HTTPStatus = 503
	d, err := h.Handle(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, sdk.ActionSkip, d.Action)
}

func TestConfigDiagnostics(t *testing.T) {
	err := (&handler{}).Configure(context.Background(), json.RawMessage(`{"rules":[
		{"action":"retry","phase":"later","max_attempts":-1,"backoff":"x"},
		{"action":"explode","max_backoff":"-1s"}]}`))
	assert.Equal(t, sdk.Diagnostics{
		{Severity: sdk.SeverityError, Summary: `phase must be "upstream" or "delivery", not "later"`, Path: "/rules/0/phase"},
		{Severity: sdk.SeverityError, Summary: "max_attempts must be at least 1, not -1", Path: "/rules/0/max_attempts"},
		{Severity: sdk.SeverityError, Summary: `want a positive duration such as "200ms", not "x"`, Path: "/rules/0/backoff"},
		{Severity: sdk.SeverityError, Summary: "action must be retry, terminate, skip or defer, not \"explode\"", Path: "/rules/1/action"},
		{Severity: sdk.SeverityError, Summary: `want a positive duration such as "200ms", not "-1s"`, Path: "/rules/1/max_backoff"},
	}, err)
	assert.Equal(t, sdk.Invalid("/rules/codes", "expected int, got JSON string"),
		(&handler{}).Configure(context.Background(), json.RawMessage(`{"rules":[{"codes":["503"]}]}`)))
}

func TestNoConfigDefersEverything(t *testing.T) {
	h := configured(t, "")
	d, err := h.Handle(context.Background(), info(sdk.PhaseUpstream, 503, "UNAVAILABLE", 1))
	require.NoError(t, err)
	assert.Equal(t, sdk.Decision{Action: sdk.ActionDefer}, d)
}
