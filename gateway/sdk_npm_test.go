package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
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

// runNode runs one of the scripts in sdkJSDir with args and env (its base URL and key) added to
// the test's environment, and decodes the JSON object it prints into out, which must have a field
// for everything it prints. A script that throws fails the test with its stderr.
func runNode(t *testing.T, env map[string]string, out any, script string, args ...string) {
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
				runNode(t, genaiEnv(e, version), &out, "genai.mjs", "calls")
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
	runNode(t, genaiEnv(e, "v1beta"), &out, "genai.mjs", "errors")
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
// under both of the gateway's OpenAI prefixes, on the fake upstream and on the simulator: a chat
// completion refused with 429 (on the fake Gemini's error in a JSON array), raised as the SDK's
// RateLimitError; a chat completion with its usage; embeddings; the models list; a streamed chat
// completion assembled, with its usage chunk and ending with data: [DONE]; a stream refused with
// 429 before its first chunk and one that fails after it, both raised by the SDK, never returned
// as a truncated answer. The SDK's streams are read through a recording proxy, so that the test
// sees the frames it was sent.
func TestJSOpenAISDK(t *testing.T) {
	requireNodeSDKs(t)
	scenarios := []string{"error", "streamRefused", "streamFailure", "chat", "embeddings", "models", "stream"}
	for _, b := range sdkBackends {
		want := openAIWants[b.name]
		for _, prefix := range []string{"/v1beta/openai", "/v1"} {
			t.Run(b.name+prefix, func(t *testing.T) {
				e := newEnv(t, b.opts)
				models := map[string]string{
					"STREAMGATE_RATE_LIMITED_MODEL": upstream.SimulatorModelRateLimited,
					"STREAMGATE_FAILING_MODEL":      upstream.SimulatorModelFailsMidStream,
				}
				if b.fake {
					rateLimited := upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"17"}},
						Body: []byte(`[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`)}
					e.fake.Enqueue(rateLimited, rateLimited, upstreamtest.OpenAIStreamFailing(
						upstreamtest.OpenAIError{Message: "The model is overloaded.", Type: "server_error"}, "Hello", " from"))
					models = nil
				}
				wire := newWireRecorder(t, e.url)
				got := runOpenAI(t, wire.url+prefix, aliceKey, models, scenarios...)

				assert.JSONEq(t, `{"raised":`+want.refused+`}`, got["error"])
				assert.JSONEq(t, `{"deltas":[],"raised":`+want.streamRefused+`}`, got["streamRefused"])
				assert.JSONEq(t, `{"deltas":`+want.failedDeltas+`,"raised":`+want.failed+`}`, got["streamFailure"])
				assert.JSONEq(t, want.chat, got["chat"])
				assert.JSONEq(t, openAIEmbedding(t, e, prefix), got["embeddings"])
				assert.JSONEq(t, want.models, got["models"])
				var stream struct {
					StreamID string `json:"streamId"`
					Chunks   int    `json:"chunks"`
				}
				require.NoError(t, json.Unmarshal([]byte(got["stream"]), &stream))
				assert.JSONEq(t, fmt.Sprintf(`{"streamId":%q,"chunks":4,%s}`, stream.StreamID, want.stream), got["stream"])
				e.waitStatus(aliceKey, stream.StreamID, "completed")

				bodies := wire.bodies()
				require.Len(t, bodies, 2, "the failed stream's and the stream's")
				failed := requireFrames(t, bodies[0])
				assert.Len(t, failed, 3, "two chunks and the error")
				assert.JSONEq(t, `{"error":`+want.failedFrame+`}`, failed[len(failed)-1], "one error frame in OpenAI's shape")
				assert.NotContains(t, bodies[0], "[DONE]", "a failed stream never ends with data: [DONE]")
				frames := requireFrames(t, bodies[1])
				assert.Len(t, frames, stream.Chunks+1, "every chunk the SDK yielded, then data: [DONE]")
				assert.Equal(t, "[DONE]", frames[len(frames)-1])

				if !b.fake {
					return
				}
				var calls []string
				for _, r := range e.fake.Requests() {
					assert.Equal(t, "Bearer "+upstreamKey, r.Header.Get("Authorization"), r.Path)
					calls = append(calls, r.Method+" "+r.Path)
				}
				chat, embed := "POST /v1beta/openai/chat/completions", "POST /v1beta/openai/embeddings"
				assert.Equal(t, []string{chat, chat, chat, chat, embed, "GET /v1beta/openai/models", chat, embed}, calls,
					"the SDK's calls, then the test's own embeddings")
				assert.JSONEq(t, `{"model":"gemini-embedding-001","input":"first text","dimensions":8,"encoding_format":"base64"}`,
					string(e.fake.Requests()[4].Body), "passed through as the SDK sent it")
			})
		}
	}
	t.Run("wrong key", func(t *testing.T) {
		e := newEnv(t, options{})
		got := runOpenAI(t, e.url+"/v1", "sk-nope", nil, "error")
		assert.JSONEq(t, `{"raised":{"class":"AuthenticationError","status":401,"type":"authentication_error","code":"invalid_api_key","param":null,
			"message":"401 API key not valid. Please pass a valid API key.","retryAfter":null}}`, got["error"])
		assert.Zero(t, e.fake.RequestCount(), "a wrong key never reaches the upstream")
	})
}

// openAIWant is what openai.mjs prints on a backend, in JSON: the errors raised when a chat
// completion is refused, a stream refused and a stream failed, the deltas of the failed stream
// and its error frame's error, the chat completion, the models and the streamed answer.
type openAIWant struct {
	refused, streamRefused, failed, failedDeltas, failedFrame, chat, models, stream string
}

var openAIWants = map[string]openAIWant{
	"fake upstream": {
		refused: `{"class":"RateLimitError","status":429,"type":"rate_limit_error","code":null,"param":null,
			"message":"429 Resource has been exhausted (e.g. check quota).","retryAfter":"17"}`,
		streamRefused: `{"class":"RateLimitError","status":429,"type":"rate_limit_error","code":null,"param":null,
			"message":"429 Resource has been exhausted (e.g. check quota).","retryAfter":"17"}`,
		failed: `{"class":"APIError","status":null,"type":"server_error","code":null,"param":null,
			"message":"The model is overloaded.","retryAfter":null}`,
		failedDeltas: `["Hello"," from"]`,
		failedFrame:  `{"message":"The model is overloaded.","type":"server_error","param":null,"code":null}`,
		chat: `{"id":"fake-chatcmpl-1","model":"gemini-2.5-flash",
			"choices":[{"finish_reason":"stop","index":0,"message":{"content":"Hello from the fake.","role":"assistant"}}],
			"usage":{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}}`,
		models: `["models/gemini-2.5-flash","models/gemini-embedding-001"]`,
		stream: `"deltas":["Hello"," from"," the fake."],"text":"Hello from the fake.","finishReasons":["stop"],
			"usage":{"completion_tokens":4,"prompt_tokens":3,"total_tokens":7}`,
	},
	"simulator": {
		refused: `{"class":"RateLimitError","status":429,"type":"rate_limit_error","code":"rate_limit_exceeded","param":null,
			"message":"429 simulator: rate limited, as the model simulator-rate-limited always is","retryAfter":null}`,
		streamRefused: `{"class":"RateLimitError","status":429,"type":"rate_limit_error","code":"rate_limit_exceeded","param":null,
			"message":"429 simulator: rate limited, as the model simulator-rate-limited always is","retryAfter":null}`,
		failed: `{"class":"APIError","status":null,"type":"server_error","code":null,"param":null,
			"message":"simulator: the generation failed, as the model simulator-fails-mid-stream always does","retryAfter":null}`,
		failedDeltas: `["Hello, ","streaming "]`,
		failedFrame: `{"message":"simulator: the generation failed, as the model simulator-fails-mid-stream always does",
			"type":"server_error","param":null,"code":null}`,
		chat: `{"id":"chatcmpl-simulator","model":"gemini-2.5-flash",
			"choices":[{"finish_reason":"stop","index":0,"message":{"content":"Hello, streaming world!","role":"assistant"}}],
			"usage":{"completion_tokens":3,"prompt_tokens":2,"total_tokens":5}}`,
		models: `["models/gemini-2.5-flash","models/gemini-2.5-pro","models/gemini-2.5-flash-lite","models/gemini-embedding-001",
			"simulator-rate-limited","simulator-fails-mid-stream"]`,
		stream: `"deltas":["Hello, ","streaming ","world!"],"text":"Hello, streaming world!","finishReasons":["stop"],
			"usage":{"completion_tokens":3,"prompt_tokens":2,"total_tokens":5}`,
	},
}

// openAIEmbedding returns what openai.mjs's embeddings scenario must print: the data and usage of
// the gateway's answer to its request, asked for without an SDK.
func openAIEmbedding(t *testing.T, e *env, prefix string) string {
	t.Helper()
	status, b := e.do("POST", prefix+"/embeddings", "", `{"model":"gemini-embedding-001","input":"first text","dimensions":8}`,
		"Authorization", "Bearer "+aliceKey)
	require.Equal(t, http.StatusOK, status, string(b))
	var out struct {
		Data  json.RawMessage `json:"data"`
		Usage json.RawMessage `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	return `{"data":` + string(out.Data) + `,"usage":` + string(out.Usage) + `}`
}

// requireFrames splits an OpenAI event stream into the data of its frames, each exactly
// "data: {data}\n\n".
func requireFrames(t *testing.T, body string) []string {
	t.Helper()
	require.True(t, strings.HasSuffix(body, "\n\n"), "%q", body)
	var out []string
	for _, frame := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(frame, "data: ")
		require.True(t, ok && !strings.Contains(data, "\n"), "frame %q", frame)
		out = append(out, data)
	}
	return out
}

// runOpenAI runs testdata/sdk-js/openai.mjs with a base URL, a key and env, and returns what it
// printed for each scenario.
func runOpenAI(t *testing.T, baseURL, key string, env map[string]string, scenarios ...string) map[string]string {
	t.Helper()
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env["STREAMGATE_URL"], env["STREAMGATE_KEY"] = baseURL, key
	var out map[string]json.RawMessage
	runNode(t, env, &out, "openai.mjs", scenarios...)
	got := map[string]string{}
	for k, v := range out {
		got[k] = string(v)
	}
	require.Len(t, got, len(scenarios), "one answer per scenario")
	return got
}

// wireRecorder is a reverse proxy in front of the gateway that keeps the bytes of every event
// stream it passes on, so that a test sees exactly what an SDK it points at was sent.
type wireRecorder struct {
	url  string
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*bytes.Buffer // an event stream's body each, in the order the answers began
}

func newWireRecorder(t *testing.T, target string) *wireRecorder {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	w := &wireRecorder{}
	transport := &http.Transport{DisableCompression: true}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport:     transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Header.Get("Content-Type") == "text/event-stream" {
				resp.Body = struct {
					io.Reader
					io.Closer
				}{io.TeeReader(resp.Body, w.record()), resp.Body}
			}
			return nil
		},
	}
	w.srv = httptest.NewServer(proxy)
	w.url = w.srv.URL
	t.Cleanup(func() {
		w.srv.Close()
		transport.CloseIdleConnections()
	})
	return w
}

// record returns the writer of a new event stream's bytes.
func (w *wireRecorder) record() io.Writer {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := &bytes.Buffer{}
	w.seen = append(w.seen, b)
	return writerFunc(func(p []byte) (int, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return b.Write(p)
	})
}

// bodies stops the proxy, waiting for the answers in flight, and returns the event streams.
func (w *wireRecorder) bodies() []string {
	w.srv.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.seen))
	for i, b := range w.seen {
		out[i] = b.String()
	}
	return out
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
