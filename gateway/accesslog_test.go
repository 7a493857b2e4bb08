package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
)

// requestFrom sends a request as e.request does and also returns the client's end of the
// connection, which the gateway sees as the remote address.
func (e *env) requestFrom(method, path, key, body string, header ...string) (resp *http.Response, local string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { local = info.Conn.LocalAddr().String() },
	}))
	if key != "" {
		req.Header.Set("x-goog-api-key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err = e.client.Do(req)
	require.NoError(e.t, err)
	return resp, local
}

// accessLine returns the one access log line of the request with this ID.
func (e *env) accessLine(requestID string) map[string]any {
	e.t.Helper()
	var found []map[string]any
	for _, l := range e.linesWith("request_id", requestID) {
		if l["msg"] == "request" {
			found = append(found, l)
		}
	}
	require.Len(e.t, found, 1, "access lines of %s in %s", requestID, e.logs.String())
	return found[0]
}

// Every request gets one access line at info when it is answered, a stream's when the stream
// ends, with exactly these fields.
func TestAccessLog(t *testing.T) {
	e := newEnv(t, options{json: true})
	pushID := e.createStream(aliceKey, map[string]any{})
	e.push(aliceKey, pushID, "one", "")
	status, body := e.do("DELETE", "/v1/streams/"+pushID, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	for _, tc := range []struct {
		name         string
		method, path string
		key, body    string
		status       int
		route        string
		keyID        string
		tenant       string
		streamID     string // "X-Stream-Id": the response's header
	}{
		{"Gemini stream", "POST", streamPath, bobKey, generateBody, 200, "/v1beta/models/:modelAction", "bob", "globex", "X-Stream-Id"},
		{"created", "POST", "/v1/streams", aliceKey, `{}`, 201, "/v1/streams", "alice", "acme", "X-Stream-Id"},
		{"events", "GET", "/v1/streams/" + pushID + "/events", carolKey, "", 200, "/v1/streams/:id/events", "carol", "acme", pushID},
		{"unknown stream", "GET", "/v1/streams/nope", aliceKey, "", 404, "/v1/streams/:id", "alice", "acme", ""},
		{"no key", "GET", "/v1/streams", "", "", 401, "/v1/streams", "", "", ""},
		{"bad request", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=proto", aliceKey, generateBody, 400, "/v1beta/models/:modelAction", "alice", "acme", ""},
		{"no route", "GET", "/v2/nowhere", aliceKey, "", 404, "unmatched", "", "", ""},
		{"no method", "PUT", "/v1/streams", aliceKey, "", 501, "unmatched", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid := "access-" + strings.ReplaceAll(tc.name, " ", "-")
			resp, local := e.requestFrom(tc.method, tc.path, tc.key, tc.body, gateway.HeaderRequestID, rid)
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, string(got))

			line := e.accessLine(rid)
			want := map[string]any{
				"level":       "INFO",
				"msg":         "request",
				"request_id":  rid,
				"method":      tc.method,
				"route":       tc.route,
				"status":      float64(tc.status),
				"bytes":       float64(len(got)),
				"key_id":      tc.keyID,
				"tenant":      tc.tenant,
				"remote_addr": local,
			}
			switch tc.streamID {
			case "":
			case "X-Stream-Id":
				want["stream_id"] = resp.Header.Get("X-Stream-Id")
				require.NotEmpty(t, want["stream_id"])
			default:
				want["stream_id"] = tc.streamID
			}
			ms, ok := line["duration_ms"].(float64)
			require.True(t, ok, "duration_ms is a number: %v", line["duration_ms"])
			assert.GreaterOrEqual(t, ms, 0.0)
			assert.NotEmpty(t, line["time"])
			delete(line, "duration_ms")
			delete(line, "time")
			assert.Equal(t, want, line)
		})
	}
}

// No log line holds the value of a key or token query parameter, or any key, whatever the route
// and its answer.
func TestNoCredentialInLogs(t *testing.T) {
	e := newEnv(t, options{json: true})
	pushID := e.createStream(aliceKey, map[string]any{})
	status, body := e.do("DELETE", "/v1/streams/"+pushID, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	secrets := []string{aliceKey, carolKey, upstreamKey, "SECRET-KEY-1", "SECRET-KEY-2", "SECRET-TOKEN-1",
		"SECRET-TOKEN-2", "SECRET-TOKEN-3", "SECRET-TOKEN-4", "SECRET-TOKEN-5"}
	for _, r := range []struct {
		method, path, key, body string
		status                  int
	}{
		{"GET", "/v1/streams?key=SECRET-KEY-1", "", "", 401},
		{"GET", "/v1/streams?token=SECRET-TOKEN-1", aliceKey, "", 200},
		{"POST", streamPath + "&key=" + aliceKey + "&token=SECRET-TOKEN-2", "", generateBody, 200},
		{"POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=proto&token=SECRET-TOKEN-3&key=" + aliceKey, "", generateBody, 400},
		{"GET", "/nowhere?key=SECRET-KEY-2&token=SECRET-TOKEN-4", "", "", 404},
		// A stream token beside a key is refused: a request presents one credential (docs/tokens.md).
		{"GET", "/v1/streams/" + pushID + "/events?key=" + carolKey + "&token=SECRET-TOKEN-5", "", "", 401},
		{"POST", "/v1/streams?key=" + aliceKey, "", `{"model":"gemini-2.5-flash","request":{}}`, 201},
	} {
		status, body := e.do(r.method, r.path, r.key, r.body)
		require.Equal(t, r.status, status, "%s %s: %s", r.method, r.path, body)
	}
	require.Len(t, e.linesWith("msg", "request"), 9, "an access line per request: %s", e.logs.String())
	ids, err := e.m.ActiveStreamIDs(t.Context())
	require.NoError(t, err)
	for _, id := range ids {
		e.waitStatus(aliceKey, id, "completed")
	}
	logs := e.logs.String()
	for _, s := range append(secrets, "key=", "token=") {
		for _, line := range strings.Split(logs, "\n") {
			assert.False(t, strings.Contains(line, s), "%q logged: %s", s, line)
		}
	}
	assert.False(t, slices.ContainsFunc(e.logLines(), func(l map[string]any) bool { return l["path"] != nil }),
		"no raw path is logged: %s", logs)
}
