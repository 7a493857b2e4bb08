package gateway_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

const countBody = `{"contents":[{"parts":[{"text":"one two three"}]}]}`

// TestModelCallsPassThroughExactBytes: the unary calls of the models collection reach the
// upstream with the gateway's credential and come back as the upstream sent them: status,
// Content-Type, Retry-After, the X-Goog-* headers and the body, errors included.
func TestModelCallsPassThroughExactBytes(t *testing.T) {
	e := newEnv(t, options{})
	quota := `{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED"}}`
	notFound := "{\n  \"error\": {\n    \"code\": 404,\n    \"message\": \"models/nope is not found for API version v1, or is not supported for GetModel.\",\n    \"status\": \"NOT_FOUND\"\n  }\n}\n"
	e.fake.Enqueue(
		upstreamtest.Script{Body: []byte(`{"totalTokens":3}`), Header: http.Header{"X-Goog-Request-Id": {"req-1"}, "Server": {"fake"}}},
		upstreamtest.Script{Status: 429, Header: http.Header{"Retry-After": {"17"}}, Body: []byte(quota)},
		upstreamtest.Script{Status: 404, Body: []byte(notFound)},
		upstreamtest.Script{Body: []byte(`{"models":[{"name":"models/a"}],"nextPageToken":"p2"}`)},
		upstreamtest.Script{Body: []byte(`{"embeddings":[{"values":[0.6,0.8]}]}`)},
		upstreamtest.Script{Status: 400, Body: []byte(`{"error":{"code":400,"message":"Method not found.","status":"INVALID_ARGUMENT"}}`)},
	)
	for _, tc := range []struct {
		name, method, path, body, want, googID string
	}{
		{"countTokens", "POST", "/v1beta/models/gemini-2.5-flash:countTokens", countBody,
			"200 application/json; charset=UTF-8\n" + `{"totalTokens":3}`, "req-1"},
		{"countTokens over quota", "POST", "/v1/models/gemini-2.5-flash:countTokens", countBody,
			"429 application/json; charset=UTF-8 Retry-After=17\n" + quota, ""},
		{"unknown model", "GET", "/v1/models/nope", "",
			"404 application/json; charset=UTF-8\n" + notFound, ""},
		{"list", "GET", "/v1alpha/models?pageSize=1&pageToken=p1&alt=json&foo=bar", "",
			"200 application/json; charset=UTF-8\n" + `{"models":[{"name":"models/a"}],"nextPageToken":"p2"}`, ""},
		{"batchEmbedContents", "POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[]}`,
			"200 application/json; charset=UTF-8\n" + `{"embeddings":[{"values":[0.6,0.8]}]}`, ""},
		{"another method", "POST", "/v1beta/models/gemini-2.5-flash:computeTokens", `{}`,
			"400 application/json; charset=UTF-8\n" + `{"error":{"code":400,"message":"Method not found.","status":"INVALID_ARGUMENT"}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			resp := e.request(tc.method, tc.path, aliceKey, body)
			assert.Equal(t, tc.want, dumpAnswer(resp, readAll(t, resp)))
			assert.Equal(t, tc.googID, resp.Header.Get("X-Goog-Request-Id"))
			assert.Empty(t, resp.Header.Get("Server"), "only the headers that matter pass")
		})
	}
	reqs := e.fake.Requests()
	require.Len(t, reqs, 6)
	for i, want := range []struct{ method, path, query string }{
		{"POST", "/v1beta/models/gemini-2.5-flash:countTokens", ""},
		{"POST", "/v1/models/gemini-2.5-flash:countTokens", ""},
		{"GET", "/v1/models/nope", ""},
		{"GET", "/v1alpha/models", "pageSize=1&pageToken=p1"},
		{"POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", ""},
		{"POST", "/v1beta/models/gemini-2.5-flash:computeTokens", ""},
	} {
		assert.Equal(t, want.method, reqs[i].Method, i)
		assert.Equal(t, want.path, reqs[i].Path, i)
		assert.Equal(t, want.query, reqs[i].RawQuery, i)
		assert.Equal(t, upstreamKey, reqs[i].Header.Get("x-goog-api-key"), i)
	}
	assert.Equal(t, countBody, string(reqs[0].Body))
	assert.Empty(t, reqs[2].Body)
}

// TestModelRouteErrorsExactBytes pins what the gateway itself answers on the models routes; none
// of these requests reaches the upstream.
func TestModelRouteErrorsExactBytes(t *testing.T) {
	e := newEnv(t, options{})
	e.checkAnswers(t, []answer{
		{"method body not an object", "POST", "/v1beta/models/m:countTokens", aliceKey, `[1]`, nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid JSON payload: the request body of countTokens must be a JSON object","status":"INVALID_ARGUMENT"}}`)},
		{"GET a method", "GET", "/v1/models/m:countTokens", aliceKey, "", nil,
			errAnswer(501, " Allow=POST", `{"error":{"code":501,"message":"method GET is not allowed on /v1/models/m:countTokens (allowed: POST)","status":"UNIMPLEMENTED"}}`)},
		{"POST the list", "POST", "/v1/models", aliceKey, `{}`, nil,
			errAnswer(501, " Allow=GET", `{"error":{"code":501,"message":"method POST is not allowed on /v1/models (allowed: GET)","status":"UNIMPLEMENTED"}}`)},
		{"bad model", "GET", "/v1alpha/models/a%20b", aliceKey, "", nil,
			errAnswer(400, "", `{"error":{"code":400,"message":"invalid model: model name \"a b\" has ' ' at byte 1 (allowed: ASCII letters, digits, '-', '.', '_', '@')","status":"INVALID_ARGUMENT"}}`)},
		{"no key", "GET", "/v1beta/models", "", "", nil,
			errAnswer(401, "", `{"error":{"code":401,"message":"API key required: send it as x-goog-api-key, Authorization: Bearer or ?key=","status":"UNAUTHENTICATED"}}`)},
		{"unknown version", "GET", "/v2/models", aliceKey, "", nil,
			errAnswer(404, "", `{"error":{"code":404,"message":"no route for GET /v2/models","status":"NOT_FOUND"}}`)},
	})
	assert.Zero(t, e.fake.RequestCount())
}

// TestModelCallsOnAGenericStream: an upstream with no models collection answers 501, in the
// words of the call.
func TestModelCallsOnAGenericStream(t *testing.T) {
	e := newEnv(t, options{provider: func(url string) (upstream.Provider, error) {
		return upstream.NewSSE(upstream.SSEConfig{URL: url + "/stream"})
	}})
	e.checkAnswers(t, []answer{
		{"countTokens", "POST", "/v1beta/models/gemini-2.5-flash:countTokens", aliceKey, countBody, nil,
			errAnswer(501, "", `{"error":{"code":501,"message":"models/gemini-2.5-flash:countTokens is not supported by the configured upstream: it has no Gemini models collection","status":"UNIMPLEMENTED"}}`)},
		{"list", "GET", "/v1/models", aliceKey, "", nil,
			errAnswer(501, "", `{"error":{"code":501,"message":"listing models is not supported by the configured upstream: it has no Gemini models collection","status":"UNIMPLEMENTED"}}`)},
	})
	assert.Zero(t, e.fake.RequestCount())
}

// TestStreamingUnderEveryVersion: the Gemini route streams under /v1 and /v1alpha too, and the
// upstream is asked under the caller's version.
func TestStreamingUnderEveryVersion(t *testing.T) {
	e := newEnv(t, options{})
	chunks := upstreamtest.Chunks(defaultTexts...)
	for _, v := range []string{"v1", "v1alpha", "v1beta"} {
		t.Run(v, func(t *testing.T) {
			resp := e.request("POST", "/"+v+"/models/gemini-2.5-flash:streamGenerateContent?alt=sse", aliceKey, generateBody)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, geminiFrames(chunks...), string(readAll(t, resp)))
			reqs := e.fake.Requests()
			assert.Equal(t, "/"+v+"/models/gemini-2.5-flash:streamGenerateContent", reqs[len(reqs)-1].Path)
		})
	}
}
