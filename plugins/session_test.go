package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/sdk"
	"github.com/streamgate/streamgate/upstream"
)

// memTransport is an in-process transport served by the real SDK over gRPC.
type memTransport struct {
	mu        sync.Mutex
	delivered []uint64
	closed    []sdk.CloseInfo
	fail      map[uint64]int // chunk ID -> deliveries left to fail (-1: always)
	gate      chan struct{}  // when set, each Deliver waits for a receive from it
}

func (m *memTransport) Open(_ context.Context, req sdk.OpenRequest) (sdk.Session, error) {
	var c struct {
		Refuse bool `json:"refuse"`
	}
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return nil, err
	}
	if c.Refuse {
		return nil, sdk.Invalid("/refuse", "refused")
	}
	return m, nil
}

func (m *memTransport) Deliver(ctx context.Context, chunks []sdk.Chunk) error {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range chunks {
		if n := m.fail[c.ID]; n != 0 {
			m.fail[c.ID] = n - 1
			return &sdk.Error{Code: 503, Status: "UNAVAILABLE", Message: fmt.Sprintf("chunk %d refused", c.ID), Retryable: true}
		}
	}
	for _, c := range chunks {
		m.delivered = append(m.delivered, c.ID)
	}
	return nil
}

func (m *memTransport) Close(_ context.Context, info sdk.CloseInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = append(m.closed, info)
	return nil
}

func (m *memTransport) got() ([]uint64, []sdk.CloseInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uint64(nil), m.delivered...), append([]sdk.CloseInfo(nil), m.closed...)
}

// inProcess joins the SDK's plugin side and the host's client side for TestPluginGRPCConn.
type inProcess struct {
	plugin.NetRPCUnsupportedPlugin
	srv plugin.GRPCPlugin
}

func (p inProcess) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	return p.srv.GRPCServer(b, s)
}

func (p inProcess) GRPCClient(ctx context.Context, b *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return hostPlugin{}.GRPCClient(ctx, b, cc)
}

// connectInProcess serves t over a real gRPC connection; stop ends the server.
func connectInProcess(t *testing.T, tr sdk.Transport) (c *conn, stop func()) {
	t.Helper()
	cfg, err := sdk.ServeConfig(sdk.Info{Name: "mem"}, sdk.WithTransport(tr))
	require.NoError(t, err)
	srv := cfg.VersionedPlugins[sdk.ProtocolVersion][sdk.PluginName].(plugin.GRPCPlugin)
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginName: inProcess{srv: srv}})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = client.Close() // asks the server to stop
			<-server.DoneCh
		})
	}
	t.Cleanup(stop)
	raw, err := client.Dispense(sdk.PluginName)
	require.NoError(t, err)
	return raw.(*conn), stop
}

// deciderFunc adapts a function to upstream.Decider.
type deciderFunc func(context.Context, upstream.ErrorInfo) upstream.Decision

func (f deciderFunc) Decide(ctx context.Context, info upstream.ErrorInfo) upstream.Decision {
	return f(ctx, info)
}

func testSessionConfig(d upstream.Decider) sessionConfig {
	if d == nil {
		d = upstream.Chain(nil)
	}
	return sessionConfig{window: 64, maxBatch: 16, maxBytes: batchBytes, attempts: 3, minBackoff: time.Millisecond, maxBackoff: 2 * time.Millisecond,
		callTimeout: 5 * time.Second, decider: d, log: slog.New(slog.DiscardHandler), metrics: nopMetrics{}}
}

func chunks(from, to uint64) []manager.Chunk {
	var out []manager.Chunk
	for id := from; id <= to; id++ {
		out = append(out, manager.Chunk{ID: id, Data: []byte(fmt.Sprintf(`{"n":%d}`, id)), Time: time.Unix(0, int64(id))})
	}
	return out
}

func ids(from, to uint64) []uint64 {
	var out []uint64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

func open(t *testing.T, c *conn, cfg sessionConfig, after uint64) (*session, *atomic.Uint64) {
	t.Helper()
	acked := new(atomic.Uint64)
	acked.Store(after)
	s, err := openSession(context.Background(), c, "mem", openRequest{streamID: "s1", subID: "sub1", after: after}, acked, cfg)
	require.NoError(t, err)
	return s, acked
}

// completed is the end of a stream that completed.
var completed = manager.ClosedError{StreamID: "s1", Reason: manager.ReasonCompleted, Status: manager.StatusCompleted}

func TestSessionDeliversInOrderWithinTheWindow(t *testing.T) {
	m := &memTransport{}
	c, _ := connectInProcess(t, m)
	s, acked := open(t, c, testSessionConfig(nil), 0)
	ctx := context.Background()
	for from := uint64(1); from <= 1000; from += 100 {
		require.NoError(t, s.Deliver(ctx, chunks(from, from+99)))
		assert.LessOrEqual(t, len(s.unacked), 64)
	}
	fail := &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "boom"}
	require.NoError(t, s.Deliver(ctx, []manager.Chunk{{ID: 1001, Event: "error", Data: fail.JSON(), Err: fail}}))
	require.NoError(t, s.Closed(ctx, manager.ClosedError{StreamID: "s1", Reason: manager.ReasonTerminatedPrefix + "boom", Status: manager.StatusError, Err: fail}))

	delivered, closed := m.got()
	assert.Equal(t, ids(1, 1001), delivered)
	assert.Equal(t, uint64(1001), acked.Load())
	assert.Equal(t, []sdk.CloseInfo{{Reason: "Stream terminated due to error: boom", Err: &sdk.Error{Code: 500, Status: "INTERNAL", Message: "boom"}}}, closed)
}

func TestSessionNeverExceedsTheWindow(t *testing.T) {
	m := &memTransport{gate: make(chan struct{})}
	c, _ := connectInProcess(t, m)
	cfg := testSessionConfig(nil)
	s, _ := open(t, c, cfg, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Deliver(ctx, chunks(1, 100))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Len(t, s.unacked, cfg.window, "the plugin acknowledged nothing: exactly a window is in flight")
	close(m.gate)
	require.NoError(t, s.Deliver(context.Background(), chunks(65, 100)))
	require.NoError(t, s.Closed(context.Background(), completed))
	delivered, _ := m.got()
	assert.Equal(t, ids(1, 100), delivered)
}

func TestSessionBuiltInPolicy(t *testing.T) {
	t.Run("retries", func(t *testing.T) {
		m := &memTransport{fail: map[uint64]int{5: 2, 40: 1}}
		c, _ := connectInProcess(t, m)
		s, acked := open(t, c, testSessionConfig(nil), 0)
		require.NoError(t, s.Deliver(context.Background(), chunks(1, 50)))
		require.NoError(t, s.Closed(context.Background(), completed))
		delivered, _ := m.got()
		assert.Equal(t, ids(1, 50), delivered)
		assert.Equal(t, uint64(50), acked.Load())
	})
	t.Run("gives up", func(t *testing.T) {
		m := &memTransport{fail: map[uint64]int{5: -1}}
		c, _ := connectInProcess(t, m)
		s, acked := open(t, c, testSessionConfig(nil), 0)
		err := s.Deliver(context.Background(), chunks(1, 50))
		if err == nil {
			err = s.drain(context.Background())
		}
		var te *terminatedError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "delivery failed after 3 attempts: chunk 5 refused", te.Reason)
		assert.Equal(t, &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "chunk 5 refused"}, te.Err)
		assert.Equal(t, uint64(0), acked.Load(), "the first batch (1-16) never went through")
		s.abort()
	})
}

func TestSessionDecisions(t *testing.T) {
	var seen []upstream.ErrorInfo
	var mu sync.Mutex
	decide := func(a upstream.Action) upstream.Decider {
		return deciderFunc(func(_ context.Context, info upstream.ErrorInfo) upstream.Decision {
			mu.Lock()
			seen = append(seen, info)
			mu.Unlock()
			return upstream.Decision{Action: a, Err: &manager.StreamError{Code: 502, Status: "UNAVAILABLE", Message: "rewritten"}}
		})
	}
	t.Run("skip drops the batch", func(t *testing.T) {
		m := &memTransport{fail: map[uint64]int{20: 1}}
		c, _ := connectInProcess(t, m)
		s, acked := open(t, c, testSessionConfig(decide(upstream.ActionSkip)), 0)
		require.NoError(t, s.Deliver(context.Background(), chunks(1, 40)))
		require.NoError(t, s.Closed(context.Background(), completed))
		delivered, _ := m.got()
		assert.Equal(t, append(ids(1, 16), ids(33, 40)...), delivered, "batch 17-32 was skipped")
		assert.Equal(t, uint64(40), acked.Load())
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, seen, 1)
		assert.Equal(t, upstream.ErrorInfo{Phase: upstream.PhaseDelivery, StreamID: "s1", Subscription: "sub1", Attempt: 1,
			Elapsed: seen[0].Elapsed, Err: &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "chunk 20 refused"}, Retryable: true}, seen[0])
	})
	t.Run("retry", func(t *testing.T) {
		m := &memTransport{fail: map[uint64]int{20: 3}}
		c, _ := connectInProcess(t, m)
		s, _ := open(t, c, testSessionConfig(decide(upstream.ActionRetry)), 0)
		require.NoError(t, s.Deliver(context.Background(), chunks(1, 40)))
		require.NoError(t, s.Closed(context.Background(), completed))
		delivered, _ := m.got()
		assert.Equal(t, ids(1, 40), delivered)
	})
	t.Run("terminate rewrites", func(t *testing.T) {
		m := &memTransport{fail: map[uint64]int{20: 1}}
		c, _ := connectInProcess(t, m)
		s, _ := open(t, c, testSessionConfig(decide(upstream.ActionTerminate)), 0)
		err := s.Deliver(context.Background(), chunks(1, 40))
		if err == nil {
			err = s.drain(context.Background())
		}
		var te *terminatedError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, &terminatedError{Reason: "delivery failed: rewritten", Err: &manager.StreamError{Code: 502, Status: "UNAVAILABLE", Message: "rewritten"}}, te)
		require.NoError(t, s.finish(context.Background(), te.Reason, te.Err))
		_, closed := m.got()
		assert.Equal(t, []sdk.CloseInfo{{Reason: "delivery failed: rewritten", Err: &sdk.Error{Code: 502, Status: "UNAVAILABLE", Message: "rewritten"}}}, closed)
	})
}

func TestSessionRefused(t *testing.T) {
	c, _ := connectInProcess(t, &memTransport{})
	_, err := openSession(context.Background(), c, "mem", openRequest{streamID: "s1", subID: "x", config: []byte(`{"refuse":true}`)},
		new(atomic.Uint64), testSessionConfig(nil))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, &ConfigError{Plugin: "mem", Subscription: true, Diagnostics: sdk.Invalid("/refuse", "refused")}, ce)
	assert.ErrorIs(t, err, ErrBadConfig)
	assert.Equal(t, "plugin mem refused the subscription: error at /refuse: refused", err.Error())
}

func TestSessionPluginLost(t *testing.T) {
	m := &memTransport{gate: make(chan struct{})}
	c, stop := connectInProcess(t, m)
	s, _ := open(t, c, testSessionConfig(nil), 0)
	errc := make(chan error, 1)
	go func() { errc <- s.Deliver(context.Background(), chunks(1, 100)) }()
	stop()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, errPluginLost)
		assert.ErrorIs(t, err, ErrUnavailable)
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver did not notice the plugin was gone")
	}
	s.abort()
}
