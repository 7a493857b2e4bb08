package manager_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/manager"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a non-blocking in-memory Client that records what it receives.
type recorder struct {
	id       string
	sendErr  error
	inactive atomic.Bool

	mu     sync.Mutex
	chunks []manager.Chunk
	reason string
	closes int
}

var _ manager.Client = (*recorder)(nil)

func newRecorder(id string) *recorder { return &recorder{id: id} }

func (r *recorder) ID() string   { return r.id }
func (r *recorder) Active() bool { return !r.inactive.Load() }

func (r *recorder) SendChunk(_ context.Context, ch manager.Chunk) error {
	if r.sendErr != nil {
		return r.sendErr
	}
	r.mu.Lock()
	r.chunks = append(r.chunks, ch)
	r.mu.Unlock()
	return nil
}

func (r *recorder) NotifyStreamClosed(_ context.Context, reason string) error {
	r.mu.Lock()
	r.reason = reason
	r.closes++
	r.mu.Unlock()
	return nil
}

func (r *recorder) ids() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]uint64, len(r.chunks))
	for i, ch := range r.chunks {
		ids[i] = ch.ID
	}
	return ids
}

func (r *recorder) closedWith() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason, r.closes
}

// newManager returns a manager whose logs go to the returned buffer and which is shut down when
// the test ends.
func newManager(t *testing.T, cfg manager.Config) (*manager.Manager, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	m, err := manager.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // nothing left to drain in a finished test
		err := m.Shutdown(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("shutdown: %v", err)
		}
	})
	return m, logs
}

func newStream(t *testing.T, m *manager.Manager) string {
	t.Helper()
	id, err := m.CreateStream(context.Background(), "")
	require.NoError(t, err)
	return id
}

func push(t *testing.T, m *manager.Manager, id string, data ...string) {
	t.Helper()
	for _, d := range data {
		require.NoError(t, m.PushChunk(context.Background(), id, manager.Chunk{Data: []byte(d)}))
	}
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}
