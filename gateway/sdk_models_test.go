package gateway_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// sdkBackends are the two upstreams the official SDK is tried against: the fake Gemini over real
// HTTP (which answers the models collection as the simulator does) and the embedded simulator.
var sdkBackends = []struct {
	name string
	opts options
	fake bool // the upstream is the fake, whose requests can be checked
}{
	{"fake upstream", options{}, true},
	{"simulator", options{provider: func(string) (upstream.Provider, error) {
		return upstream.NewSimulator(upstream.SimulatorConfig{Chunks: 3, Text: strings.Join(defaultTexts, "")})
	}}, false},
}

// newSDKClientAt is newSDKClient for an API version.
func newSDKClientAt(t *testing.T, e *env, key, version string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      key,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  e.client,
		HTTPOptions: genai.HTTPOptions{BaseURL: e.url, APIVersion: version},
	})
	require.NoError(t, err)
	return c
}

// TestSDKModelsCollection runs the calls every app makes besides generating, with the official Go
// SDK unchanged but for its base URL, on both backends and under v1beta and v1.
func TestSDKModelsCollection(t *testing.T) {
	ctx := context.Background()
	for _, b := range sdkBackends {
		for _, version := range []string{"v1beta", "v1"} {
			t.Run(b.name+"/"+version, func(t *testing.T) {
				e := newEnv(t, b.opts)
				client := newSDKClientAt(t, e, aliceKey, version)

				var text strings.Builder
				var last *genai.GenerateContentResponse
				for resp, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("Say hello"), nil) {
					require.NoError(t, err)
					text.WriteString(resp.Text())
					last = resp
				}
				assert.Equal(t, "Hello, streaming world!", text.String())
				require.NotNil(t, last)
				assert.Equal(t, genai.FinishReasonStop, last.Candidates[0].FinishReason)

				gen, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Say hello"), nil)
				require.NoError(t, err)
				assert.Equal(t, "Hello, streaming world!", gen.Text())

				count, err := client.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("Say hello to the gateway"), nil)
				require.NoError(t, err)
				assert.Equal(t, int32(5), count.TotalTokens, "the words of the prompt")

				contents := append(genai.Text("first text"), genai.Text("second text")...)
				dims := int32(8)
				emb, err := client.Models.EmbedContent(ctx, "gemini-embedding-001", contents, &genai.EmbedContentConfig{OutputDimensionality: &dims})
				require.NoError(t, err)
				require.Len(t, emb.Embeddings, 2)
				for _, e := range emb.Embeddings {
					require.Len(t, e.Values, 8)
					var norm float64
					for _, v := range e.Values {
						norm += float64(v) * float64(v)
					}
					assert.InDelta(t, 1, math.Sqrt(norm), 1e-5, "a unit vector")
				}
				assert.NotEqual(t, emb.Embeddings[0].Values, emb.Embeddings[1].Values)
				again, err := client.Models.EmbedContent(ctx, "gemini-embedding-001", genai.Text("first text"), &genai.EmbedContentConfig{OutputDimensionality: &dims})
				require.NoError(t, err)
				assert.Equal(t, emb.Embeddings[0].Values, again.Embeddings[0].Values, "deterministic")

				page, err := client.Models.List(ctx, &genai.ListModelsConfig{PageSize: 3})
				require.NoError(t, err)
				names := modelNames(page.Items)
				require.Len(t, names, 3)
				require.NotEmpty(t, page.NextPageToken)
				page, err = page.Next(ctx)
				require.NoError(t, err)
				names = append(names, modelNames(page.Items)...)
				_, err = page.Next(ctx)
				require.ErrorIs(t, err, genai.ErrPageDone)
				want := []string{"models/gemini-2.5-flash", "models/gemini-2.5-pro", "models/gemini-2.5-flash-lite", "models/gemini-embedding-001"}
				assert.Equal(t, want, names)
				var all []string
				for m, err := range client.Models.All(ctx) {
					require.NoError(t, err)
					all = append(all, m.Name)
				}
				assert.Equal(t, want, all)

				model, err := client.Models.Get(ctx, "gemini-2.5-pro", nil)
				require.NoError(t, err)
				assert.Equal(t, "models/gemini-2.5-pro", model.Name)
				assert.Equal(t, "Gemini 2.5 Pro (simulated)", model.DisplayName)
				assert.Equal(t, int32(1048576), model.InputTokenLimit)
				_, err = client.Models.Get(ctx, "gemini-0", nil)
				var apiErr genai.APIError
				require.True(t, errors.As(err, &apiErr), "%T %v", err, err)
				assert.Equal(t, http.StatusNotFound, apiErr.Code)
				assert.Equal(t, "NOT_FOUND", apiErr.Status)
				assert.Contains(t, apiErr.Message, "models/gemini-0 is not found for API version "+version)

				if !b.fake {
					return
				}
				calls := map[string]int{}
				for _, r := range e.fake.Requests() {
					assert.Equal(t, upstreamKey, r.Header.Get("x-goog-api-key"), r.Path)
					assert.True(t, strings.HasPrefix(r.Path, "/"+version+"/models"), r.Path)
					calls[r.Method+" "+r.Call]++
				}
				assert.Equal(t, map[string]int{
					"POST streamGenerateContent": 1, "POST generateContent": 1, "POST countTokens": 1,
					"POST batchEmbedContents": 2, "GET ": 5, // two pages, All in one, two gets
				}, calls, "EmbedContent sends batchEmbedContents")
			})
		}
	}
}

func modelNames(models []*genai.Model) []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.Name
	}
	return out
}

// TestSDKSeesModelErrors: an upstream's refusal of a models call reaches the SDK as Google's
// APIError, code and status paired as Google pairs them.
func TestSDKSeesModelErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, options{})
	client := newSDKClientAt(t, e, aliceKey, "v1")
	e.fake.Enqueue(upstreamtest.Error(http.StatusTooManyRequests, "Quota exceeded for countTokens.").With("Retry-After", "5"),
		upstreamtest.Error(http.StatusServiceUnavailable, "The model is overloaded."))
	_, err := client.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("x"), nil)
	var apiErr genai.APIError
	require.True(t, errors.As(err, &apiErr), "%T %v", err, err)
	assert.Equal(t, genai.APIError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Quota exceeded for countTokens."}, stripDetails(apiErr))
	_, err = client.Models.EmbedContent(ctx, "gemini-embedding-001", genai.Text("x"), nil)
	require.True(t, errors.As(err, &apiErr), "%T %v", err, err)
	assert.Equal(t, genai.APIError{Code: 503, Status: "UNAVAILABLE", Message: "The model is overloaded."}, stripDetails(apiErr))
}

// stripDetails keeps what an APIError says of the error itself.
func stripDetails(e genai.APIError) genai.APIError {
	return genai.APIError{Code: e.Code, Status: e.Status, Message: e.Message}
}
