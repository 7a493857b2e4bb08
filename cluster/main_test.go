package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/cluster/clustertest"
	"github.com/streamgate/streamgate/internal/testlog"
)

// redisSrv is the package's redis-server; nil when redis-server is not installed.
var redisSrv *clustertest.Server

func TestMain(m *testing.M) {
	srv, err := clustertest.Start()
	switch {
	case errors.Is(err, clustertest.ErrNotInstalled):
		fmt.Fprintln(os.Stderr, "cluster tests skip: "+err.Error())
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		redisSrv = srv
	}
	code := m.Run()
	if redisSrv != nil {
		if err := redisSrv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop redis-server:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fresh returns the package's server, emptied; it skips the test without redis-server.
func fresh(t testing.TB) *clustertest.Server {
	t.Helper()
	if redisSrv == nil {
		t.Skip(clustertest.ErrNotInstalled.Error())
	}
	redisSrv.Flush(t)
	return redisSrv
}

// newStore starts a Store on srv named node, closed when the test ends; its logs go to the
// returned buffer.
func newStore(t testing.TB, srv *clustertest.Server, node string, cfg cluster.Config) (*cluster.Store, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	cfg.RedisURL = srv.URL()
	cfg.NodeID = node
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := cluster.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil && !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("close store %s: %v", node, err)
		}
	})
	return s, logs
}

// inspect returns a plain client of srv, for reading Redis's state the way an operator would.
func inspect(t testing.TB, srv *clustertest.Server) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true, ForceSingleClient: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func do(t testing.TB, c rueidis.Client, args ...string) rueidis.RedisResult {
	t.Helper()
	return c.Do(context.Background(), c.B().Arbitrary(args[0]).Args(args[1:]...).Build())
}

func doInt(t testing.TB, c rueidis.Client, args ...string) int64 {
	t.Helper()
	n, err := do(t, c, args...).AsInt64()
	require.NoError(t, err, "%v", args)
	return n
}

// eventually polls cond every 10ms for up to 10s: a wait for Redis's clock, not a timing
// assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor waits up to 10s for a signal on ch.
func waitFor(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// collector records the live messages of one subscription.
type collector struct {
	mu   sync.Mutex
	msgs []cluster.Message
}

func (c *collector) add(m cluster.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) all() []cluster.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cluster.Message(nil), c.msgs...)
}

func (c *collector) count(kind cluster.MessageKind) int {
	n := 0
	for _, m := range c.all() {
		if m.Kind == kind {
			n++
		}
	}
	return n
}
