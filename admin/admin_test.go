package admin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/admin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const metricsText = "# TYPE streamgate_slow_clients_total counter\nstreamgate_slow_clients_total 3\n"

var metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, metricsText)
})

// serve runs an admin server on a loopback port until the test ends, and returns its URL.
func serve(t *testing.T, cfg admin.Config, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	if cfg.Metrics == nil {
		cfg.Metrics = metrics
	}
	s, err := admin.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return url
}

type response struct {
	code  int
	ctype string
	body  string
}

func do(t *testing.T, client *http.Client, method, url string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestRoutes(t *testing.T) {
	var notReady atomic.Pointer[error]
	url := serve(t, admin.Config{Ready: func() error {
		if e := notReady.Load(); e != nil {
			return *e
		}
		return nil
	}}, nil)
	c := client(t)
	const jsonType = "application/json; charset=UTF-8"
	for _, tc := range []struct {
		method, path string
		want         response
	}{
		{"GET", "/metrics", response{200, "text/plain; version=0.0.4; charset=utf-8", metricsText}},
		{"HEAD", "/metrics", response{200, "text/plain; version=0.0.4; charset=utf-8", ""}},
		{"GET", "/healthz", response{200, jsonType, `{"status":"ok"}` + "\n"}},
		{"GET", "/readyz", response{200, jsonType, `{"status":"ready"}` + "\n"}},
		{"POST", "/metrics", response{501, jsonType, `{"error":{"code":501,"message":"method POST is not allowed on /metrics (allowed: GET, HEAD)","status":"UNIMPLEMENTED"}}` + "\n"}},
		{"GET", "/debug/pprof/", response{404, jsonType, `{"error":{"code":404,"message":"pprof is disabled (admin.pprof: false)","status":"NOT_FOUND"}}` + "\n"}},
		{"GET", "/debug/pprof/heap", response{404, jsonType, `{"error":{"code":404,"message":"pprof is disabled (admin.pprof: false)","status":"NOT_FOUND"}}` + "\n"}},
		{"GET", "/v1/streams", response{404, jsonType, `{"error":{"code":404,"message":"no route for GET /v1/streams","status":"NOT_FOUND"}}` + "\n"}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			assert.Equal(t, tc.want, do(t, c, tc.method, url+tc.path))
		})
	}
	t.Run("not ready", func(t *testing.T) {
		err := errors.New("the gateway is shutting down")
		notReady.Store(&err)
		assert.Equal(t, response{503, jsonType, `{"error":{"code":503,"message":"the gateway is shutting down","status":"UNAVAILABLE"}}` + "\n"},
			do(t, c, "GET", url+"/readyz"))
		assert.Equal(t, 200, do(t, c, "GET", url+"/healthz").code, "liveness does not follow readiness")
	})
}

func TestPprofWhenEnabled(t *testing.T) {
	url := serve(t, admin.Config{Pprof: true}, nil)
	c := client(t)
	index := do(t, c, "GET", url+"/debug/pprof/")
	assert.Equal(t, 200, index.code)
	assert.Contains(t, index.body, "goroutine")
	goroutines := do(t, c, "GET", url+"/debug/pprof/goroutine?debug=1")
	assert.Equal(t, 200, goroutines.code)
	assert.True(t, strings.HasPrefix(goroutines.body, "goroutine profile: total "), goroutines.body)
	cmdline := do(t, c, "GET", url+"/debug/pprof/cmdline")
	assert.Equal(t, 200, cmdline.code)
	assert.Contains(t, cmdline.body, "admin.test")
	assert.Equal(t, 200, do(t, c, "GET", url+"/metrics").code)
}

// acceptCounter counts the calls to Accept of the real listener under the admin's limit.
type acceptCounter struct {
	net.Listener
	calls atomic.Int32
}

func (l *acceptCounter) Accept() (net.Conn, error) {
	l.calls.Add(1)
	return l.Listener.Accept()
}

// With MaxConns 1, a second connection is not even accepted while the first is open, and is
// served as soon as the first closes.
func TestConnectionBudget(t *testing.T) {
	var counter *acceptCounter
	url := serve(t, admin.Config{MaxConns: 1}, func(ln net.Listener) net.Listener {
		counter = &acceptCounter{Listener: ln}
		return counter
	})
	first := client(t)
	require.Equal(t, 200, do(t, first, "GET", url+"/healthz").code)
	// The first connection stays open (keep-alive), so the limit holds the next Accept back.
	assert.Equal(t, int32(1), counter.calls.Load())

	second := make(chan response, 1)
	go func() {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			second <- response{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		second <- response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
	}()
	assert.Equal(t, int32(1), counter.calls.Load())
	first.CloseIdleConnections()
	got := <-second
	assert.Equal(t, 200, got.code, got.body)
	assert.Equal(t, metricsText, got.body)
	assert.Equal(t, int32(2), counter.calls.Load())
	http.DefaultClient.CloseIdleConnections()
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  admin.Config
	}{
		{"no metrics", admin.Config{}},
		{"negative budget", admin.Config{Metrics: metrics, MaxConns: -1}},
		{"negative timeout", admin.Config{Metrics: metrics, WriteTimeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admin.New(tc.cfg)
			assert.ErrorIs(t, err, admin.ErrInvalidConfig)
		})
	}
}

// Serve reports a listener that fails instead of hanging.
func TestServeReportsListenerFailure(t *testing.T) {
	s, err := admin.New(admin.Config{Metrics: metrics})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	err = s.Serve(context.Background(), ln)
	assert.ErrorIs(t, err, net.ErrClosed)
}
