package upstream_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/internal/testmetrics"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

var countTokens = upstream.Call{Model: "gemini-2.5-flash", Method: "countTokens", Body: []byte(`{"contents":[{"parts":[{"text":"a b c"}]}]}`)}

// TestCallPassesTheResponseThrough: a unary call is Generate's passthrough for any method, and a
// GET carries no body and passes its query parameters on.
func TestCallPassesTheResponseThrough(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	body := []byte(`{"totalTokens":3}`)
	e.fake.Enqueue(upstreamtest.Script{Body: body, Header: http.Header{"X-Goog-Request-Id": {"r-1"}}},
		upstreamtest.Script{Body: []byte(`{"models":[]}`)})
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	resp, err := r.Call(ctx, countTokens)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "r-1", resp.Header.Get("X-Goog-Request-Id"))
	require.Equal(t, "17", resp.Header.Get("Content-Length"))
	require.Equal(t, body, readAll(t, resp.Body))

	resp, err = r.Call(ctx, upstream.Call{APIVersion: "v1", Query: url.Values{"pageSize": {"2"}, "pageToken": {"t"}}})
	require.NoError(t, err)
	require.Equal(t, `{"models":[]}`, string(readAll(t, resp.Body)))

	reqs := e.fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "POST", reqs[0].Method)
	require.Equal(t, "/v1beta/models/gemini-2.5-flash:countTokens", reqs[0].Path)
	require.Equal(t, "countTokens", reqs[0].Call)
	require.Equal(t, countTokens.Body, reqs[0].Body)
	require.Equal(t, testKey, reqs[0].Header.Get("x-goog-api-key"))
	require.Equal(t, "GET", reqs[1].Method)
	require.Equal(t, "/v1/models", reqs[1].Path)
	require.Equal(t, "pageSize=2&pageToken=t", reqs[1].RawQuery)
	require.Empty(t, reqs[1].Body)
	require.Equal(t, testKey, reqs[1].Header.Get("x-goog-api-key"))
}

// TestCallRetriesAndPassesErrorsThrough: the retry policy is Generate's, and the last error
// answer goes back as the upstream sent it, Retry-After included, with the key scrubbed.
func TestCallRetriesAndPassesErrorsThrough(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	busy := upstreamtest.Error(503, "busy").With("Retry-After", "0")
	e.fake.Enqueue(busy, upstreamtest.Script{Body: []byte(`{"embedding":{"values":[1]}}`)})
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	resp, err := r.Call(ctx, upstream.Call{Model: "gemini-embedding-001", Method: "embedContent", Body: []byte(`{}`)})
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, `{"embedding":{"values":[1]}}`, string(readAll(t, resp.Body)))
	require.Equal(t, 2, e.fake.RequestCount())

	e.fake.Enqueue(upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"60"}},
		Body: []byte(`{"error":{"code":429,"message":"Quota exceeded for key ` + testKey + `","status":"RESOURCE_EXHAUSTED"}}`)})
	once := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}})
	resp, err = once.Call(ctx, countTokens)
	require.NoError(t, err)
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "60", resp.Header.Get("Retry-After"))
	require.Equal(t, `{"error":{"code":429,"message":"Quota exceeded for key [redacted]","status":"RESOURCE_EXHAUSTED"}}`, string(readAll(t, resp.Body)))
	require.Equal(t, 3, e.fake.RequestCount())
	require.NotContains(t, e.logs.String(), testKey)
}

func TestCallRefusals(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	_, err := e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}).Call(ctx, countTokens)
	require.ErrorIs(t, err, upstream.ErrUnsupported)
	require.EqualError(t, err, "call models/gemini-2.5-flash:countTokens: models/gemini-2.5-flash:countTokens with the sse provider: upstream: unsupported operation")
	_, err = e.runner(e.gemini(), upstream.RunnerConfig{}).Call(ctx, upstream.Call{Model: "m", Method: "streamGenerateContent"})
	require.ErrorIs(t, err, upstream.ErrInvalidRequest)
	require.True(t, strings.HasPrefix(err.Error(), "call models/m:streamGenerateContent: "), err.Error())
	require.Zero(t, e.fake.RequestCount())
}

// TestCallTelemetry: a unary call's attempts count and are spans named after the call's
// operation, but only a generation records the generation metrics.
func TestCallTelemetry(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	e.fake.Enqueue(upstreamtest.Error(503, "overloaded"))
	metrics := newMetrics(t)
	tp, exp := tracing(t)
	r := e.runner(e.gemini(), upstream.RunnerConfig{Metrics: metrics, TracerProvider: tp})
	for _, call := range []upstream.Call{
		countTokens,
		{Model: "gemini-embedding-001", Method: "batchEmbedContents", Body: []byte(`{"requests":[{"content":{"parts":[{"text":"x"}]}}]}`)},
		{Model: "gemini-2.5-pro"},
		{},
	} {
		resp, err := r.Call(ctx, call)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, call.String())
		require.NoError(t, resp.Body.Close())
	}
	require.Equal(t, []string{
		`streamgate_chunk_bytes_total 0`,
		`streamgate_upstream_requests_total{code="200",provider="gemini"} 4`,
		`streamgate_upstream_requests_total{code="503",provider="gemini"} 1`,
		`streamgate_upstream_retries_total{provider="gemini"} 1`,
	}, withoutSums(testmetrics.Samples(t, metrics.Registry(), upstreamMetrics...)), "no generation, time to first chunk or tokens")
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
		require.Equal(t, strings.SplitN(s.Name, " ", 2)[0], attrs(s.Attributes)[telemetry.AttrOperationName].AsString())
	}
	require.Equal(t, []string{"countTokens gemini-2.5-flash", "countTokens gemini-2.5-flash", "embeddings gemini-embedding-001",
		"get_model gemini-2.5-pro", "list_models"}, names)
}
