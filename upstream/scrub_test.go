package upstream_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/auth/authtest"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

var (
	_ upstream.SecretReporter = (*auth.APIKey)(nil)
	_ upstream.SecretReporter = (*auth.GoogleOAuth)(nil)
)

// requireScrubbed checks that no secret is in the runner's logs and that they say [redacted].
func requireScrubbed(t *testing.T, e *env, secrets ...string) {
	t.Helper()
	logs := e.logs.String()
	require.Contains(t, logs, upstream.Redacted)
	for _, s := range secrets {
		require.NotContains(t, logs, s)
	}
}

// requirePassedThrough checks a :generateContent error response passed through with body.
func requirePassedThrough(t *testing.T, resp *http.Response, err error, code int, body []byte) {
	t.Helper()
	require.NoError(t, err)
	require.Equal(t, code, resp.StatusCode)
	require.Equal(t, string(body), string(readAll(t, resp.Body)))
	require.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
	require.Equal(t, int64(len(body)), resp.ContentLength)
}

func TestUpstreamTextEchoingTheAPIKeyIsScrubbed(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	echo := "API key not valid: " + testKey + "."
	for _, tc := range []struct {
		name    string
		script  upstreamtest.Script
		before  [][]byte
		code    int
		status  string
		message string
	}{
		{
			name:    "error event mid-stream",
			script:  upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event([]byte(`{"error":{"code":400,"message":"` + echo + `","status":"INVALID_ARGUMENT"}}`))}},
			before:  chunks[:1],
			code:    400,
			status:  "INVALID_ARGUMENT",
			message: "API key not valid: [redacted].",
		},
		{
			name:    "error event echoing in its status",
			script:  upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event([]byte(`{"error":{"code":400,"message":"Bad.","status":"` + testKey + `"}}`))}},
			before:  chunks[:1],
			code:    400,
			status:  "[redacted]",
			message: "Bad.",
		},
		{
			name:    "error tail mid-stream",
			script:  upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.ErrorTail(400, echo)}},
			before:  chunks[:1],
			code:    400,
			status:  "INVALID_ARGUMENT",
			message: "API key not valid: [redacted].",
		},
		{
			name:    "error before the first chunk, retried and then reported",
			script:  upstreamtest.Error(503, "overloaded for key "+testKey+", try again"),
			code:    503,
			status:  "UNAVAILABLE",
			message: "overloaded for key [redacted], try again",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.script)
			o := e.run(e.runner(e.gemini(), upstream.RunnerConfig{}), geminiReq)
			requireFailed(t, o, tc.before, tc.code, tc.status, tc.message)
			requireScrubbed(t, e, testKey)
		})
	}
}

// TestRefusedAPIKeyEchoIsScrubbed is the reported case: an upstream refusing the gateway's key
// quotes it, before the first chunk on the streaming route and in :generateContent's body.
func TestRefusedAPIKeyEchoIsScrubbed(t *testing.T) {
	e := newEnv(t, upstreamtest.Gemini("unused"))
	e.fake.RequireAPIKey("the-right-key")
	e.fake.EchoCredentials(true)
	r := e.runner(e.gemini(), upstream.RunnerConfig{})
	const want = "API key not valid: [redacted]. Please pass a valid API key."

	requireFailed(t, e.run(r, geminiReq), nil, 400, "INVALID_ARGUMENT", want)
	resp, err := r.Generate(ctx, geminiReq)
	requirePassedThrough(t, resp, err, 400, geminiErrorBody(400, want))
	requireScrubbed(t, e, testKey)
	require.Contains(t, e.logs.String(), "upstream stream failed")
}

func TestVertexTokenEchoIsScrubbed(t *testing.T) {
	ts := authtest.NewTokenServer(t)
	// Tokens living less than the default RefreshBefore are replaced at every request.
	ts.SetExpiresIn(time.Minute)
	e := newEnv(t, upstreamtest.Gemini("unused"))
	cred := googleOAuth(t, ts)
	p, err := upstream.NewVertex(upstream.VertexConfig{Project: "p1", BaseURL: e.baseURL, Credential: cred})
	require.NoError(t, err)
	r := e.runner(p, upstream.RunnerConfig{})

	// The token of the request sent before the last refresh is scrubbed too.
	first := ts.Grants()[0].Token
	e.fake.Enqueue(upstreamtest.Error(401, "token "+first+" expired"))
	requireFailed(t, e.run(r, geminiReq), nil, 401, "UNAUTHENTICATED", "token [redacted] expired")

	e.fake.RequireBearer(func(string) bool { return false })
	e.fake.EchoCredentials(true)
	const want = "Request had invalid authentication credentials: [redacted]. Expected OAuth 2 access token."
	requireFailed(t, e.run(r, geminiReq), nil, 401, "UNAUTHENTICATED", want)
	resp, err := r.Generate(ctx, geminiReq)
	requirePassedThrough(t, resp, err, 401, geminiErrorBody(401, want))

	var tokens []string
	for _, g := range ts.Grants() {
		tokens = append(tokens, g.Token)
	}
	require.Len(t, tokens, 4, "one token at startup, one per request")
	requireScrubbed(t, e, tokens...)
}

func TestSSEHeaderValueEchoIsScrubbed(t *testing.T) {
	const apiKey = "x-api-key-secret-value"
	e := newEnv(t, upstreamtest.Script{Steps: idEvents(1)})
	p := e.sse(upstream.SSEConfig{Headers: map[string]string{
		"Authorization": "Bearer sk-" + testKey,
		"X-Api-Key":     apiKey,
		"X-Version":     "2", // too short to be a credential: not scrubbed
	}})
	r := e.runner(p, upstream.RunnerConfig{})

	e.fake.RequireBearer(func(string) bool { return false })
	e.fake.EchoCredentials(true)
	requireFailed(t, e.run(r, upstream.Request{}), nil, 401, "UNAUTHENTICATED",
		"Request had invalid authentication credentials: [redacted]. Expected OAuth 2 access token.")

	e.fake.RequireBearer(nil)
	e.fake.Enqueue(upstreamtest.Error(400, "bad headers: Authorization: Bearer sk-"+testKey+", X-Api-Key: "+apiKey+", X-Version: 2"))
	requireFailed(t, e.run(r, upstream.Request{}), nil, 400, "INVALID_ARGUMENT",
		"bad headers: Authorization: [redacted], X-Api-Key: [redacted], X-Version: 2")
	requireScrubbed(t, e, testKey, apiKey)
}

// geminiErrorBody is Gemini's error body, as the fake writes it; status is the one Gemini pairs
// with code.
func geminiErrorBody(code int, message string) []byte {
	return upstreamtest.Error(code, message).Body
}
