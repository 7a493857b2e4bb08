package upstream

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnaryRequestPaths pins where each provider sends each kind of call: the Gemini Developer
// API follows the caller's version, Vertex maps the calls to its own paths and versions.
func TestUnaryRequestPaths(t *testing.T) {
	key := credentialFunc(func(_ context.Context, r *http.Request) error { r.Header.Set("x-goog-api-key", "k"); return nil })
	gemini, err := NewGemini(GeminiConfig{BaseURL: "http://proxy/gemini?tenant=a&alt=sse", Credential: key})
	require.NoError(t, err)
	vertex, err := NewVertex(VertexConfig{Project: "p", Location: "europe-west4", Credential: key})
	require.NoError(t, err)
	sim, err := NewSimulator(SimulatorConfig{})
	require.NoError(t, err)
	page := url.Values{"pageSize": {"2"}, "pageToken": {"n x"}, "alt": {"sse"}, "key": {"caller-key"}}
	for _, tc := range []struct {
		name     string
		p        UnaryProvider
		call     Call
		method   string
		url      string
		withBody bool
	}{
		{"gemini countTokens", gemini, Call{Model: "gemini-2.5-flash", Method: "countTokens", Body: []byte(`{}`)},
			"POST", "http://proxy/gemini/v1beta/models/gemini-2.5-flash:countTokens?tenant=a", true},
		{"gemini v1 batchEmbedContents", gemini, Call{Model: "gemini-embedding-001", Method: "batchEmbedContents", APIVersion: "v1", Body: []byte(`{}`)},
			"POST", "http://proxy/gemini/v1/models/gemini-embedding-001:batchEmbedContents?tenant=a", true},
		{"gemini get", gemini, Call{Model: "gemini-2.5-pro", APIVersion: "v1alpha"},
			"GET", "http://proxy/gemini/v1alpha/models/gemini-2.5-pro?tenant=a", false},
		{"gemini list", gemini, Call{Query: page},
			"GET", "http://proxy/gemini/v1beta/models?tenant=a&pageSize=2&pageToken=n+x", false},
		{"vertex countTokens", vertex, Call{Model: "gemini-2.5-flash", Method: "countTokens", APIVersion: "v1alpha", Body: []byte(`{}`)},
			"POST", "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-flash:countTokens", true},
		{"vertex get", vertex, Call{Model: "gemini-2.5-flash"},
			"GET", "https://europe-west4-aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash", false},
		{"vertex list", vertex, Call{Query: url.Values{"pageSize": {"5"}}},
			"GET", "https://europe-west4-aiplatform.googleapis.com/v1beta1/publishers/google/models?pageSize=5", false},
		{"simulator embedContent", sim, Call{Model: "m", Method: "embedContent", APIVersion: "v1", Body: []byte(`{}`)},
			"POST", "http://simulator.invalid/v1/models/m:embedContent", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.p.UnaryRequest(context.Background(), tc.call)
			require.NoError(t, err)
			require.Equal(t, tc.method, req.Method)
			require.Equal(t, tc.url, req.URL.String())
			require.Equal(t, "application/json", req.Header.Get("Accept"))
			require.Equal(t, tc.withBody, req.Body != nil)
			if tc.p != sim {
				require.Equal(t, "k", req.Header.Get("x-goog-api-key"))
			}
		})
	}
}

// A Request's API version reaches the streaming and generateContent paths of Gemini, not Vertex's.
func TestGenerationFollowsTheCallersVersion(t *testing.T) {
	key := credentialFunc(func(context.Context, *http.Request) error { return nil })
	gemini, err := NewGemini(GeminiConfig{Credential: key})
	require.NoError(t, err)
	req, err := gemini.StreamRequest(context.Background(), Request{Model: "m", APIVersion: "v1"})
	require.NoError(t, err)
	require.Equal(t, "/v1/models/m:streamGenerateContent", req.URL.Path)
	vertex, err := NewVertex(VertexConfig{Project: "p", Credential: key})
	require.NoError(t, err)
	req, err = vertex.GenerateRequest(context.Background(), Request{Model: "m", APIVersion: "v1alpha"})
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/p/locations/us-central1/publishers/google/models/m:generateContent", req.URL.Path)
	_, err = gemini.StreamRequest(context.Background(), Request{Model: "m", APIVersion: "v1/../x"})
	require.ErrorIs(t, err, ErrInvalidRequest)
}

func TestUnaryRequestRefusesWhatCannotBeAPath(t *testing.T) {
	sim, err := NewSimulator(SimulatorConfig{})
	require.NoError(t, err)
	for _, tc := range []struct {
		call Call
		msg  string
	}{
		{Call{Model: "m", Method: "streamGenerateContent"}, "streamGenerateContent is a streaming method, not a unary call"},
		{Call{Model: "m", Method: "count:Tokens"}, `method "count:Tokens" must be ASCII letters`},
		{Call{Model: "m", Method: "a/b"}, `method "a/b" must be ASCII letters`},
		{Call{Method: "countTokens"}, `method "countTokens" without a model`},
		{Call{Model: "a/b"}, `model name "a/b" has '/' at byte 1`},
		{Call{Model: "m", APIVersion: "v1?x"}, `API version "v1?x" must be one path segment`},
	} {
		t.Run(tc.call.String(), func(t *testing.T) {
			_, err := sim.UnaryRequest(context.Background(), tc.call)
			require.ErrorIs(t, err, ErrInvalidRequest)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestCallString(t *testing.T) {
	require.Equal(t, "models", Call{}.String())
	require.Equal(t, "models/m", Call{Model: "m"}.String())
	require.Equal(t, "models/m:countTokens", Call{Model: "m", Method: "countTokens"}.String())
}

// Gemini's OpenAI-compatible endpoint is under v1beta whatever the caller's version, the
// simulator's where Gemini's is, and Vertex's below its project and location with chat
// completions only: Vertex refuses the others as unsupported. A streaming request goes to the
// same chat/completions, asking for an event stream.
func TestOpenAIRequestPaths(t *testing.T) {
	key := credentialFunc(func(_ context.Context, r *http.Request) error { r.Header.Set("x-goog-api-key", "k"); return nil })
	gemini, err := NewGemini(GeminiConfig{BaseURL: "http://proxy/gemini?tenant=a", Credential: key})
	require.NoError(t, err)
	req, err := gemini.UnaryRequest(context.Background(), Call{OpenAI: OpenAIModels, APIVersion: "v1"})
	require.NoError(t, err)
	require.Equal(t, "GET", req.Method)
	require.Equal(t, "http://proxy/gemini/v1beta/openai/models?tenant=a", req.URL.String())
	require.Equal(t, "Bearer k", req.Header.Get("Authorization"))
	require.Empty(t, req.Header.Get("x-goog-api-key"))
	oauth := credentialFunc(func(_ context.Context, r *http.Request) error { r.Header.Set("Authorization", "Bearer t"); return nil })
	vertex, err := NewVertex(VertexConfig{Project: "p", Location: "europe-west4", Credential: oauth})
	require.NoError(t, err)
	sim, err := NewSimulator(SimulatorConfig{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		p    Provider
		call Call
		want string // "" is ErrUnsupported
	}{
		{"vertex chat", vertex, Call{OpenAI: OpenAIChat, Body: []byte(`{}`)},
			"POST https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/endpoints/openapi/chat/completions Bearer t"},
		{"vertex embeddings", vertex, Call{OpenAI: OpenAIEmbeddings, Body: []byte(`{}`)}, ""},
		{"vertex models", vertex, Call{OpenAI: OpenAIModels}, ""},
		{"simulator chat", sim, Call{OpenAI: OpenAIChat, Body: []byte(`{}`)}, "POST http://simulator.invalid/v1beta/openai/chat/completions "},
		{"simulator models", sim, Call{OpenAI: OpenAIModels}, "GET http://simulator.invalid/v1beta/openai/models "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tc.p.(UnaryProvider).UnaryRequest(context.Background(), tc.call)
			if tc.want == "" {
				require.ErrorIs(t, err, ErrUnsupported)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, req.Method+" "+req.URL.String()+" "+req.Header.Get("Authorization"))
			if tc.call.OpenAI != OpenAIChat {
				return
			}
			stream, err := tc.p.StreamRequest(context.Background(), Request{OpenAI: true, Model: "google/gemini-2.5-flash", Body: tc.call.Body})
			require.NoError(t, err)
			require.Equal(t, tc.want, stream.Method+" "+stream.URL.String()+" "+stream.Header.Get("Authorization"))
			require.Equal(t, "text/event-stream", stream.Header.Get("Accept"))
		})
	}
	stream, err := gemini.StreamRequest(context.Background(), Request{OpenAI: true, Model: "models/gemini-2.5-flash", Body: []byte(`{}`)})
	require.NoError(t, err)
	require.Equal(t, "POST http://proxy/gemini/v1beta/openai/chat/completions?tenant=a Bearer k", stream.Method+" "+stream.URL.String()+" "+stream.Header.Get("Authorization"))
	sse, err := NewSSE(SSEConfig{URL: "http://example/stream"})
	require.NoError(t, err)
	_, err = sse.StreamRequest(context.Background(), Request{OpenAI: true, Body: []byte(`{}`)})
	require.ErrorIs(t, err, ErrUnsupported)
	require.Equal(t, "openai/chat/completions", Call{OpenAI: OpenAIChat}.String())
	_, err = gemini.UnaryRequest(context.Background(), Call{OpenAI: OpenAIChat, Model: "m"})
	require.ErrorIs(t, err, ErrInvalidRequest)
}
