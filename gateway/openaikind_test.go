package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// openAIServerPath is where the fake serves as an OpenAI server: an OpenAI base URL's /v1 below a
// path the fake knows as OpenAI-compatible.
const openAIServerPath = "/openai/v1"

// newOpenAIKindEnv is an env whose upstream is kind openai: the OpenAI provider talking to the
// fake as to an OpenAI-compatible server over loopback HTTP, with the upstream key as its bearer.
func newOpenAIKindEnv(t *testing.T) *env {
	return newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		cred, err := auth.NewAPIKey(upstreamKey)
		if err != nil {
			return nil, err
		}
		return upstream.NewOpenAI(upstream.OpenAIConfig{BaseURL: url + openAIServerPath, Credential: cred})
	}})
}

// TestOpenAIKindForwardsTheOpenAIRoutes: with kind openai the chat completions (streamed and
// not), embeddings and the models list go to {base_url}/..., with the server's key as a bearer
// token, and come back exactly; the official SDK streams through it.
func TestOpenAIKindForwardsTheOpenAIRoutes(t *testing.T) {
	e := newOpenAIKindEnv(t)
	for _, tc := range []struct {
		name, method, path, body, upstreamPath, want string
	}{
		{"chat", "POST", "/v1/chat/completions", chatBody, "/chat/completions", "200 application/json\n" + upstreamtest.OpenAIChatCompletion},
		{"chat streamed", "POST", "/v1beta/openai/chat/completions", usageChatBody, "/chat/completions",
			"200 text/event-stream\n" + openAIFrames(upstreamtest.OpenAIChunks(true, upstreamtest.OpenAITexts...)...) + openAIDone},
		{"embeddings", "POST", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, "/embeddings", "200 application/json\n" + upstreamtest.OpenAIEmbeddingList},
		{"models", "GET", "/v1/models", "", "/models", "200 application/json\n" + upstreamtest.OpenAIModelList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp := e.request(tc.method, tc.path, "", body, bearer(aliceKey)...)
			assert.Equal(t, tc.want, dumpAnswer(resp, readAll(t, resp)))
			reqs := e.fake.Requests()
			last := reqs[len(reqs)-1]
			assert.Equal(t, tc.method+" "+openAIServerPath+tc.upstreamPath, last.Method+" "+last.Path)
			assert.Equal(t, "Bearer "+upstreamKey, last.Header.Get("Authorization"))
			assert.Empty(t, last.Header.Get("x-goog-api-key"))
			assert.Equal(t, tc.body, string(last.Body))
		})
	}
	t.Run("SDK", func(t *testing.T) {
		tap := &wireTap{rt: e.client.Transport}
		client := openai.NewClient(option.WithBaseURL(e.url+"/v1/"), option.WithAPIKey(aliceKey),
			option.WithHTTPClient(&http.Client{Transport: tap}), option.WithMaxRetries(0))
		stream := client.Chat.Completions.NewStreaming(context.Background(), sdkChat)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		require.NoError(t, stream.Err())
		require.Len(t, acc.Choices, 1)
		assert.Equal(t, "Hello from the fake.", acc.Choices[0].Message.Content)
		assert.True(t, strings.HasSuffix(tap.String(), "\n\ndata: [DONE]\n\n"))

		e.fake.Enqueue(upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"0"}},
			Body: []byte(`{"error":{"message":"Rate limit reached for gpt-4o.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)})
		stream = client.Chat.Completions.NewStreaming(context.Background(), sdkChat)
		assert.False(t, stream.Next())
		var apiErr *openai.Error
		require.True(t, errors.As(stream.Err(), &apiErr), "%v", stream.Err())
		assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
		assert.Equal(t, "Rate limit reached for gpt-4o.", apiErr.Message)
	})
}

// TestOpenAIKindRefusesTheGeminiRoutes: an OpenAI server has no Gemini models collection; the
// Gemini routes answer 501 UNIMPLEMENTED without asking it.
func TestOpenAIKindRefusesTheGeminiRoutes(t *testing.T) {
	e := newOpenAIKindEnv(t)
	for _, tc := range []struct{ name, method, path, body string }{
		{"stream", "POST", streamPath, generateBody},
		{"generate", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", generateBody},
		{"countTokens", "POST", "/v1beta/models/gemini-2.5-flash:countTokens", generateBody},
		{"models", "GET", "/v1beta/models", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			status, b := e.do(tc.method, tc.path, aliceKey, body)
			requireError(t, http.StatusNotImplemented, "UNIMPLEMENTED", status, b)
		})
	}
	assert.Zero(t, e.fake.RequestCount())
}
