package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	lefts  []time.Duration
	failed int
	held   []bool
	swept  int
}

var _ cluster.Observer = (*recorder)(nil)

func (r *recorder) LeaseRefreshed(left time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lefts = append(r.lefts, left)
}

func (r *recorder) LeaseRefreshFailed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
}

func (r *recorder) LeaseHeld(held bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held = append(r.held, held)
}

func (r *recorder) StreamsSwept(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.swept += n
}

type recorded struct {
	lefts  []time.Duration
	failed int
	held   []bool
	swept  int
}

func (r *recorder) get() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorded{append([]time.Duration(nil), r.lefts...), r.failed, append([]bool(nil), r.held...), r.swept}
}

// lastHeld is the last LeaseHeld value, false before any.
func (g recorded) lastHeld() bool { return len(g.held) > 0 && g.held[len(g.held)-1] }

// Punctual refreshes: each is observed with the time left on the lease, within (0, lease]; the
// replica holds its lease from New to Close; nothing failed and nothing was swept.
func TestObserverSeesRefreshes(t *testing.T) {
	srv := fresh(t)
	obs := &recorder{}
	s, _ := newStore(t, srv, "a", cluster.Config{Lease: testLease, Observer: obs})
	assert.Equal(t, []bool{true}, obs.get().held, "New took the lease")
	eventually(t, "three refreshes", func() bool { return len(obs.get().lefts) >= 3 })
	require.NoError(t, s.Close(context.Background()))

	got := obs.get()
	for _, left := range got.lefts {
		assert.True(t, left > 0 && left <= testLease, "left %s of a %s lease", left, testLease)
	}
	assert.Zero(t, got.failed)
	assert.Zero(t, got.swept)
	require.Equal(t, len(got.lefts)+2, len(got.held), "one LeaseHeld at New, one per refresh, one at Close: %v", got.held)
	assert.True(t, got.held[0])
	for _, h := range got.held[1 : len(got.held)-1] {
		assert.True(t, h)
	}
	assert.False(t, got.lastHeld(), "Close released the lease")
}

// Redis stalled for twice the lease: the refresh fails, the replica stops holding its lease and
// holds a new one once Redis wakes; a sweep ends the one stream of the lapsed epoch, counted
// once by whichever replica's sweep ended it.
func TestObserverSeesALapse(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	const lease = 500 * time.Millisecond
	obs, otherObs := &recorder{}, &recorder{}
	lost := make(chan struct{}, 1)
	s, _ := newStore(t, srv, "a", cluster.Config{Lease: lease, Observer: obs, OnLeaseLost: func() { lost <- struct{}{} }})
	other, _ := newStore(t, srv, "b", cluster.Config{Lease: 10 * time.Second, Observer: otherObs})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "old"})
	require.NoError(t, err)
	old := s.Epoch()

	require.NoError(t, srv.Stall(2*lease))
	waitFor(t, "OnLeaseLost", lost)
	eventually(t, "a new lease", func() bool { return s.Epoch() != "" && s.Epoch() != old })
	eventually(t, "ready again", func() bool { return s.Ready(ctx) == nil })

	got := obs.get()
	assert.GreaterOrEqual(t, got.failed, 1, "the refresh in the stall failed")
	assert.Contains(t, got.held, false, "the replica was not ready after the lapse")
	assert.True(t, got.lastHeld(), "it holds its new lease")

	eventually(t, "the old epoch's stream ended", func() bool {
		_, err := other.Sweep(ctx)
		info, ierr := other.Info(ctx, "old")
		return err == nil && ierr == nil && info.Status == manager.StatusError
	})
	n, err := other.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a second sweep finds nothing")
	assert.Equal(t, 1, obs.get().swept+otherObs.get().swept, "the one stream of the lapsed epoch")
	assert.Zero(t, otherObs.get().failed)
}
