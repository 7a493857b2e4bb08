package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is a recognisable upstream API key: tests assert it never shows up in errors or logs.
const testKey = "AIzaSECRET-streamgate-test-key-0123456789"

var ctx = context.Background()

// fastRetry retries quickly and deterministically.
var fastRetry = upstream.RetryConfig{
	MaxAttempts:     4,
	InitialInterval: time.Millisecond,
	MaxInterval:     4 * time.Millisecond,
	Multiplier:      2,
}

// fastTimeouts keep stalls short.
var fastTimeouts = upstream.Timeouts{Connect: 2 * time.Second, FirstEvent: 2 * time.Second, Idle: 2 * time.Second}

// env is one test's manager, fake Gemini and log buffer.
type env struct {
	t       *testing.T
	m       *manager.Manager
	fake    *upstreamtest.Fake
	baseURL string            // where the fake answers
	local   http.RoundTripper // set: the fake answers in-process, through this transport
	logs    *testlog.Buffer
}

// newEnv returns an env whose fake is served on a loopback HTTP server.
func newEnv(t *testing.T, def upstreamtest.Script) *env {
	t.Helper()
	srv := upstreamtest.NewServer(t, def)
	return &env{t: t, m: newManager(t), fake: srv.Fake, baseURL: srv.URL(), logs: &testlog.Buffer{}}
}

// newLocalEnv returns an env for a test in a synctest bubble: its runners send their requests to
// the fake in-process, through the simulator's pipe transport, since a goroutine waiting on a
// socket would keep the bubble's clock from moving. The fake records the bubble's time.
func newLocalEnv(t *testing.T, def upstreamtest.Script) *env {
	t.Helper()
	fake := upstreamtest.NewFake(def)
	t.Cleanup(fake.Close)
	return &env{
		t: t, m: newManager(t), fake: fake, baseURL: "http://fake.invalid",
		local: upstream.NewPipeTransport(fake), logs: &testlog.Buffer{},
	}
}

func newManager(t *testing.T) *manager.Manager {
	t.Helper()
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	t.Cleanup(func() {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if err := m.Shutdown(c); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager shutdown: %v", err)
		}
	})
	return m
}

// localProvider is a provider whose requests go through an in-process transport.
type localProvider struct {
	upstream.Provider
	rt http.RoundTripper
}

func (p localProvider) Transport() http.RoundTripper { return p.rt }

// gemini returns a Gemini provider for the fake with the test key.
func (e *env) gemini() *upstream.Gemini { return e.geminiAt(e.baseURL) }

// geminiAt returns a Gemini provider for baseURL with the test key.
func (e *env) geminiAt(baseURL string) *upstream.Gemini {
	e.t.Helper()
	key, err := auth.NewAPIKey(testKey)
	require.NoError(e.t, err)
	p, err := upstream.NewGemini(upstream.GeminiConfig{BaseURL: baseURL, Credential: key})
	require.NoError(e.t, err)
	return p
}

// runner returns a runner on the env's manager, logging at debug level into e.logs unless cfg
// has a Logger, with the fast retry and timeout settings unless cfg sets its own, and the env's
// in-process transport if it has one.
func (e *env) runner(p upstream.Provider, cfg upstream.RunnerConfig) *upstream.Runner {
	e.t.Helper()
	cfg.Provider = p
	if e.local != nil {
		cfg.Provider = localProvider{Provider: p, rt: e.local}
	}
	cfg.Manager = e.m
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Retry == (upstream.RetryConfig{}) {
		cfg.Retry = fastRetry
	}
	if cfg.Timeouts == (upstream.Timeouts{}) {
		cfg.Timeouts = fastTimeouts
	}
	r, err := upstream.NewRunner(cfg)
	require.NoError(e.t, err)
	e.t.Cleanup(r.CloseIdleConnections)
	return r
}

// stream creates a manager stream.
func (e *env) stream() string {
	e.t.Helper()
	id, err := e.m.CreateStream(ctx, "")
	require.NoError(e.t, err)
	return id
}

// run runs req to its end on a new stream and returns what the stream recorded.
func (e *env) run(r *upstream.Runner, req upstream.Request) outcome {
	e.t.Helper()
	id := e.stream()
	require.NoError(e.t, r.Run(ctx, id, req))
	return e.outcome(id)
}

// outcome is what a finished stream holds: its chunks and how it closed.
type outcome struct {
	chunks []manager.Chunk
	info   manager.StreamInfo
}

// data returns the data of the chunks that are not errors.
func (o outcome) data() [][]byte {
	var out [][]byte
	for _, ch := range o.chunks {
		if ch.Err == nil {
			out = append(out, ch.Data)
		}
	}
	return out
}

// errChunk returns the stream's error chunk; it must be the last chunk and the only error.
func (o outcome) errChunk(t *testing.T) manager.Chunk {
	t.Helper()
	require.NotEmpty(t, o.chunks)
	last := o.chunks[len(o.chunks)-1]
	require.NotNil(t, last.Err, "the last chunk is not an error chunk")
	require.Len(t, o.chunks, len(o.data())+1, "exactly one error chunk")
	require.Equal(t, "error", last.Event)
	require.JSONEq(t, string(last.Err.JSON()), string(last.Data))
	return last
}

func (e *env) outcome(id string) outcome {
	e.t.Helper()
	info, err := e.m.Info(ctx, id)
	require.NoError(e.t, err)
	require.NotEqual(e.t, manager.StatusActive, info.Status, "Run returned on an active stream")
	sub, err := e.m.Subscribe(ctx, id, 0)
	require.NoError(e.t, err)
	defer sub.Close()
	var o outcome
	for {
		ch, err := sub.Next(ctx)
		if err != nil {
			var closed *manager.ClosedError
			require.ErrorAs(e.t, err, &closed)
			break
		}
		o.chunks = append(o.chunks, ch)
	}
	o.info = info
	return o
}

// requireCompleted checks a stream that ended well with exactly want as its chunks' data.
func requireCompleted(t *testing.T, o outcome, want [][]byte) {
	t.Helper()
	require.Equal(t, manager.StatusCompleted, o.info.Status, "close reason %q", o.info.CloseReason)
	require.Equal(t, manager.ReasonCompleted, o.info.CloseReason)
	require.Len(t, o.chunks, len(want))
	for i, ch := range o.chunks {
		require.Nil(t, ch.Err)
		require.True(t, bytes.Equal(want[i], ch.Data), "chunk %d: got %.200q, want %.200q", i, ch.Data, want[i])
		require.Empty(t, ch.Event)
	}
}

// requireFailed checks a stream that ended with one error chunk after the chunks in want.
func requireFailed(t *testing.T, o outcome, want [][]byte, code int, status, message string) {
	t.Helper()
	require.Equal(t, manager.StatusError, o.info.Status, "close reason %q", o.info.CloseReason)
	require.Equal(t, want, o.data())
	ch := o.errChunk(t)
	require.Equal(t, code, ch.Err.Code, "error chunk %s", ch.Data)
	require.Equal(t, status, ch.Err.Status, "error chunk %s", ch.Data)
	if message != "" {
		require.Equal(t, message, ch.Err.Message)
	}
	require.Equal(t, manager.ReasonTerminatedPrefix+ch.Err.Message, o.info.CloseReason)
}

var geminiReq = upstream.Request{Model: "gemini-2.5-flash", Body: []byte(`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`)}
