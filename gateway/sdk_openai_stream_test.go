package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// wireTap keeps the bytes of every response body its transport read, so that a test sees what
// the SDK got on the wire.
type wireTap struct {
	rt http.RoundTripper
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *wireTap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.rt.RoundTrip(r)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, w), resp.Body}
	}
	return resp, err
}

func (w *wireTap) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *wireTap) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// sdkUpstream is an upstream the OpenAI SDK tests run on, with what its answers hold and how to
// make it fail.
type sdkUpstream struct {
	name     string
	provider func(fakeURL string) (upstream.Provider, error) // nil: the fake Gemini
	text     string                                          // the whole reply
	usage    int64                                           // its total tokens, for the prompt "Say hello"
	// rateLimited and failing make the next chat completion fail, before its first chunk with
	// 429 and mid-stream, and return the model to ask for.
	rateLimited, failing func(e *env) string
	// rateLimitCode is the OpenAI error code of the 429: the upstream's own, "" for Gemini's
	// error, which has none.
	rateLimitCode string
}

var simulatorText = "Hello from the simulator, streamed in four chunks."

var sdkUpstreams = []sdkUpstream{
	{
		name: "fake", text: "Hello from the fake.", usage: 7,
		rateLimited: func(e *env) string {
			e.fake.Enqueue(upstreamtest.Script{Status: 429, Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)})
			return "gemini-2.5-flash"
		},
		failing: func(e *env) string {
			e.fake.Enqueue(upstreamtest.OpenAIStreamFailing(upstreamtest.OpenAIError{Message: "The model is overloaded.", Type: "server_error"}, "Hello", " from"))
			return "gemini-2.5-flash"
		},
	},
	{
		name: "simulator", text: simulatorText, usage: 2 + 8,
		provider: func(string) (upstream.Provider, error) {
			return upstream.NewSimulator(upstream.SimulatorConfig{Text: simulatorText, Chunks: 4})
		},
		rateLimited:   func(*env) string { return upstream.SimulatorModelRateLimited },
		failing:       func(*env) string { return upstream.SimulatorModelFailsMidStream },
		rateLimitCode: "rate_limit_exceeded",
	},
}

// TestOpenAISDKStreamsThroughGateway: the official OpenAI Go SDK, unchanged but for the base
// URL, streams a chat completion through the gateway on the fake upstream and on the simulator:
// the text assembled, the usage chunk delivered, data: [DONE] on the wire; a non-streaming call;
// an upstream 429 raised as the SDK's 429 error; and a mid-stream failure raised by the stream,
// never a truncated answer returned as if complete.
func TestOpenAISDKStreamsThroughGateway(t *testing.T) {
	for _, up := range sdkUpstreams {
		t.Run(up.name, func(t *testing.T) {
			e := newEnv(t, options{provider: up.provider, runner: func(c *upstream.RunnerConfig) { c.Retry.MaxAttempts = 1 }})
			tap := &wireTap{rt: e.client.Transport}
			client := openai.NewClient(option.WithBaseURL(e.url+"/v1/"), option.WithAPIKey(aliceKey),
				option.WithHTTPClient(&http.Client{Transport: tap}), option.WithMaxRetries(0))
			ctx := context.Background()

			t.Run("stream", func(t *testing.T) {
				params := sdkChat
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
				stream := client.Chat.Completions.NewStreaming(ctx, params)
				var acc openai.ChatCompletionAccumulator
				chunks := 0
				for stream.Next() {
					acc.AddChunk(stream.Current())
					chunks++
				}
				require.NoError(t, stream.Err())
				require.NoError(t, stream.Close())
				require.Len(t, acc.Choices, 1)
				assert.Equal(t, up.text, acc.Choices[0].Message.Content)
				assert.Equal(t, "stop", acc.Choices[0].FinishReason)
				assert.Equal(t, up.usage, acc.Usage.TotalTokens, "the usage chunk is delivered")
				assert.Greater(t, chunks, 2)
				assert.True(t, strings.HasSuffix(tap.String(), "\n\ndata: [DONE]\n\n"), "data: [DONE] seen on the wire")
			})
			t.Run("not streamed", func(t *testing.T) {
				resp, err := client.Chat.Completions.New(ctx, sdkChat)
				require.NoError(t, err)
				require.Len(t, resp.Choices, 1)
				assert.Equal(t, up.text, resp.Choices[0].Message.Content)
				assert.Equal(t, up.usage, resp.Usage.TotalTokens)
			})
			t.Run("upstream 429", func(t *testing.T) {
				params := sdkChat
				params.Model = up.rateLimited(e)
				stream := client.Chat.Completions.NewStreaming(ctx, params)
				assert.False(t, stream.Next())
				var apiErr *openai.Error
				require.True(t, errors.As(stream.Err(), &apiErr), "%v", stream.Err())
				assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
				assert.Equal(t, "rate_limit_error", apiErr.Type)
				assert.Equal(t, up.rateLimitCode, apiErr.Code, "the upstream's own code, as on a call not streamed")
			})
			t.Run("mid-stream failure", func(t *testing.T) {
				params := sdkChat
				params.Model = up.failing(e)
				stream := client.Chat.Completions.NewStreaming(ctx, params)
				var acc openai.ChatCompletionAccumulator
				for stream.Next() {
					acc.AddChunk(stream.Current())
				}
				require.Error(t, stream.Err(), "the SDK raises; it does not return the truncated answer")
				assert.Contains(t, stream.Err().Error(), "server_error")
				require.Len(t, acc.Choices, 1)
				assert.NotEqual(t, "stop", acc.Choices[0].FinishReason)
			})
		})
	}
}

// TestOpenAISDKOnTheSimulator: the simulator, with no key, answers the rest of the OpenAI API the
// SDK calls: the models list (the simulated models and the two that fail on purpose) and
// deterministic embeddings.
func TestOpenAISDKOnTheSimulator(t *testing.T) {
	e := newEnv(t, options{provider: sdkUpstreams[1].provider})
	client := newOpenAIClient(e, "/v1/", aliceKey)
	ctx := context.Background()
	models, err := client.Models.List(ctx)
	require.NoError(t, err)
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{"models/gemini-2.5-flash", "models/gemini-2.5-pro", "models/gemini-2.5-flash-lite",
		"models/gemini-embedding-001", upstream.SimulatorModelRateLimited, upstream.SimulatorModelFailsMidStream}, ids)

	embed := func(dims int64, inputs ...string) [][]float64 {
		params := openai.EmbeddingNewParams{Model: "gemini-embedding-001",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs}}
		if dims > 0 {
			params.Dimensions = openai.Int(dims)
		}
		resp, err := client.Embeddings.New(ctx, params)
		require.NoError(t, err)
		var out [][]float64
		for _, d := range resp.Data {
			out = append(out, d.Embedding)
		}
		return out
	}
	first := embed(0, "hello", "world")
	require.Len(t, first, 2)
	assert.Len(t, first[0], 768)
	assert.NotEqual(t, first[0], first[1])
	assert.Equal(t, first[1], embed(0, "world")[0], "the same text, the same vector")
	assert.Len(t, embed(16, "hello")[0], 16)
}
