package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

const chatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`

// bearer is the header of an OpenAI client holding key.
func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// openAIAnswer is the first line and body of an OpenAI-shaped error answer.
func openAIAnswer(code int, extra, body string) string { return errAnswer(code, extra, body) }

// TestOpenAICallsPassThroughExactBytes: the OpenAI-compatible routes, under Gemini's prefix and
// OpenAI's, reach Gemini's compatibility endpoint with the gateway's key as a bearer token and
// come back as the upstream sent them.
func TestOpenAICallsPassThroughExactBytes(t *testing.T) {
	e := newEnv(t, options{})
	for _, tc := range []struct {
		name, method, path, body, upstreamPath, want string
	}{
		{"chat", "POST", "/v1beta/openai/chat/completions", chatBody, "/v1beta/openai/chat/completions", upstreamtest.OpenAIChatCompletion},
		{"chat under v1", "POST", "/v1/chat/completions", chatBody, "/v1beta/openai/chat/completions", upstreamtest.OpenAIChatCompletion},
		{"embeddings", "POST", "/v1beta/openai/embeddings", `{"model":"gemini-embedding-001","input":"hi"}`, "/v1beta/openai/embeddings", upstreamtest.OpenAIEmbeddingList},
		{"embeddings under v1", "POST", "/v1/embeddings", `{"model":"gemini-embedding-001","input":"hi"}`, "/v1beta/openai/embeddings", upstreamtest.OpenAIEmbeddingList},
		{"models", "GET", "/v1beta/openai/models", "", "/v1beta/openai/models", upstreamtest.OpenAIModelList},
		{"models under v1", "GET", "/v1/models", "", "/v1beta/openai/models", upstreamtest.OpenAIModelList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp := e.request(tc.method, tc.path, "", body, bearer(aliceKey)...)
			assert.Equal(t, "200 application/json\n"+tc.want, dumpAnswer(resp, readAll(t, resp)))
			reqs := e.fake.Requests()
			last := reqs[len(reqs)-1]
			assert.Equal(t, tc.method, last.Method)
			assert.Equal(t, tc.upstreamPath, last.Path)
			assert.Equal(t, "Bearer "+upstreamKey, last.Header.Get("Authorization"))
			assert.Empty(t, last.Header.Get("x-goog-api-key"))
			assert.Equal(t, tc.body, string(last.Body))
		})
	}
	t.Run("a Gemini client still lists Gemini's models under v1", func(t *testing.T) {
		resp := e.request("GET", "/v1/models", aliceKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		readAll(t, resp)
		reqs := e.fake.Requests()
		assert.Equal(t, "/v1/models", reqs[len(reqs)-1].Path)
	})
}

// TestOpenAIUpstreamErrorsExactBytes: an upstream's error answer is OpenAI's error, whatever
// shape it came in, with its status and Retry-After.
func TestOpenAIUpstreamErrorsExactBytes(t *testing.T) {
	e := newEnv(t, options{runner: func(c *upstream.RunnerConfig) { c.Retry.MaxAttempts = 1 }})
	e.fake.Enqueue(
		upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"17"}},
			Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)},
		upstreamtest.Script{Status: 404, Body: []byte(`{"error":{"message":"The model nope does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}`)},
		upstreamtest.Script{Status: 503, Body: []byte(`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`)},
		upstreamtest.Script{Status: 502, Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte(`<html>bad gateway</html>`)},
	)
	e.checkAnswers(t, []answer{
		{"quota, Gemini's error in an array", "POST", "/v1/chat/completions", "", chatBody, bearer(aliceKey),
			openAIAnswer(429, " Retry-After=17", `{"error":{"message":"Resource has been exhausted (e.g. check quota).","type":"rate_limit_error","param":null,"code":null}}`)},
		{"OpenAI's own error", "POST", "/v1beta/openai/chat/completions", "", chatBody, bearer(aliceKey),
			openAIAnswer(404, "", `{"error":{"message":"The model nope does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}`)},
		{"overloaded", "POST", "/v1/embeddings", "", `{"input":"x"}`, bearer(aliceKey),
			openAIAnswer(503, "", `{"error":{"message":"The model is overloaded.","type":"server_error","param":null,"code":null}}`)},
		{"not an error body", "GET", "/v1beta/openai/models", "", "", bearer(aliceKey),
			openAIAnswer(502, "", `{"error":{"message":"upstream answered HTTP 502 Bad Gateway with a 24-byte text/html body that is not a Gemini error","type":"server_error","param":null,"code":null}}`)},
	})
}

// TestOpenAIRouteErrorsExactBytes pins what the gateway itself answers on the OpenAI-compatible
// routes, in OpenAI's shape; none of these requests reaches the upstream.
func TestOpenAIRouteErrorsExactBytes(t *testing.T) {
	e := newEnv(t, options{})
	e.checkAnswers(t, []answer{
		{"no key", "POST", "/v1/chat/completions", "", chatBody, nil,
			openAIAnswer(401, "", `{"error":{"message":"API key required: send it as x-goog-api-key, Authorization: Bearer or ?key=","type":"authentication_error","param":null,"code":"invalid_api_key"}}`)},
		{"unknown key", "POST", "/v1beta/openai/chat/completions", "", chatBody, bearer("sk-nope"),
			openAIAnswer(401, "", `{"error":{"message":"API key not valid. Please pass a valid API key.","type":"authentication_error","param":null,"code":"invalid_api_key"}}`)},
		{"unknown key listing models", "GET", "/v1/models", "", "", bearer("sk-nope"),
			openAIAnswer(401, "", `{"error":{"message":"API key not valid. Please pass a valid API key.","type":"authentication_error","param":null,"code":"invalid_api_key"}}`)},
		{"body not an object", "POST", "/v1/chat/completions", "", `[]`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid JSON payload: the request body must be a JSON object","type":"invalid_request_error","param":null,"code":null}}`)},
		{"stream not a boolean", "POST", "/v1/chat/completions", "", `{"stream":"yes"}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid JSON payload: stream must be true or false","type":"invalid_request_error","param":null,"code":null}}`)},
		{"streaming with a model that is not a string", "POST", "/v1/chat/completions", "", `{"stream":true,"model":5}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid JSON payload: model must be a string","type":"invalid_request_error","param":null,"code":null}}`)},
		{"streaming without a model", "POST", "/v1/chat/completions", "", `{"stream":true}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid model: a streamed chat completion must name its model","type":"invalid_request_error","param":"model","code":null}}`)},
		{"streaming with an empty model", "POST", "/v1beta/openai/chat/completions", "", `{"stream":true,"model":""}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid model: a streamed chat completion must name its model","type":"invalid_request_error","param":"model","code":null}}`)},
		{"streaming with a model of 257 bytes", "POST", "/v1/chat/completions", "", `{"stream":true,"model":"` + strings.Repeat("m", 257) + `"}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid model: model name is 257 bytes long (at most 256)","type":"invalid_request_error","param":"model","code":null}}`)},
		{"streaming with a newline in the model", "POST", "/v1/chat/completions", "", `{"stream":true,"model":"gpt\nstream_id=x"}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid model: model name \"gpt\\nstream_id=x\" has '\\n' at byte 3 (allowed: ASCII letters, digits, '-', '_', '.', ':', '/', '@', '+')","type":"invalid_request_error","param":"model","code":null}}`)},
		{"streaming with a space in the model", "POST", "/v1/chat/completions", "", `{"stream":true,"model":"gpt 4"}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid model: model name \"gpt 4\" has ' ' at byte 3 (allowed: ASCII letters, digits, '-', '_', '.', ':', '/', '@', '+')","type":"invalid_request_error","param":"model","code":null}}`)},
		{"streaming with a non-ASCII model", "POST", "/v1/chat/completions", "", `{"stream":true,"model":"gpté"}`, bearer(aliceKey),
			openAIAnswer(400, "", `{"error":{"message":"invalid model: model name \"gpté\" has byte 0xc3 at byte 3 (allowed: ASCII letters, digits, '-', '_', '.', ':', '/', '@', '+')","type":"invalid_request_error","param":"model","code":null}}`)},
	})
	assert.Zero(t, e.fake.RequestCount())
	streams, err := e.m.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, streams, "no stream is created for a refused request")
}

// TestOpenAIRoutesOnOtherUpstreams: the generic SSE provider has no OpenAI-compatible endpoint;
// it answers 501 in OpenAI's shape.
func TestOpenAIRoutesOnOtherUpstreams(t *testing.T) {
	e := newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		return upstream.NewSSE(upstream.SSEConfig{URL: url + "/stream"})
	}})
	e.checkAnswers(t, []answer{
		{"chat", "POST", "/v1/chat/completions", "", chatBody, bearer(aliceKey),
			openAIAnswer(501, "", `{"error":{"message":"openai/chat/completions is not supported by the configured upstream: the gemini, openai and simulator providers serve the OpenAI-compatible API, vertex its chat completions","type":"server_error","param":null,"code":null}}`)},
	})
	assert.Zero(t, e.fake.RequestCount())
}
