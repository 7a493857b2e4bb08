package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/upstream"
)

// answer is one request of an exact-bytes table and what it must be answered.
type answer struct {
	name, method, path, key, body string
	header                        []string
	want                          string // see dumpAnswer
}

// dumpAnswer renders a response as the tables below spell it: the status, the headers a client
// acts on, and the whole body.
func dumpAnswer(resp *http.Response, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	for _, h := range []string{"Retry-After", "Allow", "X-Content-Type-Options"} {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(&b, " %s=%s", h, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.String()
}

func (e *env) checkAnswers(t *testing.T, answers []answer) {
	t.Helper()
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			var body any
			if a.body != "" || a.method == "POST" {
				body = a.body
			}
			resp := e.request(a.method, a.path, a.key, body, a.header...)
			got := dumpAnswer(resp, readAll(t, resp))
			assert.Equal(t, a.want, got)
		})
	}
}

const jsonError = "application/json; charset=UTF-8"

// errAnswer is the first line and body of a Gemini-shaped error answer.
func errAnswer(code int, extra, body string) string {
	return fmt.Sprintf("%d %s%s X-Content-Type-Options=nosniff\n%s", code, jsonError, extra, body)
}

// TestErrorAnswersExactBytes pins every error answer the routes give, status, headers and body,
// byte for byte.
func TestErrorAnswersExactBytes(t *testing.T) {
	e := newEnv(t, options{
		manager: func(c *manager.Config) { c.HistorySize = 4 },
		gateway: func(c *gateway.Config) {
			c.MaxBodyBytes = 1024
			c.CORSOrigins = []string{"https://app.example"}
		},
	})
	live := e.createStream(aliceKey, map[string]any{"id": "live"})
	for i := 1; i <= 10; i++ {
		e.push(aliceKey, live, i, "")
	}
	e.createStream(aliceKey, map[string]any{"id": "gen", "model": "gemini-2.5-flash", "request": map[string]any{}})
	e.createStream(aliceKey, map[string]any{"id": "closed"})
	status, body := e.do("DELETE", "/v1/streams/closed", aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	const model = "/v1beta/models/gemini-2.5-flash"
	big := `{"id":"` + strings.Repeat("a", 2000) + `"}`

	e.checkAnswers(t, []answer{
		{"unknown route", "GET", "/v1/nothing", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"no route for GET /v1/nothing","status":"NOT_FOUND"}}`)},
		{"wrong method", "PUT", "/v1/streams/live", aliceKey, "{}", nil,
			errAnswer(501, " Allow=GET, DELETE", `{"error":{"code":501,"message":"method PUT is not allowed on /v1/streams/live (allowed: GET, DELETE)","status":"UNIMPLEMENTED"}}`)},
		{"no key", "POST", streamPath, "", generateBody, nil,
			errAnswer(401, "", `{"error":{"code":401,"message":"API key required: send it as x-goog-api-key, Authorization: Bearer or ?key=","status":"UNAUTHENTICATED"}}`)},
		{"wrong key", "GET", "/v1/streams", "wrong-key", "", nil,
			errAnswer(401, "", `{"error":{"code":401,"message":"API key not valid. Please pass a valid API key.","status":"UNAUTHENTICATED"}}`)},
		{"malformed authorization", "GET", "/v1/streams", "", "", []string{"Authorization", "Basic abc"},
			errAnswer(401, "", `{"error":{"code":401,"message":"authorization header is not a Bearer token","status":"UNAUTHENTICATED"}}`)},
		{"two keys", "GET", "/v1/streams", aliceKey, "", []string{"Authorization", "Bearer " + bobKey},
			errAnswer(401, "", `{"error":{"code":401,"message":"different API keys presented in one request","status":"UNAUTHENTICATED"}}`)},
		{"preflight from another origin", "OPTIONS", "/v1/streams", "", "", []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"},
			errAnswer(403, " Allow=GET, POST", `{"error":{"code":403,"message":"origin https://evil.example is not allowed","status":"PERMISSION_DENIED"}}`)},

		{"create: bad JSON", "POST", "/v1/streams", aliceKey, `{"id":`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid JSON: unexpected end of input","status":"INVALID_ARGUMENT"}}`)},
		{"create: unknown field", "POST", "/v1/streams", aliceKey, `{"modle":"x"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid JSON: json: unknown field \"modle\"","status":"INVALID_ARGUMENT"}}`)},
		{"create: empty body", "POST", "/v1/streams", aliceKey, ``, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"request body is empty: expected a JSON object","status":"INVALID_ARGUMENT"}}`)},
		{"create: over the limit", "POST", "/v1/streams", aliceKey, big, nil,
			errAnswer(413, "", `{"error":{"code":413,"message":"request body is larger than 1024 bytes","status":"INVALID_ARGUMENT"}}`)},
		{"create: taken ID", "POST", "/v1/streams", aliceKey, `{"id":"live"}`, nil,
			errAnswer(409, "", `{"error":{"code":409,"message":"create stream live: stream already exists","status":"ALREADY_EXISTS"}}`)},
		{"create: bad ID", "POST", "/v1/streams", aliceKey, `{"id":"a b"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid stream id: byte 1 is ' '; only printable ASCII without spaces is allowed","status":"INVALID_ARGUMENT"}}`)},
		{"create: model alone", "POST", "/v1/streams", aliceKey, `{"model":"gemini-2.5-flash"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"model and request go together: give both for a generation, neither for a push stream","status":"INVALID_ARGUMENT"}}`)},
		{"create: bad model", "POST", "/v1/streams", aliceKey, `{"model":"../x","request":{}}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid model: model name \"../x\" has '/' at byte 2 (allowed: ASCII letters, digits, '-', '.', '_', '@')","status":"INVALID_ARGUMENT"}}`)},
		{"create: request not an object", "POST", "/v1/streams", aliceKey, `{"model":"m","request":"hi"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"request must be a GenerateContentRequest JSON object","status":"INVALID_ARGUMENT"}}`)},
		{"list: bad all", "GET", "/v1/streams?all=maybe", aliceKey, "", nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"all must be true or false, got \"maybe\"","status":"INVALID_ARGUMENT"}}`)},
		{"info: unknown", "GET", "/v1/streams/nope", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"stream \"nope\" not found","status":"NOT_FOUND"}}`)},
		{"info: another tenant's", "GET", "/v1/streams/live", bobKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"stream \"live\" not found","status":"NOT_FOUND"}}`)},
		{"info: bad ID", "GET", "/v1/streams/a%0Ab", aliceKey, "", nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid stream id: byte 1 is '\\n'; only printable ASCII without spaces is allowed","status":"INVALID_ARGUMENT"}}`)},
		{"delete: unknown", "DELETE", "/v1/streams/nope", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"stream \"nope\" not found","status":"NOT_FOUND"}}`)},
		{"push: generation stream", "POST", "/v1/streams/gen/chunks", aliceKey, `{"data":1}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"stream \"gen\" is fed by an upstream generation; chunks can be pushed to push streams only","status":"FAILED_PRECONDITION"}}`)},
		{"push: closed stream", "POST", "/v1/streams/closed/chunks", aliceKey, `{"data":1}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"push to stream closed: stream closed","status":"FAILED_PRECONDITION"}}`)},
		{"push: no data", "POST", "/v1/streams/live/chunks", aliceKey, `{"event":"x"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"data is required: any JSON value","status":"INVALID_ARGUMENT"}}`)},
		{"push: reserved event", "POST", "/v1/streams/live/chunks", aliceKey, `{"data":1,"event":"done"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"event \"done\" is reserved: errors go to POST /v1/streams/{id}/error, and \"done\" ends every stream","status":"INVALID_ARGUMENT"}}`)},
		{"push: wrong type", "POST", "/v1/streams/live/chunks", aliceKey, `{"data":1,"event":7}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid JSON: field \"event\" must be a string, got number","status":"INVALID_ARGUMENT"}}`)},
		{"error: code not an error", "POST", "/v1/streams/live/error", aliceKey, `{"code":200,"message":"x"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"code must be an HTTP error status, 400 to 599, got 200","status":"INVALID_ARGUMENT"}}`)},
		{"error: closed stream", "POST", "/v1/streams/closed/error", aliceKey, `{"message":"x"}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"error on stream closed: stream closed","status":"FAILED_PRECONDITION"}}`)},
		{"events: history gone", "GET", "/v1/streams/live/events?after=2", aliceKey, "", nil,
			errAnswer(410, "", `{"error":{"code":410,"message":"chunks after 2 of stream \"live\" are no longer kept; resume from a later chunk","status":"FAILED_PRECONDITION"}}`)},
		{"events: beyond the end", "GET", "/v1/streams/live/events?after=11", aliceKey, "", nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"register on stream live after chunk 11 (last is 10): resume point is beyond the last chunk of the stream","status":"INVALID_ARGUMENT"}}`)},
		{"events: header before the query", "GET", "/v1/streams/live/events?after=8", aliceKey, "", []string{"Last-Event-ID", "7"},
			errAnswer(400, "", `{"error":{"code":400,"message":"Last-Event-ID 7 is before after=8: give one resume point","status":"INVALID_ARGUMENT"}}`)},
		{"events: bad header", "GET", "/v1/streams/live/events", aliceKey, "", []string{"Last-Event-ID", "abc"},
			errAnswer(400, "", `{"error":{"code":400,"message":"Last-Event-ID must be a chunk ID (a decimal number), got \"abc\"","status":"INVALID_ARGUMENT"}}`)},
		{"subscribe: no transports", "POST", "/v1/streams/live/subscriptions", aliceKey, `{"transport":"jsonl"}`, nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"no transport plugin named \"jsonl\"","status":"NOT_FOUND"}}`)},
		{"subscribe: no transport", "POST", "/v1/streams/live/subscriptions", aliceKey, `{}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"transport is required: the name of a transport plugin","status":"INVALID_ARGUMENT"}}`)},
		{"subscribe: config not an object", "POST", "/v1/streams/live/subscriptions", aliceKey, `{"transport":"jsonl","config":[1]}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"config must be a JSON object","status":"INVALID_ARGUMENT"}}`)},
		{"unsubscribe: no transports", "DELETE", "/v1/streams/live/subscriptions/s1", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"subscription \"s1\" of stream \"live\" not found","status":"NOT_FOUND"}}`)},

		{"gemini: unknown action", "POST", model + ":count-Tokens", aliceKey, generateBody, nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"unknown action \"count-Tokens\": a method of a model is ASCII letters, like countTokens","status":"NOT_FOUND"}}`)},
		{"gemini: no action", "POST", model, aliceKey, generateBody, nil,
			errAnswer(501, " Allow=GET", `{"error":{"code":501,"message":"method POST is not allowed on /v1beta/models/gemini-2.5-flash (allowed: GET)","status":"UNIMPLEMENTED"}}`)},
		{"gemini: alt not served", "POST", model + ":streamGenerateContent?alt=proto", aliceKey, generateBody, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"alt=proto is not served: ask for alt=sse (server-sent events) or alt=json (a JSON array, the default)","status":"INVALID_ARGUMENT"}}`)},
		{"gemini: bad model", "POST", "/v1beta/models/gem%20ini:streamGenerateContent?alt=sse", aliceKey, generateBody, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid model: model name \"gem ini\" has ' ' at byte 3 (allowed: ASCII letters, digits, '-', '.', '_', '@')","status":"INVALID_ARGUMENT"}}`)},
		{"gemini: not an object", "POST", streamPath, aliceKey, `[1,2]`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid JSON payload: the request body must be a GenerateContentRequest JSON object","status":"INVALID_ARGUMENT"}}`)},
		{"gemini: over the limit", "POST", model + ":generateContent", aliceKey, big, nil,
			errAnswer(413, "", `{"error":{"code":413,"message":"request body is larger than 1024 bytes","status":"INVALID_ARGUMENT"}}`)},
	})
}

// TestLimitAnswersExactBytes pins the 429 answers and their Retry-After.
func TestLimitAnswersExactBytes(t *testing.T) {
	e := newEnv(t, options{
		manager: func(c *manager.Config) {
			c.MaxConcurrentStreams = 1
			c.MaxClientsPerStream = 1
		},
		gateway: func(c *gateway.Config) {
			c.RatePerKey = 0.001
			c.Burst = 3
		},
	})
	id := e.createStream(bobKey, map[string]any{"id": "one"})
	sub := e.subscribe(bobKey, id, "")
	defer sub.close()
	e.checkAnswers(t, []answer{
		{"too many streams", "POST", "/v1/streams", aliceKey, `{}`, nil,
			errAnswer(429, " Retry-After=1", `{"error":{"code":429,"message":"create stream: too many concurrent streams (limit 1)","status":"RESOURCE_EXHAUSTED"}}`)},
		{"too many streams on the Gemini route", "POST", streamPath, aliceKey, generateBody, nil,
			errAnswer(429, " Retry-After=1", `{"error":{"code":429,"message":"create stream: too many concurrent streams (limit 1)","status":"RESOURCE_EXHAUSTED"}}`)},
		{"too many clients", "GET", "/v1/streams/one/events", bobKey, "", nil,
			errAnswer(429, " Retry-After=1", `{"error":{"code":429,"message":"register on stream one: too many clients on stream (limit 1)","status":"RESOURCE_EXHAUSTED"}}`)},
		{"within the burst", "GET", "/v1/streams/one", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"stream \"one\" not found","status":"NOT_FOUND"}}`)},
		{"rate limited", "GET", "/v1/streams/one", aliceKey, "", nil,
			errAnswer(429, " Retry-After=1000", `{"error":{"code":429,"message":"rate limit exceeded for API key alice","status":"RESOURCE_EXHAUSTED"}}`)},
	})
	assert.Zero(t, e.fake.RequestCount())
}

// TestPluginAnswersExactBytes pins what the subscription routes answer for the plugin host's
// errors.
func TestPluginAnswersExactBytes(t *testing.T) {
	e := newEnv(t, options{plugins: []plugins.PluginConfig{jsonlPlugin(t.TempDir(), plugins.AttachRule{}), retryPlugin(`[]`)}})
	e.createStream(aliceKey, map[string]any{"id": "s"})
	const subs = "/v1/streams/s/subscriptions"
	e.checkAnswers(t, []answer{
		{"unknown transport", "POST", subs, aliceKey, `{"transport":"kafka"}`, nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"no transport plugin named \"kafka\"","status":"NOT_FOUND"}}`)},
		{"an error handler is no transport", "POST", subs, aliceKey, `{"transport":"retry"}`, nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"no transport plugin named \"retry\"","status":"NOT_FOUND"}}`)},
		{"config the plugin refuses", "POST", subs, aliceKey, `{"transport":"jsonl","config":{"dir":""}}`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"plugin jsonl refused the subscription: error at /dir: unknown field \"dir\"","status":"INVALID_ARGUMENT"}}`)},
		{"unknown subscription", "DELETE", subs + "/nope", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"subscription \"nope\" of stream \"s\" not found","status":"NOT_FOUND"}}`)},
	})
	require.NoError(t, e.host.Close(context.Background()))
	e.checkAnswers(t, []answer{
		{"host closed", "POST", subs, aliceKey, `{"transport":"jsonl"}`, nil,
			errAnswer(503, " Retry-After=1", `{"error":{"code":503,"message":"plugin host closed","status":"UNAVAILABLE"}}`)},
	})
}

func newGeminiProvider(url string) (upstream.Provider, error) {
	cred, err := auth.NewAPIKey(upstreamKey)
	if err != nil {
		return nil, err
	}
	return upstream.NewGemini(upstream.GeminiConfig{BaseURL: url, Credential: cred})
}

// TestUnsupportedGenerateExactBytes pins the answer of :generateContent on an upstream without a
// non-streaming call.
func TestUnsupportedGenerateExactBytes(t *testing.T) {
	e := newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		return upstream.NewSSE(upstream.SSEConfig{URL: url + "/stream"})
	}})
	e.checkAnswers(t, []answer{
		{"generateContent", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", aliceKey, generateBody, nil,
			errAnswer(501, "", `{"error":{"code":501,"message":"generateContent is not supported by the configured upstream; use streamGenerateContent?alt=sse","status":"UNIMPLEMENTED"}}`)},
	})
}

// invalidProvider is a Gemini provider whose streaming requests cannot be built.
type invalidProvider struct{ upstream.Provider }

func (invalidProvider) StreamRequest(context.Context, upstream.Request) (*http.Request, error) {
	return nil, fmt.Errorf("%w: no route to this model", upstream.ErrInvalidRequest)
}

// TestGenerationThatCannotStartExactBytes pins what the callers of a generation whose upstream
// request cannot be made receive: the failure is the stream's first chunk.
func TestGenerationThatCannotStartExactBytes(t *testing.T) {
	e := newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		p, err := newGeminiProvider(url)
		return invalidProvider{p}, err
	}})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	got := dumpAnswer(resp, readAll(t, resp))
	id := resp.Header.Get("X-Stream-Id")
	require.NotEmpty(t, id)
	assert.Equal(t, errAnswer(400, "", `{"error":{"code":400,"message":"run upstream for stream `+id+
		`: invalid upstream request: no route to this model","status":"INVALID_ARGUMENT"}}`), got)
	info := e.waitStatus(aliceKey, id, "error")
	assert.Equal(t, "Stream terminated due to error: run upstream for stream "+id+": invalid upstream request: no route to this model", info.CloseReason)

	id = e.createStream(aliceKey, map[string]any{"id": "bg", "model": "gemini-2.5-flash", "request": map[string]any{}})
	e.waitStatus(aliceKey, id, "error")
	sub := e.subscribe(aliceKey, id, "")
	defer sub.close()
	msg := "run upstream for stream bg: invalid upstream request: no route to this model"
	assert.Equal(t, []event{
		{ID: "1", Type: "error", Data: errorJSON(400, "INVALID_ARGUMENT", msg)},
		{ID: "1", Type: "done", Data: `{"status":"error","reason":"Stream terminated due to error: ` + msg + `"}`},
	}, sub.rest())
	assert.Zero(t, e.fake.RequestCount())
}
