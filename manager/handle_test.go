package manager_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func handleOf(t *testing.T, m *manager.Manager, id string) manager.Handle {
	t.Helper()
	h, err := m.Handle(ctx, id)
	require.NoError(t, err)
	require.Equal(t, id, h.ID())
	return h
}

// A push through a handle is a push by ID: the same IDs, the same delivery, and in every state a
// push can be refused in, the same error.
func TestHandlePushAnswersAsPushByID(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    manager.Config
		refuse func(t *testing.T, m *manager.Manager, id string) // brings the stream to the state
		want   error                                             // nil: the push is accepted
	}{
		{name: "active"},
		{
			name:   "closed",
			refuse: func(t *testing.T, m *manager.Manager, id string) { require.NoError(t, m.CloseStream(ctx, id, "done")) },
			want:   manager.ErrClosed,
		},
		{
			name: "forgotten",
			cfg:  manager.Config{MaxRetained: 1},
			refuse: func(t *testing.T, m *manager.Manager, id string) {
				require.NoError(t, m.CloseStream(ctx, id, "done"))
				require.NoError(t, m.CloseStream(ctx, newStream(t, m), "done")) // the one retained now
			},
			want: manager.ErrNotFound,
		},
		{
			name: "shut down",
			refuse: func(t *testing.T, m *manager.Manager, _ string) {
				require.NoError(t, m.Shutdown(ctx))
			},
			want: manager.ErrShutdown,
		},
		{
			name: "over the budget",
			cfg:  manager.Config{HistoryBytes: 50, MaxBytes: 100},
			refuse: func(t *testing.T, m *manager.Manager, _ string) {
				push(t, m, newStream(t, m), bytesOf(50)) // 49 bytes left, and the stream holds 1
			},
			want: manager.ErrBudgetExhausted,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager(t, tc.cfg)
			id := newStream(t, m)
			h := handleOf(t, m, id)
			rec := newRecorder("c")
			require.NoError(t, m.RegisterClient(ctx, id, rec))
			push(t, m, id, "1")
			if tc.refuse != nil {
				tc.refuse(t, m, id)
			}
			data := []byte(bytesOf(51))
			_, byID := m.Push(ctx, id, manager.Chunk{Data: data})
			got, byHandle := h.Push(ctx, manager.Chunk{Data: data})
			if tc.want == nil {
				require.NoError(t, byID)
				require.NoError(t, byHandle)
				require.Equal(t, uint64(3), got)
				require.NoError(t, h.PushChunk(ctx, manager.Chunk{Data: []byte("4")}))
				require.Equal(t, []uint64{1, 2, 3, 4}, rec.ids())
				return
			}
			require.ErrorIs(t, byID, tc.want)
			require.ErrorIs(t, byHandle, tc.want)
			require.EqualError(t, byHandle, byID.Error())
			require.Zero(t, got)
			require.ErrorIs(t, h.PushChunk(ctx, manager.Chunk{Data: data}), tc.want)
		})
	}
}

// A handle outliving its stream never pushes onto the stream that took its ID since.
func TestHandleOfAForgottenStreamLeavesItsIDsNewStreamAlone(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxRetained: 1})
	id := newStream(t, m)
	old := handleOf(t, m, id)
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	require.NoError(t, m.CloseStream(ctx, newStream(t, m), "done")) // forgets id
	again, err := m.CreateStream(ctx, id)
	require.NoError(t, err)

	err = old.PushChunk(ctx, manager.Chunk{Data: []byte("stale")})
	require.ErrorIs(t, err, manager.ErrNotFound)
	require.EqualError(t, err, "stream "+id+": stream not found")
	info, err := m.Info(ctx, again)
	require.NoError(t, err)
	require.Zero(t, info.LastChunkID)
	require.NoError(t, handleOf(t, m, again).PushChunk(ctx, manager.Chunk{Data: []byte("new")}))
}

func TestHandleOfAMirrorRefusesPushes(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	require.NoError(t, m.CreateMirror(ctx, manager.MirrorOptions{ID: "mirror"}, 0))
	h := handleOf(t, m, "mirror")
	_, byID := m.Push(ctx, "mirror", manager.Chunk{Data: []byte("x")})
	_, err := h.Push(ctx, manager.Chunk{Data: []byte("x")})
	require.ErrorIs(t, err, manager.ErrMirror)
	require.EqualError(t, err, byID.Error())
	require.NoError(t, m.PushAt(ctx, "mirror", manager.Chunk{ID: 1, Data: []byte("x")}))
}

func TestHandleOfAnUnknownStream(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	_, err := m.Handle(ctx, "no-such-stream")
	require.ErrorIs(t, err, manager.ErrNotFound)
	require.NoError(t, m.Shutdown(ctx))
	_, err = m.Handle(ctx, "no-such-stream")
	require.ErrorIs(t, err, manager.ErrShutdown)
}

func TestHandlePushAllocatesNothing(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	require.NoError(t, m.RegisterClient(ctx, id, &countClient{id: "c"}))
	h := handleOf(t, m, id)
	ch := manager.Chunk{Data: []byte("data"), Time: time.Now()}
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if err := h.PushChunk(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if err := m.PushChunk(ctx, id, ch); err != nil {
			t.Fatal(err)
		}
	}))
}

// AfterClose's callback runs once, whatever closes the stream, and may call the manager: it runs
// outside the stream's lock.
func TestAfterCloseRunsOnceOnClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(m *manager.Manager, id string) error
	}{
		{"CloseStream", func(m *manager.Manager, id string) error { return m.CloseStream(ctx, id, "done") }},
		{"HandleStreamError", func(m *manager.Manager, id string) error {
			return m.HandleStreamError(ctx, id, &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "x"}, true)
		}},
		{"Shutdown", func(m *manager.Manager, _ string) error { return m.Shutdown(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager(t, manager.Config{})
			id := newStream(t, m)
			rec := newRecorder("c")
			require.NoError(t, m.RegisterClient(ctx, id, rec))
			var runs atomic.Int32
			var status manager.Status
			var clientTold int
			stop := handleOf(t, m, id).AfterClose(func() {
				runs.Add(1)
				// The manager answers from inside the callback (Shutdown's ErrShutdown too): no
				// lock of the stream's is held; the clients are told after the callback.
				if info, err := m.Info(ctx, id); err == nil {
					status = info.Status
				}
				_, clientTold = rec.closedWith()
			})
			require.Zero(t, runs.Load())
			require.NoError(t, tc.close(m, id))
			require.Equal(t, int32(1), runs.Load())
			if tc.name != "Shutdown" {
				require.NotEqual(t, manager.StatusActive, status)
			}
			require.Zero(t, clientTold)
			_ = tc.close(m, id) // closing a closed stream does nothing
			require.False(t, stop(), "the callback has run")
			require.Equal(t, int32(1), runs.Load())
		})
	}
}

func TestAfterCloseStopKeepsTheCallbackFromRunning(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	h := handleOf(t, m, id)
	var ran []string
	stopA := h.AfterClose(func() { ran = append(ran, "a") })
	stopB := h.AfterClose(func() { ran = append(ran, "b") })
	stopC := h.AfterClose(func() { ran = append(ran, "c") })
	require.True(t, stopB())
	require.False(t, stopB(), "a second stop finds nothing")
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	require.ElementsMatch(t, []string{"a", "c"}, ran)
	require.False(t, stopA())
	require.False(t, stopC())
}

func TestAfterCloseOnAClosedStreamRunsAtOnce(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	h := handleOf(t, m, id)
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	ran := 0
	stop := h.AfterClose(func() { ran++ })
	require.Equal(t, 1, ran)
	require.False(t, stop())
}

// The inactivity timeout closes the stream on its timer's goroutine, which then runs the
// callback: it may stop the runner whose stream went quiet.
func TestAfterCloseRunsOnTheInactivityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{InactivityTimeout: time.Second})
		id := newStream(t, m)
		fired := make(chan struct{})
		stop := handleOf(t, m, id).AfterClose(func() { close(fired) })
		<-fired
		info, err := m.Info(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, manager.StatusError, info.Status)
		require.False(t, stop())
	})
}

// Registrations, stops and closes racing each other: every callback runs exactly once unless its
// stop reported that it kept it from running.
func TestAfterCloseRacingTheClose(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	for range 50 {
		id := newStream(t, m)
		h := handleOf(t, m, id)
		const n = 8
		var runs [n]atomic.Int32
		var stopped [n]bool
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				stop := h.AfterClose(func() { runs[i].Add(1) })
				if i%2 == 0 {
					stopped[i] = stop()
				}
			})
		}
		wg.Go(func() { _ = m.CloseStream(ctx, id, "done") })
		wg.Go(func() { _ = m.HandleStreamError(ctx, id, errors.New("boom"), true) })
		wg.Wait()
		for i := range n {
			want := int32(1)
			if stopped[i] {
				want = 0
			}
			require.Equal(t, want, runs[i].Load(), "callback %d (stopped: %v)", i, stopped[i])
		}
	}
}
