package geminiwire

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serve answers one request as the simulator does and returns its status and body.
func serve(t *testing.T, method, target, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	p, ok := ParseModelPath(r.URL.Path)
	require.True(t, ok, target)
	w := httptest.NewRecorder()
	ServeModels(w, r, p, []byte(body))
	if w.Code == http.StatusOK {
		require.Equal(t, "application/json; charset=UTF-8", w.Header().Get("Content-Type"))
	}
	return w.Code, w.Body.String()
}

func TestServeModelsListPages(t *testing.T) {
	type page struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
		NextPageToken string `json:"nextPageToken"`
	}
	read := func(target string) page {
		code, body := serve(t, "GET", target, "")
		require.Equal(t, 200, code, body)
		var p page
		require.NoError(t, json.Unmarshal([]byte(body), &p))
		return p
	}
	all := read("/v1beta/models")
	require.Len(t, all.Models, len(Models))
	require.Empty(t, all.NextPageToken)
	first := read("/v1/models?pageSize=3")
	require.Len(t, first.Models, 3)
	require.Equal(t, "models/gemini-2.5-flash", first.Models[0].Name)
	require.NotEmpty(t, first.NextPageToken)
	second := read("/v1/models?pageSize=3&pageToken=" + first.NextPageToken)
	require.Len(t, second.Models, 1)
	require.Equal(t, "models/gemini-embedding-001", second.Models[0].Name)
	require.Empty(t, second.NextPageToken)

	for _, target := range []string{"/v1beta/models?pageToken=nope", "/v1beta/models?pageToken=" + pageToken(99), "/v1beta/models?pageSize=-1", "/v1beta/models?pageSize=x"} {
		code, body := serve(t, "GET", target, "")
		require.Equal(t, 400, code, target)
		require.Contains(t, body, `"status": "INVALID_ARGUMENT"`, target)
	}
}

func TestServeModelsGet(t *testing.T) {
	code, body := serve(t, "GET", "/v1beta/models/gemini-2.5-pro", "")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"name":"models/gemini-2.5-pro","baseModelId":"gemini-2.5-pro","version":"001",
		"displayName":"Gemini 2.5 Pro (simulated)","description":"A model streamgate's simulator answers locally, without any upstream.",
		"inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]}`, body)
	code, body = serve(t, "GET", "/v1/models/gemini-9", "")
	require.Equal(t, 404, code)
	require.Equal(t, string(ErrorBody(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1, or is not supported for GetModel. "+
		"Call ListModels to see the list of available models and their supported methods.")), body)
}

func TestServeModelsCountTokens(t *testing.T) {
	code, body := serve(t, "POST", "/v1beta/models/m:countTokens",
		`{"contents":[{"role":"user","parts":[{"text":"one two  three"},{"inlineData":{"data":"eA=="}}]},{"parts":[{"text":"four\nfive"}]}]}`)
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"totalTokens":5,"promptTokensDetails":[{"modality":"TEXT","tokenCount":5}]}`, body)
	code, body = serve(t, "POST", "/v1beta/models/m:countTokens",
		`{"generateContentRequest":{"systemInstruction":{"parts":[{"text":"be brief"}]},"contents":[{"parts":[{"text":"hi"}]}]}}`)
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"totalTokens":3,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]}`, body)
	code, _ = serve(t, "POST", "/v1beta/models/m:countTokens", `[1]`)
	require.Equal(t, 400, code)
}

func TestServeModelsEmbeddings(t *testing.T) {
	type vec struct {
		Values []float64 `json:"values"`
	}
	code, body := serve(t, "POST", "/v1beta/models/gemini-embedding-001:embedContent", `{"content":{"parts":[{"text":"hello"},{"text":"world"}]}}`)
	require.Equal(t, 200, code, body)
	var one struct{ Embedding vec }
	require.NoError(t, json.Unmarshal([]byte(body), &one))
	require.Len(t, one.Embedding.Values, DefaultDimension)
	var norm float64
	for _, v := range one.Embedding.Values {
		norm += v * v
	}
	require.InDelta(t, 1, math.Sqrt(norm), 1e-5, "a unit vector")

	code, body = serve(t, "POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello world"}]}},
		{"content":{"parts":[{"text":"other"}]},"outputDimensionality":4}]}`)
	require.Equal(t, 200, code, body)
	var batch struct{ Embeddings []vec }
	require.NoError(t, json.Unmarshal([]byte(body), &batch))
	require.Len(t, batch.Embeddings, 2)
	require.Equal(t, one.Embedding.Values, batch.Embeddings[0].Values, "the same text gives the same vector")
	require.Len(t, batch.Embeddings[1].Values, 4)
	require.NotEqual(t, Embedding("other", 4), Embedding("another", 4))

	for _, tc := range []struct{ path, body, msg string }{
		{":embedContent", `{}`, "* EmbedContentRequest.content: content is not specified"},
		{":embedContent", `{"content":{"parts":[]},"outputDimensionality":0}`, "output_dimensionality: must be between 1 and 3072"},
		{":batchEmbedContents", `{"requests":[]}`, "* BatchEmbedContentsRequest.requests: requests is not specified"},
		{":batchEmbedContents", `{"requests":[{"model":"models/other","content":{}}]}`, "is not the model of the path, models/e"},
		{":batchEmbedContents", `nope`, "Invalid JSON payload received."},
	} {
		code, body := serve(t, "POST", "/v1beta/models/e"+tc.path, tc.body)
		require.Equal(t, 400, code, tc.body)
		require.Contains(t, body, tc.msg)
	}
}

func TestServeModelsRefusesOtherCalls(t *testing.T) {
	for _, tc := range []struct{ method, target string }{
		{"POST", "/v1beta/models/m:predict"},
		{"GET", "/v1beta/models/m:countTokens"},
		{"POST", "/v1beta/models/m"},
		{"DELETE", "/v1beta/models"},
	} {
		code, body := serve(t, tc.method, tc.target, `{}`)
		require.Equal(t, 404, code, tc.target)
		require.Contains(t, body, `"status": "NOT_FOUND"`)
	}
}

func TestPromptTokens(t *testing.T) {
	require.Equal(t, 0, PromptTokens([]byte(`{"contents":[]}`)))
	require.Equal(t, 0, PromptTokens([]byte(`not json`)))
	require.Equal(t, 2, PromptTokens([]byte(`{"contents":[{"parts":[{"text":"Say hello"}]}],"generationConfig":{"stopSequences":["x y"]}}`)))
}
