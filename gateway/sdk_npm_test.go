package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// sdkJSDir holds the Node scripts that drive the official JavaScript SDKs, with the
// package-lock.json that pins them; make deps runs npm ci there.
const sdkJSDir = "testdata/sdk-js"

// requireNodeSDKs skips the test when node or the installed SDKs are missing; .ci/run requires
// both, so CI always runs these tests.
func requireNodeSDKs(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (Node.js >= 20); .ci/run requires it")
	}
	if _, err := os.Stat(filepath.Join(sdkJSDir, "node_modules")); err != nil {
		t.Skip("the JavaScript SDKs are not installed: run make deps (npm ci in gateway/" + sdkJSDir + ")")
	}
}

// runNode runs one of the scripts in sdkJSDir against the gateway with a gateway key, and
// decodes the JSON object it prints into out. The script fails the test if it throws.
func runNode(t *testing.T, e *env, env map[string]string, out any, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = sdkJSDir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "node %s %s: %s", script, strings.Join(args, " "), stderr.String())
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(out), "node %s printed %s", script, stdout.String())
}

// genaiEnv points genai.mjs at the gateway under an API version, with a gateway key.
func genaiEnv(e *env, version string) map[string]string {
	return map[string]string{"STREAMGATE_URL": e.url, "STREAMGATE_KEY": aliceKey, "STREAMGATE_API_VERSION": version}
}

// genaiOutput is what testdata/sdk-js/genai.mjs prints for its scenario calls.
type genaiOutput struct {
	Stream struct {
		Chunks       []string `json:"chunks"`
		Text         string   `json:"text"`
		FinishReason string   `json:"finishReason"`
	} `json:"stream"`
	Generate struct {
		Text         string `json:"text"`
		FinishReason string `json:"finishReason"`
	} `json:"generate"`
	CountTokens int `json:"countTokens"`
	Embed       struct {
		Two [][]float64 `json:"two"`
		One [][]float64 `json:"one"`
	} `json:"embed"`
	List struct {
		Pages [][]string `json:"pages"`
		All   []string   `json:"all"`
	} `json:"list"`
	Get struct {
		Name            string `json:"name"`
		DisplayName     string `json:"displayName"`
		InputTokenLimit int    `json:"inputTokenLimit"`
	} `json:"get"`
	GetMissing struct {
		Name   string `json:"name"`
		Status int    `json:"status"`
		Error  struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	} `json:"getMissing"`
}

// TestJSGenAISDK runs the calls every app makes with the official @google/genai npm package,
// unchanged but for its base URL and key, on both backends and under v1beta and v1
// (apiVersion: 'v1'): a stream, generateContent, countTokens, embedContent (which the SDK sends
// as batchEmbedContents), the models list page by page and whole, and models.get.
func TestJSGenAISDK(t *testing.T) {
	requireNodeSDKs(t)
	for _, b := range sdkBackends {
		for _, version := range []string{"v1beta", "v1"} {
			t.Run(b.name+"/"+version, func(t *testing.T) {
				e := newEnv(t, b.opts)
				var out struct {
					Calls genaiOutput `json:"calls"`
				}
				runNode(t, e, genaiEnv(e, version), &out, "genai.mjs", "calls")
				got := out.Calls

				var want genaiOutput
				want.Stream.Chunks = defaultTexts
				if !b.fake {
					want.Stream.Chunks = []string{"Hello, ", "streaming ", "world!"}
				}
				want.Stream.Text, want.Stream.FinishReason = "Hello, streaming world!", "STOP"
				want.Generate.Text, want.Generate.FinishReason = "Hello, streaming world!", "STOP"
				want.CountTokens = 5
				first, second := embeddings(t, e, version, "first text"), embeddings(t, e, version, "second text")
				want.Embed.Two = [][]float64{first, second}
				want.Embed.One = [][]float64{first}
				models := []string{"models/gemini-2.5-flash", "models/gemini-2.5-pro", "models/gemini-2.5-flash-lite", "models/gemini-embedding-001"}
				want.List.Pages = [][]string{models[:3], models[3:]}
				want.List.All = models
				want.Get.Name, want.Get.DisplayName, want.Get.InputTokenLimit = "models/gemini-2.5-pro", "Gemini 2.5 Pro (simulated)", 1048576
				want.GetMissing.Name, want.GetMissing.Status = "ApiError", 404
				want.GetMissing.Error.Code, want.GetMissing.Error.Status = 404, "NOT_FOUND"
				want.GetMissing.Error.Message = "models/gemini-0 is not found for API version " + version +
					", or is not supported for GetModel. Call ListModels to see the list of available models and their supported methods."
				assert.Equal(t, want, got)
				assert.NotEqual(t, first, second)

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
					"POST batchEmbedContents": 4, // the SDK's two and the test's own two
					"GET ":                    5, // two pages, the whole list in one, two gets
				}, calls, "embedContent sends batchEmbedContents")
			})
		}
	}
}

// TestJSGenAISDKErrors: with @google/genai, a stream that fails after its first chunk raises an
// ApiError with the upstream's error after yielding that chunk, never a clean, truncated end; an
// upstream 429 of generateContent raises an ApiError with Google's error body.
func TestJSGenAISDKErrors(t *testing.T) {
	requireNodeSDKs(t)
	e := newEnv(t, options{})
	e.fake.Enqueue(upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(upstreamtest.Chunks("one", "two")[0]),
		upstreamtest.ErrorTail(http.StatusServiceUnavailable, "The model is overloaded.")}},
		upstreamtest.Error(http.StatusTooManyRequests, "Quota exceeded."))
	var out struct {
		Errors json.RawMessage `json:"errors"`
	}
	runNode(t, e, genaiEnv(e, "v1beta"), &out, "genai.mjs", "errors")
	assert.JSONEq(t, `{
		"stream":{"chunks":["one"],"raised":{"name":"ApiError","status":503,
			"message":"got status: UNAVAILABLE. {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}"}},
		"generate":{"raised":{"name":"ApiError","status":429,
			"message":"{\"error\":{\"code\":429,\"message\":\"Quota exceeded.\",\"status\":\"RESOURCE_EXHAUSTED\"}}"}}
	}`, string(out.Errors))
}

// embeddings returns the gateway's embedding of text in 8 dimensions, asked for without an SDK.
func embeddings(t *testing.T, e *env, version, text string) []float64 {
	t.Helper()
	body := `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"` + text + `"}]},"outputDimensionality":8}]}`
	status, b := e.do("POST", "/"+version+"/models/gemini-embedding-001:batchEmbedContents", aliceKey, body)
	require.Equal(t, 200, status, string(b))
	var out struct{ Embeddings []struct{ Values []float64 } }
	require.NoError(t, json.Unmarshal(b, &out))
	require.Len(t, out.Embeddings, 1)
	require.Len(t, out.Embeddings[0].Values, 8)
	return out.Embeddings[0].Values
}

// TestJSOpenAISDK runs the official openai npm package, unchanged but for its base URL and key,
// under both of the gateway's OpenAI prefixes on the fake upstream (the simulator does not speak
// the OpenAI dialect): an upstream 429, Gemini's error in a JSON array, raised as the SDK's
// RateLimitError with its Retry-After; a chat completion with its usage; embeddings; the models
// list. A wrong gateway key is raised as an AuthenticationError.
func TestJSOpenAISDK(t *testing.T) {
	requireNodeSDKs(t)
	e := newEnv(t, options{})
	for _, prefix := range []string{"/v1beta/openai", "/v1"} {
		t.Run(strings.TrimPrefix(prefix, "/"), func(t *testing.T) {
			e.fake.Enqueue(upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"17"}},
				Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)})
			got := runOpenAI(t, e, prefix, aliceKey, "error", "chat", "embeddings", "models")
			assert.JSONEq(t, `{"raised":{"class":"RateLimitError","status":429,"type":"rate_limit_error","code":null,"param":null,
				"message":"429 Resource has been exhausted (e.g. check quota).","retryAfter":"17"}}`, got["error"])
			assert.JSONEq(t, `{"id":"fake-chatcmpl-1","model":"gemini-2.5-flash",
				"choices":[{"finish_reason":"stop","index":0,"message":{"content":"Hello from the fake.","role":"assistant"}}],
				"usage":{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}}`, got["chat"])
			assert.JSONEq(t, `{"data":[{"embedding":[0.6,0.8],"index":0,"object":"embedding"}],"usage":{"prompt_tokens":2,"total_tokens":2}}`, got["embeddings"])
			assert.JSONEq(t, `["models/gemini-2.5-flash","models/gemini-embedding-001"]`, got["models"])
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		got := runOpenAI(t, e, "/v1", "sk-nope", "error")
		assert.JSONEq(t, `{"raised":{"class":"AuthenticationError","status":401,"type":"authentication_error","code":"invalid_api_key","param":null,
			"message":"401 API key not valid. Please pass a valid API key.","retryAfter":null}}`, got["error"])
	})

	var calls []string
	for _, r := range e.fake.Requests() {
		assert.Equal(t, "Bearer "+upstreamKey, r.Header.Get("Authorization"), r.Path)
		calls = append(calls, r.Method+" "+r.Path)
		if strings.HasSuffix(r.Path, "/embeddings") {
			assert.JSONEq(t, `{"model":"gemini-embedding-001","input":"first text","encoding_format":"base64"}`, string(r.Body), "passed through as the SDK sent it")
		}
	}
	once := []string{"POST /v1beta/openai/chat/completions", "POST /v1beta/openai/chat/completions",
		"POST /v1beta/openai/embeddings", "GET /v1beta/openai/models"}
	assert.Equal(t, append(once, once...), calls, "the SDK's calls under both prefixes; the wrong key never reaches the upstream")
}

// runOpenAI runs testdata/sdk-js/openai.mjs with the gateway's base URL under prefix and key, and
// returns what it printed for each scenario.
func runOpenAI(t *testing.T, e *env, prefix, key string, scenarios ...string) map[string]string {
	t.Helper()
	var out map[string]json.RawMessage
	runNode(t, e, map[string]string{"STREAMGATE_URL": e.url + prefix, "STREAMGATE_KEY": key}, &out, "openai.mjs", scenarios...)
	got := map[string]string{}
	for k, v := range out {
		got[k] = string(v)
	}
	require.Len(t, got, len(scenarios), "one answer per scenario")
	return got
}
