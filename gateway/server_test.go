package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

type upstreamRequest = upstream.Request

func TestHealth(t *testing.T) {
	e := newEnv(t, options{})
	status, body := e.do("GET", "/healthz", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"status":"ok"}`, string(body))
	status, body = e.do("GET", "/readyz", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"status":"ready"}`, string(body))
}

func TestCORS(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.CORSOrigins = []string{"https://app.example"} }})
	t.Run("preflight", func(t *testing.T) {
		resp := e.request("OPTIONS", "/v1/streams/x/events", "", nil,
			"Origin", "https://app.example", "Access-Control-Request-Method", "GET",
			"Access-Control-Request-Headers", "last-event-id, x-goog-api-key")
		readAll(t, resp)
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "GET, POST, DELETE, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
		assert.Equal(t, "x-goog-api-key, authorization, content-type, last-event-id, x-goog-api-client",
			resp.Header.Get("Access-Control-Allow-Headers"))
		assert.Contains(t, resp.Header.Values("Vary"), "Origin")
	})
	t.Run("request", func(t *testing.T) {
		resp := e.request("POST", "/v1/streams", aliceKey, `{}`, "Origin", "https://app.example")
		readAll(t, resp)
		assert.Equal(t, http.StatusCreated, resp.StatusCode)
		assert.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "X-Stream-Id, Retry-After", resp.Header.Get("Access-Control-Expose-Headers"))
		assert.Contains(t, resp.Header.Values("Vary"), "Origin")
	})
	t.Run("other origin", func(t *testing.T) {
		resp := e.request("OPTIONS", "/v1/streams", "", nil,
			"Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
		requireError(t, 403, "PERMISSION_DENIED", resp.StatusCode, readAll(t, resp))
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
		resp = e.request("GET", "/v1/streams", aliceKey, nil, "Origin", "https://evil.example")
		readAll(t, resp)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	})
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.Heartbeat = 20 * time.Millisecond }})
	id := e.createStream(aliceKey, map[string]any{})
	resp := e.request("GET", "/v1/streams/"+id+"/events", aliceKey, nil)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	readBlock := func() string {
		var b strings.Builder
		for !strings.HasSuffix(b.String(), "\n\n") {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			b.WriteString(line)
		}
		return b.String()
	}
	assert.Equal(t, ": ping\n\n", readBlock())
	e.push(aliceKey, id, true, "")
	assert.Equal(t, "id: 1\ndata: true\n\n", readBlock())
	assert.Equal(t, ": ping\n\n", readBlock())
}

func TestGracefulShutdownWithLiveSubscribers(t *testing.T) {
	e := newEnv(t, options{script: slowScript(1000, 5*time.Millisecond)})
	gemini := e.request("POST", streamPath, aliceKey, generateBody)
	defer gemini.Body.Close()
	require.Equal(t, http.StatusOK, gemini.StatusCode)
	genID := gemini.Header.Get("X-Stream-Id")
	gr := bufio.NewReader(gemini.Body)
	readFrame(t, gr)
	watcher := e.subscribe(carolKey, genID, "")
	defer watcher.close()
	pushID := e.createStream(bobKey, map[string]any{})
	pushSub := e.subscribe(bobKey, pushID, "")
	defer pushSub.close()
	e.push(bobKey, pushID, "before", "")
	require.Equal(t, `"before"`, pushSub.next().Data)
	e.waitClients(genID, 2)

	e.shutdown()

	rest, err := io.ReadAll(gr)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(rest), "data: "+errorJSON(503, "UNAVAILABLE", "shutting down")+"\r\n\r\n"),
		"the Gemini-route caller is told: %q", tail(rest))
	done := `{"status":"error","reason":"shutting down"}`
	events := watcher.rest()
	require.NotEmpty(t, events)
	assert.Equal(t, event{ID: events[len(events)-1].ID, Type: "done", Data: done}, events[len(events)-1])
	assert.Equal(t, []event{{ID: "1", Type: "done", Data: done}}, pushSub.rest())
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond,
		"the upstream request is cancelled")

	rec := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	requireError(t, 503, "UNAVAILABLE", rec.Code, rec.Body.Bytes())
	_, err = net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.Error(t, err, "the listener is closed")
}

func tail(b []byte) []byte { return b[max(0, len(b)-200):] }

func TestOpenMode(t *testing.T) {
	e := newEnv(t, options{open: true})
	status, body := e.do("POST", streamPath, "", generateBody)
	require.Equal(t, http.StatusOK, status, string(body))
	id := e.createStream("", map[string]any{})
	assert.Equal(t, "active", e.info("", id).Status)
	assert.Contains(t, e.logs.String(), "no client keys configured")
}

func TestOpenModeRefusesNonLoopback(t *testing.T) {
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	gw, err := gateway.New(gateway.Config{Manager: m, Generator: nopGenerator{}})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer ln.Close()
	err = gw.Serve(context.Background(), ln)
	require.ErrorIs(t, err, gateway.ErrOpenNotLoopback)
	require.NoError(t, m.Shutdown(context.Background()))
}

func TestConfigValidation(t *testing.T) {
	m, err := manager.New(manager.Config{HistorySize: 100})
	require.NoError(t, err)
	defer m.Shutdown(context.Background())
	for _, tc := range []struct {
		name string
		cfg  gateway.Config
		want string
	}{
		{"no manager", gateway.Config{Generator: nopGenerator{}}, "Manager is required"},
		{"no generator", gateway.Config{Manager: m}, "Generator is required"},
		{"negative heartbeat", gateway.Config{Manager: m, Generator: nopGenerator{}, Heartbeat: -1}, "Heartbeat must not be negative"},
		{"queue below history", gateway.Config{Manager: m, Generator: nopGenerator{}, ClientQueueSize: 99}, "ClientQueueSize 99 is smaller than the manager's HistorySize 100"},
		{"negative rate", gateway.Config{Manager: m, Generator: nopGenerator{}, RatePerKey: -1}, "RatePerKey"},
		{"bad origin", gateway.Config{Manager: m, Generator: nopGenerator{}, CORSOrigins: []string{"app.example"}}, `CORSOrigins[0] "app.example" is not an origin`},
		{"origin with path", gateway.Config{Manager: m, Generator: nopGenerator{}, CORSOrigins: []string{"https://app.example/"}}, "is not an origin"},
		{"star and more", gateway.Config{Manager: m, Generator: nopGenerator{}, CORSOrigins: []string{"*", "https://a.example"}}, `"*" must be the only origin`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.New(tc.cfg)
			require.ErrorIs(t, err, gateway.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = gateway.New(gateway.Config{Manager: m, Generator: nopGenerator{}, CORSOrigins: []string{"*"}})
	require.NoError(t, err)
}

// nopGenerator is for tests that never start a generation.
type nopGenerator struct{}

func (nopGenerator) Run(context.Context, string, upstreamRequest) error {
	return errors.New("nopGenerator runs nothing")
}

func (nopGenerator) Generate(context.Context, upstreamRequest) (*http.Response, error) {
	return nil, errors.New("nopGenerator generates nothing")
}

func (nopGenerator) Call(context.Context, upstream.Call) (*http.Response, error) {
	return nil, errors.New("nopGenerator calls nothing")
}
