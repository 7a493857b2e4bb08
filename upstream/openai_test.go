package upstream_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

var openAIChat = upstream.Call{OpenAI: upstream.OpenAIChat, Body: []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`)}

// TestOpenAICallsReachGeminisCompatibilityEndpoint: the OpenAI-compatible calls go to
// {base}/v1beta/openai/... with the gateway's key as a bearer token, never as x-goog-api-key,
// and come back as the upstream sent them.
func TestOpenAICallsReachGeminisCompatibilityEndpoint(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	e.fake.RequireAPIKey(testKey)
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	for _, tc := range []struct {
		call         upstream.Call
		method, path string
		want         string
	}{
		{openAIChat, "POST", "/v1beta/openai/chat/completions", upstreamtest.OpenAIChatCompletion},
		{upstream.Call{OpenAI: upstream.OpenAIEmbeddings, Body: []byte(`{"model":"gemini-embedding-001","input":"hi"}`)},
			"POST", "/v1beta/openai/embeddings", upstreamtest.OpenAIEmbeddingList},
		{upstream.Call{OpenAI: upstream.OpenAIModels, APIVersion: "v1"}, "GET", "/v1beta/openai/models", upstreamtest.OpenAIModelList},
	} {
		t.Run(tc.call.String(), func(t *testing.T) {
			resp, err := r.Call(ctx, tc.call)
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, tc.want, string(readAll(t, resp.Body)))
			reqs := e.fake.Requests()
			last := reqs[len(reqs)-1]
			assert.Equal(t, tc.method, last.Method)
			assert.Equal(t, tc.path, last.Path)
			assert.Equal(t, "Bearer "+testKey, last.Header.Get("Authorization"))
			assert.Empty(t, last.Header.Get("x-goog-api-key"))
			assert.Equal(t, string(tc.call.Body), string(last.Body))
		})
	}
}

// TestOpenAICallErrorsPassThrough: an error answer of the compatibility endpoint, Gemini's error
// in a JSON array or OpenAI's own, comes back with its status and body (the key scrubbed), for
// the gateway to answer in OpenAI's shape.
func TestOpenAICallErrorsPassThrough(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	wrapped := `[{"error":{"code":429,"message":"Quota exceeded for key ` + testKey + `","status":"RESOURCE_EXHAUSTED"}}]`
	openai := `{"error":{"message":"model not found","type":"invalid_request_error","param":"model","code":"model_not_found"}}`
	e.fake.Enqueue(upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"9"}}, Body: []byte(wrapped)},
		upstreamtest.Script{Status: 404, Body: []byte(openai)})
	r := e.runner(e.gemini(), upstream.RunnerConfig{Retry: upstream.RetryConfig{MaxAttempts: 1}})
	resp, err := r.Call(ctx, openAIChat)
	require.NoError(t, err)
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "9", resp.Header.Get("Retry-After"))
	require.Equal(t, `[{"error":{"code":429,"message":"Quota exceeded for key [redacted]","status":"RESOURCE_EXHAUSTED"}}]`, string(readAll(t, resp.Body)))
	resp, err = r.Call(ctx, openAIChat)
	require.NoError(t, err)
	require.Equal(t, 404, resp.StatusCode)
	require.Equal(t, openai, string(readAll(t, resp.Body)))
}

// TestOpenAICallsOnOtherProviders: only the Gemini provider has the compatibility endpoint.
func TestOpenAICallsOnOtherProviders(t *testing.T) {
	e := newEnv(t, upstreamtest.Script{})
	_, err := e.runner(e.sse(upstream.SSEConfig{}), upstream.RunnerConfig{}).Call(ctx, openAIChat)
	require.ErrorIs(t, err, upstream.ErrUnsupported)
	_, err = e.runner(e.gemini(), upstream.RunnerConfig{}).Call(ctx, upstream.Call{OpenAI: "completions", Body: []byte(`{}`)})
	require.ErrorIs(t, err, upstream.ErrInvalidRequest)
	require.EqualError(t, err, `call openai/completions: invalid upstream request: no OpenAI-compatible endpoint "completions"`)
	require.Zero(t, e.fake.RequestCount())
}

func TestParseOpenAIError(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name, body string
		want       *upstream.OpenAIError
	}{
		{"openai", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			&upstream.OpenAIError{Message: "Incorrect API key provided", Type: "invalid_request_error", Code: s("invalid_api_key")}},
		{"openai with param", `{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}}`,
			&upstream.OpenAIError{Message: "bad", Type: "invalid_request_error", Param: s("messages")}},
		{"gemini in an array", "[{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"API key not valid.\",\n    \"status\": \"INVALID_ARGUMENT\"\n  }\n}\n]",
			&upstream.OpenAIError{Status: 400, GoogleStatus: "INVALID_ARGUMENT", Message: "API key not valid."}},
		{"openai in an array", `[{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}]`,
			&upstream.OpenAIError{Message: "slow down", Type: "rate_limit_error", Code: s("rate_limit_exceeded")}},
		{"empty array", `[]`, nil},
		{"no error", `{"choices":[]}`, nil},
		{"not JSON", `<html>busy</html>`, nil},
		{"odd code", `{"error":{"message":"x","code":true}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := upstream.ParseOpenAIError([]byte(tc.body))
			require.Equal(t, tc.want != nil, ok)
			require.Equal(t, tc.want, got)
		})
	}
}
