package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// newOpenAIClient returns the official OpenAI Go SDK pointed at the gateway's baseURL path, with
// a gateway key as its key and no retries of its own.
func newOpenAIClient(e *env, path, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(e.url+path), option.WithAPIKey(key),
		option.WithHTTPClient(e.client), option.WithMaxRetries(0))
}

var sdkChat = openai.ChatCompletionNewParams{
	Model:    "gemini-2.5-flash",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
}

// TestOpenAISDKChatThroughGateway: the OpenAI SDK, unchanged but for the base URL, gets a
// non-streaming chat completion and the models list under both prefixes.
func TestOpenAISDKChatThroughGateway(t *testing.T) {
	e := newEnv(t, options{})
	for _, path := range []string{"/v1beta/openai/", "/v1/"} {
		t.Run(path, func(t *testing.T) {
			client := newOpenAIClient(e, path, aliceKey)
			resp, err := client.Chat.Completions.New(context.Background(), sdkChat)
			require.NoError(t, err)
			require.Len(t, resp.Choices, 1)
			assert.Equal(t, "Hello from the fake.", resp.Choices[0].Message.Content)
			assert.Equal(t, "stop", resp.Choices[0].FinishReason)
			assert.Equal(t, int64(7), resp.Usage.TotalTokens)

			models, err := client.Models.List(context.Background())
			require.NoError(t, err)
			var ids []string
			for _, m := range models.Data {
				ids = append(ids, m.ID)
			}
			assert.Equal(t, []string{"models/gemini-2.5-flash", "models/gemini-embedding-001"}, ids)
		})
	}
	reqs := e.fake.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, "/v1beta/openai/chat/completions", reqs[0].Path)
	assert.Equal(t, "/v1beta/openai/models", reqs[1].Path)
}

// TestOpenAISDKSeesUpstreamErrors: an upstream 429 (Gemini's error in a JSON array) and a wrong
// gateway key reach the SDK as the *openai.Error it knows, with status, type and message.
func TestOpenAISDKSeesUpstreamErrors(t *testing.T) {
	e := newEnv(t, options{runner: func(c *upstream.RunnerConfig) { c.Retry.MaxAttempts = 1 }})
	e.fake.Enqueue(upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"17"}},
		Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)})
	for _, tc := range []struct {
		name, key string
		status    int
		typ, code string
		message   string
	}{
		{"upstream 429", aliceKey, 429, "rate_limit_error", "", "Resource has been exhausted (e.g. check quota)."},
		{"wrong key", "sk-nope", 401, "authentication_error", "invalid_api_key", "API key not valid. Please pass a valid API key."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := newOpenAIClient(e, "/v1/", tc.key)
			_, err := client.Chat.Completions.New(context.Background(), sdkChat)
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.typ, apiErr.Type)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.Equal(t, tc.message, apiErr.Message)
		})
	}
	assert.Equal(t, 1, e.fake.RequestCount())
}
