package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/sse"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// The gateway's own upstream key, and the client keys of the tests: alice and carol share the
// tenant acme, bob is in globex.
const (
	upstreamKey = "upstream-secret-key"
	aliceKey    = "alice-key-0123456789"
	bobKey      = "bob-key-0123456789"
	carolKey    = "carol-key-0123456789"
)

var testKeys = []auth.Key{
	{ID: "alice", Key: aliceKey, Tenant: "acme"},
	{ID: "bob", Key: bobKey, Tenant: "globex"},
	{ID: "carol", Key: carolKey, Tenant: "acme"},
}

// options shape a test environment.
type options struct {
	open    bool                            // no client keys
	quiet   bool                            // discard the logs (benchmarks)
	json    bool                            // log JSON lines instead of text
	script  *upstreamtest.Script            // the fake's default script; nil: three Gemini chunks
	manager func(*manager.Config)           // adjusts the manager's config
	runner  func(*upstream.RunnerConfig)    // adjusts the runner's config
	gateway func(*gateway.Config)           // adjusts the gateway's config
	plugins []plugins.PluginConfig          // starts a plugin host with these plugins
	wrap    func(http.Handler) http.Handler // wraps the fake's handler (benchmarks)
	// provider builds the upstream provider for the fake's URL; nil: Gemini with upstreamKey
	provider func(fakeURL string) (upstream.Provider, error)
}

// env is a gateway served on a loopback port, fed by the real upstream Runner talking to a fake
// Gemini over real HTTP.
type env struct {
	t       testing.TB
	fake    *upstreamtest.Fake
	fakeURL string
	m       *manager.Manager
	host    *plugins.Host // nil without options.plugins
	runner  *upstream.Runner
	gw      *gateway.Server
	url     string
	client  *http.Client
	logs    *testlog.Buffer
	stop    context.CancelFunc
	served  chan error
}

// defaultTexts are the texts of the fake's default answer.
var defaultTexts = []string{"Hello", ", streaming", " world!"}

func newEnv(t testing.TB, o options) *env {
	t.Helper()
	script := upstreamtest.Gemini(defaultTexts...)
	if o.script != nil {
		script = *o.script
	}
	fake := upstreamtest.NewFake(script)
	fake.RequireAPIKey(upstreamKey)
	var handler http.Handler = fake
	if o.wrap != nil {
		handler = o.wrap(fake)
	}
	fakeSrv := httptest.NewServer(handler)
	t.Cleanup(func() {
		fake.Close()
		fakeSrv.CloseClientConnections()
		fakeSrv.Close()
	})
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.json {
		log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.quiet {
		log = slog.New(slog.DiscardHandler)
	}

	mcfg := manager.Config{Logger: log}
	if o.manager != nil {
		o.manager(&mcfg)
	}
	m, err := manager.New(mcfg)
	require.NoError(t, err)
	cred, err := auth.NewAPIKey(upstreamKey)
	require.NoError(t, err)
	newProvider := func(url string) (upstream.Provider, error) {
		return upstream.NewGemini(upstream.GeminiConfig{BaseURL: url, Credential: cred})
	}
	if o.provider != nil {
		newProvider = o.provider
	}
	provider, err := newProvider(fakeSrv.URL)
	require.NoError(t, err)
	rcfg := upstream.RunnerConfig{
		Provider: provider,
		Manager:  m,
		Retry:    upstream.RetryConfig{MaxAttempts: 1},
		Logger:   log,
	}
	host := startPlugins(t, o.plugins, m, log)
	if host != nil {
		rcfg.Decider = host.Deciders()
	}
	if o.runner != nil {
		o.runner(&rcfg)
	}
	runner, err := upstream.NewRunner(rcfg)
	require.NoError(t, err)
	var keyring *auth.Keyring
	if !o.open {
		keyring, err = auth.NewKeyring(testKeys)
		require.NoError(t, err)
	}
	cfg := gateway.Config{
		Manager:       m,
		Generator:     runner,
		Keyring:       keyring,
		Heartbeat:     time.Minute,
		ShutdownGrace: 5 * time.Second,
		Logger:        log,
	}
	if host != nil {
		cfg.Plugins = hostPlugins{host}
	}
	if o.gateway != nil {
		o.gateway(&cfg)
	}
	gw, err := gateway.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	e := &env{
		t: t, fake: fake, fakeURL: fakeSrv.URL, m: m, host: host, runner: runner, gw: gw, logs: logs,
		url:    "http://" + ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}},
		stop:   stop,
		served: make(chan error, 1),
	}
	go func() { e.served <- gw.Serve(ctx, ln) }()
	t.Cleanup(func() {
		e.shutdown()
		e.client.CloseIdleConnections()
		runner.CloseIdleConnections()
		if host != nil {
			require.NoError(t, host.Close(context.Background()))
		}
	})
	return e
}

// startPlugins starts a plugin host with the given plugins, or returns nil without any. The
// gateway's shutdown closes the manager first; the test's cleanup then closes the host.
func startPlugins(t testing.TB, cfgs []plugins.PluginConfig, m *manager.Manager, log *slog.Logger) *plugins.Host {
	t.Helper()
	if cfgs == nil {
		return nil
	}
	host, err := plugins.New(plugins.Config{Plugins: cfgs, Streams: m, Logger: log})
	require.NoError(t, err)
	require.NoError(t, host.Start(context.Background()))
	return host
}

// hostPlugins adapts the plugin host to gateway.Plugins, as cmd/streamgate does.
type hostPlugins struct{ *plugins.Host }

func (h hostPlugins) Subscriptions(_ context.Context, streamID, instance string) []gateway.Subscription {
	var out []gateway.Subscription
	for _, info := range h.StreamSubscriptions(streamID, instance) {
		out = append(out, gateway.Subscription(info))
	}
	return out
}

// shutdown stops the gateway (once) and requires a clean return.
func (e *env) shutdown() {
	e.t.Helper()
	if e.stop == nil {
		return
	}
	e.stop()
	e.stop = nil
	select {
	case err := <-e.served:
		require.NoError(e.t, err)
	case <-time.After(10 * time.Second):
		e.t.Fatal("Serve did not return after shutdown")
	}
}

// request sends a request with the given key ("" sends none) and returns the response.
func (e *env) request(method, path, key string, body any, header ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("x-goog-api-key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	return resp
}

// do sends a request and returns the status and the whole body.
func (e *env) do(method, path, key string, body any, header ...string) (int, []byte) {
	e.t.Helper()
	resp := e.request(method, path, key, body, header...)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, b
}

// createStream creates a stream through the API and returns its ID.
func (e *env) createStream(key string, body any) string {
	e.t.Helper()
	status, b := e.do("POST", "/v1/streams", key, body)
	require.Equal(e.t, http.StatusCreated, status, string(b))
	var out struct{ ID string }
	require.NoError(e.t, json.Unmarshal(b, &out))
	return out.ID
}

// push pushes one chunk to a push stream.
func (e *env) push(key, id string, data any, event string) {
	e.t.Helper()
	body := map[string]any{"data": data}
	if event != "" {
		body["event"] = event
	}
	status, b := e.do("POST", "/v1/streams/"+id+"/chunks", key, body)
	require.Equal(e.t, http.StatusAccepted, status, string(b))
}

// info returns a stream's info as the API shows it.
func (e *env) info(key, id string) streamInfo {
	e.t.Helper()
	status, b := e.do("GET", "/v1/streams/"+id, key, nil)
	require.Equal(e.t, http.StatusOK, status, string(b))
	var out streamInfo
	require.NoError(e.t, json.Unmarshal(b, &out))
	return out
}

// waitStatus waits until a stream reaches a status.
func (e *env) waitStatus(key, id, status string) streamInfo {
	e.t.Helper()
	var info streamInfo
	require.Eventually(e.t, func() bool {
		info = e.info(key, id)
		return info.Status == status
	}, 5*time.Second, 5*time.Millisecond, "stream %s never became %s", id, status)
	return info
}

// waitClients waits until a stream has n clients.
func (e *env) waitClients(id string, n int) {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		c, err := e.m.ClientCount(context.Background(), id)
		return err == nil && c == n
	}, 5*time.Second, 2*time.Millisecond, "stream %s never had %d clients", id, n)
}

type streamInfo struct {
	ID          string               `json:"id"`
	Status      string               `json:"status"`
	Model       string               `json:"model"`
	CreatedAt   time.Time            `json:"created_at"`
	ClosedAt    *time.Time           `json:"closed_at"`
	Clients     int                  `json:"clients"`
	LastEventID uint64               `json:"last_event_id"`
	CloseReason string               `json:"close_reason"`
	Error       *manager.StreamError `json:"error"`
}

// event is one server-sent event as the spec-exact reader parses it.
type event struct {
	ID   string
	Type string
	Data string
}

// eventReader reads server-sent events from a response.
type eventReader struct {
	t    testing.TB
	resp *http.Response
	r    *sse.Reader
}

func newEventReader(t testing.TB, resp *http.Response) *eventReader {
	return &eventReader{t: t, resp: resp, r: sse.NewReader(bufio.NewReader(resp.Body))}
}

// next returns the next event, failing the test at the end of the stream.
func (er *eventReader) next() event {
	er.t.Helper()
	ev, err := er.r.Next()
	require.NoError(er.t, err)
	return event{ID: ev.LastEventID, Type: ev.Type, Data: string(ev.Data)}
}

// rest reads events until the end of the stream.
func (er *eventReader) rest() []event {
	er.t.Helper()
	var out []event
	for {
		ev, err := er.r.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(er.t, err)
		out = append(out, event{ID: ev.LastEventID, Type: ev.Type, Data: string(ev.Data)})
	}
}

func (er *eventReader) close() { er.resp.Body.Close() }

// subscribe opens GET /v1/streams/{id}/events.
func (e *env) subscribe(key, id, query string, header ...string) *eventReader {
	e.t.Helper()
	resp := e.request("GET", "/v1/streams/"+id+"/events"+query, key, nil, header...)
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	require.Equal(e.t, "text/event-stream", resp.Header.Get("Content-Type"))
	return newEventReader(e.t, resp)
}

// geminiFrames is the exact body Gemini sends for these chunks.
func geminiFrames(chunks ...[]byte) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString("data: ")
		b.Write(c)
		b.WriteString("\r\n\r\n")
	}
	return b.String()
}

// errorJSON is Gemini's error body.
func errorJSON(code int, status, msg string) string {
	return string((&manager.StreamError{Code: code, Status: status, Message: msg}).JSON())
}

// requireError checks a Gemini-shaped error answer.
func requireError(t *testing.T, wantCode int, wantStatus string, gotCode int, body []byte) manager.StreamError {
	t.Helper()
	require.Equal(t, wantCode, gotCode, string(body))
	var out struct{ Error manager.StreamError }
	require.NoError(t, json.Unmarshal(body, &out), string(body))
	require.Equal(t, wantCode, out.Error.Code, string(body))
	require.Equal(t, wantStatus, out.Error.Status, string(body))
	require.NotEmpty(t, out.Error.Message)
	return out.Error
}

const streamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

const generateBody = `{"contents":[{"role":"user","parts":[{"text":"Say hello"}]}]}`

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}
