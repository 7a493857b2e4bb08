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
		assert.Equal(t, "requests", apiErr.Type, "the upstream's own type, code and param")
		assert.Equal(t, "rate_limit_exceeded", apiErr.Code)
		assert.Empty(t, apiErr.Param)
		assert.Equal(t, `{"message":"Rate limit reached for gpt-4o.","type":"requests","param":null,"code":"rate_limit_exceeded"}`,
			strings.TrimSpace(apiErr.RawJSON()))
	})
}

// TestOpenAIKindRefusesTheGeminiRoutes: an OpenAI server has no Gemini models collection; the
// Gemini routes answer 501 UNIMPLEMENTED without asking it, naming the OpenAI-compatible routes
// that upstream serves rather than advising streamGenerateContent.
func TestOpenAIKindRefusesTheGeminiRoutes(t *testing.T) {
	e := newOpenAIKindEnv(t)
	const routes = " is not served by the configured upstream (upstream.kind openai), which serves the OpenAI-compatible routes only: " +
		"POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models, also under /v1beta/openai"
	refused := func(what string) string {
		return errAnswer(501, "", `{"error":{"code":501,"message":"`+what+routes+`","status":"UNIMPLEMENTED"}}`)
	}
	e.checkAnswers(t, []answer{
		{"generate", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", aliceKey, generateBody, nil, refused("generateContent")},
		{"generate v1", "POST", "/v1/models/gemini-2.5-flash:generateContent", aliceKey, generateBody, nil, refused("generateContent")},
		{"countTokens", "POST", "/v1beta/models/gemini-2.5-flash:countTokens", aliceKey, generateBody, nil, refused("models/gemini-2.5-flash:countTokens")},
		{"embedContent", "POST", "/v1beta/models/gemini-embedding-001:embedContent", aliceKey, `{"content":{"parts":[{"text":"x"}]}}`, nil,
			refused("models/gemini-embedding-001:embedContent")},
		{"models", "GET", "/v1beta/models", aliceKey, "", nil, refused("listing models")},
		{"model", "GET", "/v1beta/models/gemini-2.5-flash", aliceKey, "", nil, refused("models/gemini-2.5-flash")},
	})
	for _, alt := range []string{"?alt=sse", ""} {
		t.Run("stream"+alt, func(t *testing.T) {
			resp := e.request("POST", streamPath[:strings.Index(streamPath, "?")]+alt, aliceKey, generateBody)
			id := resp.Header.Get("X-Stream-Id")
			require.NotEmpty(t, id)
			assert.Equal(t, errAnswer(501, "", `{"error":{"code":501,"message":"run upstream for stream `+id+
				`: models/gemini-2.5-flash:streamGenerateContent with the openai provider: upstream: unsupported operation: `+
				`the upstream serves the OpenAI-compatible API only (chat/completions, embeddings and models)","status":"UNIMPLEMENTED"}}`),
				dumpAnswer(resp, readAll(t, resp)))
		})
	}
	assert.Zero(t, e.fake.RequestCount())
}

// bearerToken is a Vertex-like OAuth credential: a fixed bearer token.
type bearerToken string

func (b bearerToken) Apply(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}

// TestOpenAIRouteOnVertex: Vertex serves chat completions, streamed and not, at its
// OpenAI-compatible endpoint with its OAuth token; it has no OpenAI-compatible embeddings or
// models list, which answer 501 in OpenAI's shape.
func TestOpenAIRouteOnVertex(t *testing.T) {
	e := newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		return upstream.NewVertex(upstream.VertexConfig{Project: "p", Location: "europe-west4", BaseURL: url, Credential: bearerToken(upstreamKey)})
	}})
	const path = "/v1/projects/p/locations/europe-west4/endpoints/openapi/chat/completions"
	for _, tc := range []struct{ name, body, want string }{
		{"chat", chatBody, "200 application/json\n" + upstreamtest.OpenAIChatCompletion},
		{"chat streamed", streamChatBody, "200 text/event-stream\n" + openAIFrames(upstreamtest.OpenAIChunks(false, upstreamtest.OpenAITexts...)...) + openAIDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.request("POST", "/v1/chat/completions", "", tc.body, bearer(aliceKey)...)
			assert.Equal(t, tc.want, dumpAnswer(resp, readAll(t, resp)))
			reqs := e.fake.Requests()
			last := reqs[len(reqs)-1]
			assert.Equal(t, "POST "+path, last.Method+" "+last.Path)
			assert.Equal(t, "Bearer "+upstreamKey, last.Header.Get("Authorization"))
		})
	}
	before := e.fake.RequestCount()
	e.checkAnswers(t, []answer{
		{"embeddings", "POST", "/v1/embeddings", "", `{"input":"x"}`, bearer(aliceKey),
			openAIAnswer(501, "", `{"error":{"message":"openai/embeddings is not supported by the configured upstream: the gemini, openai and simulator providers serve the OpenAI-compatible API, vertex its chat completions","type":"server_error","param":null,"code":null}}`)},
		{"models", "GET", "/v1beta/openai/models", "", "", bearer(aliceKey),
			openAIAnswer(501, "", `{"error":{"message":"openai/models is not supported by the configured upstream: the gemini, openai and simulator providers serve the OpenAI-compatible API, vertex its chat completions","type":"server_error","param":null,"code":null}}`)},
	})
	assert.Equal(t, before, e.fake.RequestCount())
}
