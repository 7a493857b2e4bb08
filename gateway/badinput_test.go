package gateway_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

func TestStreamAPIBadInput(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.MaxBodyBytes = 4096 }})
	// A live stream with a subscriber runs through every bad request: none may disturb it.
	live := e.createStream(aliceKey, map[string]any{"id": "live"})
	sub := e.subscribe(aliceKey, live, "")
	defer sub.close()
	gen := e.createStream(aliceKey, map[string]any{"model": "gemini-2.5-flash", "request": map[string]any{}})
	closed := e.createStream(aliceKey, map[string]any{"id": "closed"})
	status, body := e.do("DELETE", "/v1/streams/closed", aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	long := strings.Repeat("x", 129)
	for i, tc := range []struct {
		name, method, path, body string
		code                     int
		status, contains         string
	}{
		{"create: bad JSON", "POST", "/v1/streams", `{"id":`, 400, "INVALID_ARGUMENT", "invalid JSON"},
		{"create: not an object", "POST", "/v1/streams", `[]`, 400, "INVALID_ARGUMENT", "expected an object"},
		{"create: empty body", "POST", "/v1/streams", ``, 400, "INVALID_ARGUMENT", "request body is empty"},
		{"create: wrong type", "POST", "/v1/streams", `{"model":5,"request":{}}`, 400, "INVALID_ARGUMENT", `field "model" must be a string, got number`},
		{"create: unknown field", "POST", "/v1/streams", `{"modle":"x"}`, 400, "INVALID_ARGUMENT", `unknown field "modle"`},
		{"create: trailing data", "POST", "/v1/streams", `{}{}`, 400, "INVALID_ARGUMENT", "unexpected data after the object"},
		{"create: id with CRLF", "POST", "/v1/streams", `{"id":"a\r\nb"}`, 400, "INVALID_ARGUMENT", "invalid stream id"},
		{"create: id too long", "POST", "/v1/streams", `{"id":"` + long + `"}`, 400, "INVALID_ARGUMENT", "invalid stream id"},
		{"create: id with space", "POST", "/v1/streams", `{"id":"a b"}`, 400, "INVALID_ARGUMENT", "invalid stream id"},
		{"create: id dot", "POST", "/v1/streams", `{"id":"."}`, 400, "INVALID_ARGUMENT", "dot segment"},
		{"create: id dot dot", "POST", "/v1/streams", `{"id":".."}`, 400, "INVALID_ARGUMENT", "dot segment"},
		{"create: invalid UTF-8", "POST", "/v1/streams", "{\"id\":\"a\xff\"}", 400, "INVALID_ARGUMENT", "not valid UTF-8 at byte 8"},
		{"create: duplicate id", "POST", "/v1/streams", `{"id":"live"}`, 409, "ALREADY_EXISTS", "already exists"},
		{"create: model alone", "POST", "/v1/streams", `{"model":"gemini-2.5-flash"}`, 400, "INVALID_ARGUMENT", "model and request go together"},
		{"create: request alone", "POST", "/v1/streams", `{"request":{}}`, 400, "INVALID_ARGUMENT", "model and request go together"},
		{"create: bad model", "POST", "/v1/streams", `{"model":"../x","request":{}}`, 400, "INVALID_ARGUMENT", "invalid model"},
		{"create: request not an object", "POST", "/v1/streams", `{"model":"m","request":"hi"}`, 400, "INVALID_ARGUMENT", "GenerateContentRequest JSON object"},
		{"create: body over limit", "POST", "/v1/streams", `{"id":"` + strings.Repeat("a", 5000) + `"}`, 413, "INVALID_ARGUMENT", "larger than 4096 bytes"},
		{"info: unknown", "GET", "/v1/streams/nope", "", 404, "NOT_FOUND", `stream "nope" not found`},
		{"info: id with CRLF", "GET", "/v1/streams/a%0D%0Ab", "", 400, "INVALID_ARGUMENT", "invalid stream id"},
		{"info: id too long", "GET", "/v1/streams/" + long, "", 400, "INVALID_ARGUMENT", "invalid stream id"},
		{"push: unknown stream", "POST", "/v1/streams/nope/chunks", `{"data":1}`, 404, "NOT_FOUND", "not found"},
		{"push: no data", "POST", "/v1/streams/live/chunks", `{"event":"x"}`, 400, "INVALID_ARGUMENT", "data is required"},
		{"push: event with LF", "POST", "/v1/streams/live/chunks", `{"data":1,"event":"a\nb"}`, 400, "INVALID_ARGUMENT", "printable ASCII"},
		{"push: event too long", "POST", "/v1/streams/live/chunks", `{"data":1,"event":"` + long + `"}`, 400, "INVALID_ARGUMENT", "at most 128 bytes"},
		{"push: reserved event", "POST", "/v1/streams/live/chunks", `{"data":1,"event":"done"}`, 400, "INVALID_ARGUMENT", "reserved"},
		{"push: event not a string", "POST", "/v1/streams/live/chunks", `{"data":1,"event":7}`, 400, "INVALID_ARGUMENT", `field "event" must be a string`},
		{"push: bad JSON data", "POST", "/v1/streams/live/chunks", `{"data":{]}`, 400, "INVALID_ARGUMENT", "invalid JSON"},
		{"push: invalid UTF-8 in a string", "POST", "/v1/streams/live/chunks", "{\"data\":{\"text\":\"caf\xc3\"}}", 400, "INVALID_ARGUMENT", "not valid UTF-8 at byte 20"},
		{"push: generation stream", "POST", "/v1/streams/" + gen + "/chunks", `{"data":1}`, 400, "FAILED_PRECONDITION", "push streams only"},
		{"push: closed stream", "POST", "/v1/streams/" + closed + "/chunks", `{"data":1}`, 400, "FAILED_PRECONDITION", "closed"},
		{"error: code not an error", "POST", "/v1/streams/live/error", `{"code":200,"message":"x"}`, 400, "INVALID_ARGUMENT", "400 to 599"},
		{"error: bad status", "POST", "/v1/streams/live/error", `{"status":"not ok","message":"x"}`, 400, "INVALID_ARGUMENT", "upper-case"},
		{"error: no message", "POST", "/v1/streams/live/error", `{"code":500}`, 400, "INVALID_ARGUMENT", "message is required"},
		{"error: wrong type", "POST", "/v1/streams/live/error", `{"message":"x","terminate":"yes"}`, 400, "INVALID_ARGUMENT", `field "terminate" must be a boolean`},
		{"wrong method", "PUT", "/v1/streams/live", `{}`, 501, "UNIMPLEMENTED", "allowed: GET, DELETE"},
		{"unknown route", "GET", "/v1/nothing", "", 404, "NOT_FOUND", "no route for GET /v1/nothing"},
		{"trailing slash", "GET", "/v1/streams/", "", 404, "NOT_FOUND", "no route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" || tc.method == "POST" {
				body = tc.body
			}
			status, got := e.do(tc.method, tc.path, aliceKey, body)
			se := requireError(t, tc.code, tc.status, status, got)
			assert.Contains(t, se.Message, tc.contains)
		})
		e.push(aliceKey, live, i, "")
		assert.Equal(t, event{ID: strconv.Itoa(i + 1), Type: "message", Data: strconv.Itoa(i)}, sub.next())
	}
}

func TestStreamLimit(t *testing.T) {
	e := newEnv(t, options{manager: func(c *manager.Config) { c.MaxConcurrentStreams = 2 }})
	e.createStream(aliceKey, map[string]any{})
	e.createStream(bobKey, map[string]any{})
	for _, path := range []string{"/v1/streams", streamPath} {
		body := `{}`
		if path == streamPath {
			body = generateBody
		}
		resp := e.request("POST", path, aliceKey, body)
		b := readAll(t, resp)
		requireError(t, 429, "RESOURCE_EXHAUSTED", resp.StatusCode, b)
		assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	}
	assert.Zero(t, e.fake.RequestCount())
}

func TestClientLimit(t *testing.T) {
	e := newEnv(t, options{manager: func(c *manager.Config) { c.MaxClientsPerStream = 1 }})
	id := e.createStream(aliceKey, map[string]any{})
	sub := e.subscribe(aliceKey, id, "")
	defer sub.close()
	resp := e.request("GET", "/v1/streams/"+id+"/events", aliceKey, nil)
	requireError(t, 429, "RESOURCE_EXHAUSTED", resp.StatusCode, readAll(t, resp))
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
}

func TestRateLimitPerKey(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) {
		c.RatePerKey = 0.001
		c.Burst = 2
	}})
	for range 2 {
		status, body := e.do("GET", "/v1/streams", aliceKey, nil)
		require.Equal(t, http.StatusOK, status, string(body))
	}
	resp := e.request("GET", "/v1/streams", aliceKey, nil)
	se := requireError(t, 429, "RESOURCE_EXHAUSTED", resp.StatusCode, readAll(t, resp))
	assert.Contains(t, se.Message, "alice")
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, retry, 900)
	status, body := e.do("GET", "/v1/streams", bobKey, nil)
	assert.Equal(t, http.StatusOK, status, "other keys are not limited: %s", body)
	status, _ = e.do("GET", "/healthz", "", nil)
	assert.Equal(t, http.StatusOK, status, "health checks are not limited")
}
