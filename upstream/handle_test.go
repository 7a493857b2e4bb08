package upstream_test

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// heldStreams is the manager with its pushes and Done by ID counted: its Handle is the manager's,
// so a runner given it pushes through handles.
type heldStreams struct {
	*manager.Manager
	byID atomic.Int32 // PushChunk and Done calls
}

func (h *heldStreams) PushChunk(ctx context.Context, id string, ch manager.Chunk) error {
	h.byID.Add(1)
	return h.Manager.PushChunk(ctx, id, ch)
}

func (h *heldStreams) Done(ctx context.Context, id string) (<-chan struct{}, error) {
	h.byID.Add(1)
	return h.Manager.Done(ctx, id)
}

// idStreams is a stream layer without handles, as cluster.Node is: the runner falls back to
// PushChunk by ID and a goroutine waiting on Done.
type idStreams struct {
	upstream.Streams
	byID atomic.Int32
}

func (s *idStreams) PushChunk(ctx context.Context, id string, ch manager.Chunk) error {
	s.byID.Add(1)
	return s.Streams.PushChunk(ctx, id, ch)
}

func (s *idStreams) Done(ctx context.Context, id string) (<-chan struct{}, error) {
	s.byID.Add(1)
	return s.Streams.Done(ctx, id)
}

var _ upstream.StreamHandles = (*heldStreams)(nil)

// layer is one way a runner may hold its streams: wrap gives the stream layer over m and its count
// of calls by ID; a stream of n chunks makes calls(n) of them, and has watches goroutines waiting
// for its close.
type layer struct {
	name    string
	wrap    func(m *manager.Manager) (upstream.Streams, func() int)
	calls   func(n int) int
	watches int
}

var layers = []layer{
	{
		name: "handle",
		wrap: func(m *manager.Manager) (upstream.Streams, func() int) {
			h := &heldStreams{Manager: m}
			return h, func() int { return int(h.byID.Load()) }
		},
		calls: func(int) int { return 0 },
	},
	{
		name: "by ID",
		wrap: func(m *manager.Manager) (upstream.Streams, func() int) {
			s := &idStreams{Streams: m}
			return s, func() int { return int(s.byID.Load()) }
		},
		calls:   func(n int) int { return n + 1 }, // and Done
		watches: 1,
	},
}

func (e *env) runnerOn(streams upstream.Streams) *upstream.Runner {
	e.t.Helper()
	r, err := upstream.NewRunner(upstream.RunnerConfig{
		Provider: e.gemini(), Manager: streams, Retry: fastRetry, Timeouts: fastTimeouts,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(e.t, err)
	e.t.Cleanup(r.CloseIdleConnections)
	return r
}

// watches counts the goroutines waiting for a stream's close on the runner's behalf.
func watches() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "upstream.watchDone.func")
}

func TestRunPushesThroughAHandleWhenTheStreamsHaveOne(t *testing.T) {
	sc := upstreamtest.Gemini(upstreamtest.Texts(6, 40)...)
	for _, l := range layers {
		t.Run(l.name, func(t *testing.T) {
			e := newEnv(t, sc)
			streams, byID := l.wrap(e.m)
			requireCompleted(t, e.run(e.runnerOn(streams), geminiReq), sc.Events())
			require.Equal(t, l.calls(len(sc.Events())), byID())
		})
	}
}

// Closed by someone else, shut down, or a mirror: the runner ends the same way whichever way it
// holds the stream, and the handle's way has no goroutine of its own waiting for the close.
func TestRunEndsAlikeWithAndWithoutAHandle(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two")
	stalled := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Stall()}}
	for _, tc := range []struct {
		name  string
		end   func(m *manager.Manager, id string) error
		check func(t *testing.T, e *env, id string)
	}{
		{
			name: "closed by another party",
			end:  func(m *manager.Manager, id string) error { return m.CloseStream(ctx, id, "client went away") },
			check: func(t *testing.T, e *env, id string) {
				o := e.outcome(id)
				require.Equal(t, "client went away", o.info.CloseReason)
				require.Equal(t, chunks[:1], o.data())
				require.Len(t, o.chunks, 1, "no error chunk for a stream someone else closed")
			},
		},
		{
			name: "manager shut down",
			end:  func(m *manager.Manager, _ string) error { return m.Shutdown(ctx) },
			check: func(t *testing.T, e *env, id string) {
				_, err := e.m.Info(ctx, id)
				require.ErrorIs(t, err, manager.ErrShutdown)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, l := range layers {
				t.Run(l.name, func(t *testing.T) {
					e := newEnv(t, stalled)
					streams, _ := l.wrap(e.m)
					r := e.runnerOn(streams)
					id := e.stream()
					done := make(chan error, 1)
					go func() { done <- r.Run(ctx, id, geminiReq) }()
					require.Eventually(t, func() bool {
						info, err := e.m.Info(ctx, id)
						return err == nil && info.LastChunkID == 1
					}, 5*time.Second, time.Millisecond)
					require.Equal(t, l.watches, watches())

					require.NoError(t, tc.end(e.m, id))
					select {
					case err := <-done:
						require.NoError(t, err)
					case <-time.After(5 * time.Second):
						t.Fatal("Run did not return after the stream was closed")
					}
					require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
					require.Zero(t, watches())
					tc.check(t, e, id)
					require.NotContains(t, e.logs.String(), "level=ERROR")
				})
			}
		})
	}
}

// A mirror's chunk IDs are its source's: the runner's pushes are refused (and logged) by handle
// as by ID, and the stream is closed at the end.
func TestRunOnAMirror(t *testing.T) {
	sc := upstreamtest.Gemini("a", "b")
	for _, l := range layers {
		t.Run(l.name, func(t *testing.T) {
			e := newEnv(t, sc)
			streams, _ := l.wrap(e.m)
			require.NoError(t, e.m.CreateMirror(ctx, manager.MirrorOptions{ID: "mirror"}, 0))
			require.NoError(t, e.runnerOn(streams).Run(ctx, "mirror", geminiReq))
			o := e.outcome("mirror")
			require.Empty(t, o.chunks)
			require.Equal(t, manager.ReasonCompleted, o.info.CloseReason)
			require.Equal(t, 2, strings.Count(e.logs.String(), "stream is a mirror"), e.logs.String())
		})
	}
}
