package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/cluster/clustertest"
	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/manager"
)

// streams is the interface docs/cluster.md says the gateway declares, method for method: the
// compile-time check that Node implements it. The runner's and the plugin host's interfaces
// (upstream.Streams, plugins.Streams) are subsets of it.
type streams interface {
	CreateStreamWith(ctx context.Context, opts manager.StreamOptions) (string, error)
	Info(ctx context.Context, id string) (manager.StreamInfo, error)
	List(ctx context.Context, tenant string) ([]manager.StreamInfo, error)
	Push(ctx context.Context, id string, ch manager.Chunk) (uint64, error)
	PushChunk(ctx context.Context, id string, ch manager.Chunk) error
	CloseStream(ctx context.Context, id, reason string) error
	HandleStreamError(ctx context.Context, id string, err error, terminate bool) error
	RegisterClientFrom(ctx context.Context, id string, c manager.Client, afterID uint64) error
	DeregisterClient(ctx context.Context, id, clientID string) error
	Done(ctx context.Context, id string) (<-chan struct{}, error)
}

// ready is the optional interface /readyz asks.
type ready interface {
	Ready(ctx context.Context) error
}

// owner is the optional interface the gateway's events route asks while it shuts down.
type owner interface {
	Owns(id string) bool
}

var (
	_ streams = (*cluster.Node)(nil)
	_ ready   = (*cluster.Node)(nil)
	_ owner   = (*cluster.Node)(nil)
)

// The gateway tells ErrUnavailable (503 with Retry-After) by this method, since it must not import
// cluster; errors.As finds it through every wrapping the Store adds.
func TestErrUnavailableSaysSo(t *testing.T) {
	var u interface{ Unavailable() bool }
	err := fmt.Errorf("cluster: create stream: %w: %w", cluster.ErrUnavailable, errors.New("dial tcp: connection refused"))
	require.ErrorAs(t, err, &u)
	require.True(t, u.Unavailable())
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	require.False(t, errors.As(fmt.Errorf("x: %w", manager.ErrNotFound), &u))
}

// replicaNode is one replica of a test cluster: its Store, manager and Node.
type replicaNode struct {
	name  string
	store *cluster.Store
	m     *manager.Manager
	node  *cluster.Node
	logs  *testlog.Buffer
}

// nodeConfig is what a test sets on one replica.
type nodeConfig struct {
	store   cluster.Config
	manager manager.Config
	node    cluster.NodeConfig
}

// newNode starts a replica named name on srv; it is closed (Node, Store, manager) when the test
// ends.
func newNode(t testing.TB, srv *clustertest.Server, name string, cfg nodeConfig) *replicaNode {
	t.Helper()
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", name)
	cfg.manager.Logger = log
	m, err := manager.New(cfg.manager)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := m.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("shutdown manager %s: %v", name, err)
		}
	})
	cfg.store.RedisURL, cfg.store.NodeID, cfg.store.Logger = srv.URL(), name, log
	s, err := cluster.New(context.Background(), cfg.store)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil && !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("close store %s: %v", name, err)
		}
	})
	cfg.node.Store, cfg.node.Manager = s, m
	n, err := cluster.NewNode(context.Background(), cfg.node)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := n.Close(context.Background()); err != nil && !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("close node %s: %v", name, err)
		}
	})
	return &replicaNode{name: name, store: s, m: m, node: n, logs: logs}
}

// watcher is a local client of a stream on one replica: it records what it receives.
type watcher struct {
	id    string
	mu    sync.Mutex
	recv  []manager.Chunk
	end   *manager.ClosedError
	ended chan struct{}
}

var (
	_ manager.Client        = (*watcher)(nil)
	_ manager.CloseReceiver = (*watcher)(nil)
)

func newWatcher(id string) *watcher { return &watcher{id: id, ended: make(chan struct{})} }

func (w *watcher) ID() string   { return w.id }
func (w *watcher) Active() bool { return true }
func (w *watcher) SendChunk(_ context.Context, ch manager.Chunk) error {
	w.mu.Lock()
	w.recv = append(w.recv, ch)
	w.mu.Unlock()
	return nil
}

func (w *watcher) StreamClosed(_ context.Context, end manager.ClosedError) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.end != nil {
		panic("closed twice")
	}
	w.end = &end
	close(w.ended)
	return nil
}

func (w *watcher) NotifyStreamClosed(ctx context.Context, reason string) error {
	panic("the manager tells a CloseReceiver the details")
}

func (w *watcher) chunks() []manager.Chunk {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]manager.Chunk(nil), w.recv...)
}

func (w *watcher) ids() []uint64 {
	chs := w.chunks()
	ids := make([]uint64, len(chs))
	for i, ch := range chs {
		ids[i] = ch.ID
	}
	return ids
}

func (w *watcher) closed() manager.ClosedError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return *w.end
}

// watch registers a new watcher on rn after afterID.
func (rn *replicaNode) watch(t testing.TB, id string, afterID uint64) *watcher {
	t.Helper()
	w := newWatcher(fmt.Sprintf("%s-after-%d-%d", rn.name, afterID, time.Now().UnixNano()))
	require.NoError(t, rn.node.RegisterClientFrom(context.Background(), id, w, afterID))
	return w
}

// pushN pushes n chunks "<prefix><i>" through rn and returns the IDs they were given.
func (rn *replicaNode) pushN(t testing.TB, id, prefix string, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for i := range n {
		chID, err := rn.node.Push(context.Background(), id, manager.Chunk{Data: []byte(prefix + strconv.Itoa(i))})
		require.NoError(t, err)
		ids = append(ids, chID)
	}
	return ids
}

func pushStream(t testing.TB, rn *replicaNode, id string) {
	t.Helper()
	got, err := rn.node.CreateStreamWith(context.Background(), manager.StreamOptions{ID: id, Labels: map[string]string{manager.LabelKind: "push"}})
	require.NoError(t, err)
	require.Equal(t, id, got)
}

// A push stream created on A, pushed through A, B and C at once, watched on every replica: each
// watcher gets 1..n, every chunk once, in order, with the same bytes everywhere, then the close.
func TestNodePushThroughAnyReplica(t *testing.T) {
	srv := fresh(t)
	a, b, c := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{}), newNode(t, srv, "c", nodeConfig{})
	pushStream(t, a, "s")
	watchers := []*watcher{a.watch(t, "s", 0), b.watch(t, "s", 0), c.watch(t, "s", 0)}

	const per = 100
	var wg sync.WaitGroup
	ids := make([][]uint64, 4)
	for i, rn := range []*replicaNode{a, b, b, c} {
		wg.Go(func() { ids[i] = rn.pushN(t, "s", fmt.Sprintf("%s%d-", rn.name, i), per) })
	}
	wg.Wait()
	var all []uint64
	for _, l := range ids {
		all = append(all, l...)
	}
	assert.ElementsMatch(t, seq(1, 4*per), all, "Push returned every ID once")
	require.NoError(t, a.node.CloseStream(context.Background(), "s", "completed"))

	for _, w := range watchers {
		waitFor(t, w.id+" ended", w.ended)
		assert.Equal(t, seq(1, 4*per), w.ids(), w.id)
		assert.Equal(t, manager.ClosedError{StreamID: "s", Reason: "completed", Status: manager.StatusCompleted}, w.closed())
	}
	ref := watchers[0].chunks()
	for _, w := range watchers[1:] {
		for i, ch := range w.chunks() {
			require.Equal(t, string(ref[i].Data), string(ch.Data), "%s chunk %d", w.id, ch.ID)
		}
	}
	info, err := c.node.Info(context.Background(), "s")
	require.NoError(t, err)
	assert.Equal(t, uint64(4*per), info.LastChunkID)
	assert.Equal(t, manager.StatusCompleted, info.Status)
}

func seq(from, to uint64) []uint64 {
	s := []uint64{}
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// A replica's copy of a stream begins at its first local subscriber's resume point; a later
// subscriber resuming from before it is served those chunks from Redis, then the copy's, then
// live: no gap, no duplicate. The same holds once the copy rolled past its history.
func TestNodeResumeBeforeTheCopysFirstChunk(t *testing.T) {
	srv := fresh(t)
	a := newNode(t, srv, "a", nodeConfig{})
	b := newNode(t, srv, "b", nodeConfig{manager: manager.Config{HistorySize: 4}})
	pushStream(t, a, "s")
	a.pushN(t, "s", "x", 10)

	first := b.watch(t, "s", 7)
	first2 := b.watch(t, "s", 7)
	a.pushN(t, "s", "y", 5)
	eventually(t, "the first watcher has chunk 15", func() bool { return len(first.ids()) == 8 })
	bounds := func() [2]uint64 {
		f, l, err := b.m.HistoryBounds(context.Background(), "s")
		require.NoError(t, err)
		return [2]uint64{f, l}
	}
	require.Equal(t, [2]uint64{12, 15}, bounds(), "b's copy began after 7 and rolled to its 4 chunks")

	for _, after := range []uint64{0, 2, 9, 11, 13, 15} {
		w := b.watch(t, "s", after)
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			assert.Equal(t, seq(after+1, 15), w.ids())
		})
	}
	late := b.watch(t, "s", 3)
	a.pushN(t, "s", "z", 3)
	require.NoError(t, a.node.CloseStream(context.Background(), "s", "completed"))
	for _, w := range []*watcher{first, first2, late} {
		waitFor(t, "the end", w.ended)
	}
	assert.Equal(t, seq(8, 18), first.ids())
	assert.Equal(t, seq(8, 18), first2.ids())
	assert.Equal(t, seq(4, 18), late.ids())
	for i, ch := range late.chunks() {
		want := []string{"x3", "x4", "x5", "x6", "x7", "x8", "x9", "y0", "y1", "y2", "y3", "y4", "z0", "z1", "z2"}[i]
		require.Equal(t, want, string(ch.Data))
	}

	err := b.node.RegisterClientFrom(context.Background(), "s", newWatcher("beyond"), 19)
	require.ErrorIs(t, err, manager.ErrInvalidAfterID)
	err = b.node.RegisterClientFrom(context.Background(), "nope", newWatcher("nope"), 0)
	require.ErrorIs(t, err, manager.ErrNotFound)
}

// The Redis history is trimmed: a resume from before it is 410 on any replica, as on one.
func TestNodeResumeTrimmed(t *testing.T) {
	srv := fresh(t)
	a := newNode(t, srv, "a", nodeConfig{store: cluster.Config{HistorySize: 5}})
	b := newNode(t, srv, "b", nodeConfig{store: cluster.Config{HistorySize: 5}, manager: manager.Config{HistorySize: 2}})
	pushStream(t, a, "s")
	a.pushN(t, "s", "x", 10)
	require.ErrorIs(t, b.node.RegisterClientFrom(context.Background(), "s", newWatcher("w1"), 2), manager.ErrHistoryTrimmed)
	w := b.watch(t, "s", 8)
	eventually(t, "b's copy has its chunks", func() bool { return len(w.ids()) == 2 })
	require.ErrorIs(t, b.node.RegisterClientFrom(context.Background(), "s", newWatcher("w2"), 4), manager.ErrHistoryTrimmed,
		"before the copy's first chunk and before Redis's")
	assert.Equal(t, seq(6, 10), b.watch(t, "s", 5).ids(), "before the copy's, within Redis's")
	assert.Equal(t, seq(9, 10), w.ids())
}

// DELETE through a replica that does not own the stream reaches the owner (its producer sees
// Done, as the upstream runner does) and ends the stream for every subscriber on every replica.
func TestNodeDeleteThroughANonOwner(t *testing.T) {
	srv := fresh(t)
	a, b, c := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{}), newNode(t, srv, "c", nodeConfig{})
	ctx := context.Background()
	_, err := a.node.CreateStreamWith(ctx, manager.StreamOptions{ID: "gen"})
	require.NoError(t, err)
	done, err := a.node.Done(ctx, "gen")
	require.NoError(t, err)
	produced := make(chan int, 1)
	go func() { // a generation: PushChunk until the stream is stopped, as upstream.Runner does
		n := 0
		for {
			select {
			case <-done:
				produced <- n
				return
			case <-time.After(time.Millisecond):
			}
			if err := a.node.PushChunk(ctx, "gen", manager.Chunk{Data: []byte("t")}); err != nil {
				assert.True(t, manager.IsGone(err), "%v", err)
			}
			n++
		}
	}()
	watchers := []*watcher{a.watch(t, "gen", 0), b.watch(t, "gen", 0), c.watch(t, "gen", 0), c.watch(t, "gen", 0)}
	eventually(t, "chunks flow to c", func() bool { return len(watchers[3].ids()) >= 5 })

	require.NoError(t, b.node.CloseStream(ctx, "gen", "deleted"))
	waitFor(t, "the owner's producer saw the stop", done)
	<-produced
	eventually(t, "the stop reached the owner over its control channel", func() bool {
		return strings.Count(a.logs.String(), "stop requested by another replica") == 1
	})
	info, err := b.node.Info(ctx, "gen")
	require.NoError(t, err)
	assert.Equal(t, manager.StatusCompleted, info.Status)
	assert.Equal(t, "deleted", info.CloseReason)
	for _, w := range watchers {
		waitFor(t, w.id+" ended", w.ended)
		assert.Equal(t, seq(1, info.LastChunkID), w.ids(), w.id)
		assert.Equal(t, manager.ClosedError{StreamID: "gen", Reason: "deleted", Status: manager.StatusCompleted}, w.closed())
	}
	require.ErrorIs(t, a.node.PushChunk(ctx, "gen", manager.Chunk{Data: []byte("late")}), manager.ErrClosed)
	require.NoError(t, c.node.CloseStream(ctx, "gen", "again"), "closing a closed stream does nothing")
}

// An error that terminates, sent through a non-owner, ends the stream with its error chunk for
// everyone; one that does not terminate is a chunk like any other.
func TestNodeStreamErrorThroughANonOwner(t *testing.T) {
	srv := fresh(t)
	a, b := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{})
	ctx := context.Background()
	pushStream(t, a, "s")
	wa, wb := a.watch(t, "s", 0), b.watch(t, "s", 0)
	a.pushN(t, "s", "x", 2)
	warn := &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "slow down"}
	require.NoError(t, b.node.HandleStreamError(ctx, "s", warn, false))
	fatal := &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "boom"}
	require.NoError(t, b.node.HandleStreamError(ctx, "s", fatal, true))
	for _, w := range []*watcher{wa, wb} {
		waitFor(t, w.id+" ended", w.ended)
		chs := w.chunks()
		require.Equal(t, seq(1, 4), w.ids())
		assert.Equal(t, warn, chs[2].Err)
		assert.Equal(t, "error", chs[2].Event)
		assert.JSONEq(t, `{"error":{"code":500,"message":"boom","status":"INTERNAL"}}`, string(chs[3].Data))
		assert.Equal(t, manager.ClosedError{StreamID: "s", Reason: "Stream terminated due to error: boom", Status: manager.StatusError, Err: fatal}, w.closed())
	}
	require.ErrorIs(t, b.node.HandleStreamError(ctx, "s", fatal, true), manager.ErrClosed)
	require.ErrorIs(t, a.node.HandleStreamError(ctx, "s", fatal, true), manager.ErrClosed)
}

// An owner killed mid-stream (no lease refresh, no cleanup): its streams end for the subscribers
// on the other replicas with the 503 chunk the sweep writes, within lease + 1s.
func TestNodeOwnerKilled(t *testing.T) {
	srv := fresh(t)
	const lease = 500 * time.Millisecond
	cfg := nodeConfig{store: cluster.Config{Lease: lease}}
	a, b, c := newNode(t, srv, "a", cfg), newNode(t, srv, "b", cfg), newNode(t, srv, "c", cfg)
	ctx := context.Background()
	pushStream(t, a, "s")
	_, err := a.node.CreateStreamWith(ctx, manager.StreamOptions{ID: "unwatched"})
	require.NoError(t, err)
	wb, wc := b.watch(t, "s", 0), c.watch(t, "s", 0)
	a.pushN(t, "s", "x", 3)
	eventually(t, "c has the chunks", func() bool { return len(wc.ids()) == 3 })

	killed := time.Now()
	a.node.Kill()
	lost := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "replica a lost"}
	for _, w := range []*watcher{wb, wc} {
		waitFor(t, w.id+" ended", w.ended)
		assert.LessOrEqual(t, time.Since(killed), lease+time.Second, "ended within lease + 1s")
		require.Equal(t, seq(1, 4), w.ids())
		assert.Equal(t, lost, w.chunks()[3].Err)
		assert.Equal(t, manager.ClosedError{StreamID: "s", Reason: "Stream terminated due to error: replica a lost", Status: manager.StatusError, Err: lost}, w.closed())
	}
	eventually(t, "the unwatched stream ended too", func() bool {
		info, err := b.node.Info(ctx, "unwatched")
		return err == nil && info.Status == manager.StatusError
	})
}

// Redis stopped mid-stream: the owner's next chunk cannot be appended, so its local subscribers
// get a 503 error chunk and the end (never a silent gap), and the other replica's subscriber an
// end with 503 once the restarted (empty) Redis says the stream is gone. After the restart new
// streams work on the same Nodes.
func TestNodeRedisStoppedMidStream(t *testing.T) {
	srv := clustertest.StartT(t)
	cfg := nodeConfig{store: cluster.Config{Lease: testLease}}
	a, b := newNode(t, srv, "a", cfg), newNode(t, srv, "b", cfg)
	ctx := context.Background()
	_, err := a.node.CreateStreamWith(ctx, manager.StreamOptions{ID: "gen"})
	require.NoError(t, err)
	wa, wb := a.watch(t, "gen", 0), b.watch(t, "gen", 0)
	require.NoError(t, a.node.PushChunk(ctx, "gen", manager.Chunk{Data: []byte("one")}))
	eventually(t, "b has chunk 1", func() bool { return len(wb.ids()) == 1 })

	require.NoError(t, srv.Stop())
	require.NoError(t, a.node.PushChunk(ctx, "gen", manager.Chunk{Data: []byte("lost")}), "queued; it fails on its way to Redis")
	waitFor(t, "a's subscriber ended", wa.ended)
	chs := wa.chunks()
	require.Equal(t, []uint64{1, 2}, wa.ids())
	assert.Equal(t, "one", string(chs[0].Data))
	assert.Equal(t, 503, chs[1].Err.Code)
	assert.Equal(t, "UNAVAILABLE", chs[1].Err.Status)
	assert.Equal(t, manager.StatusError, wa.closed().Status)
	require.ErrorIs(t, a.node.PushChunk(ctx, "gen", manager.Chunk{Data: []byte("after")}), manager.ErrClosed)
	_, err = a.node.CreateStreamWith(ctx, manager.StreamOptions{})
	require.ErrorIs(t, err, cluster.ErrUnavailable)

	require.NoError(t, srv.Restart())
	waitFor(t, "b's subscriber ended", wb.ended)
	assert.Equal(t, []uint64{1}, wb.ids())
	assert.Equal(t, manager.StatusError, wb.closed().Status)
	assert.Equal(t, 503, wb.closed().Err.Code, "an end the subscriber can tell from a completion")

	var id string
	eventually(t, "new streams work again", func() bool {
		id, err = a.node.CreateStreamWith(ctx, manager.StreamOptions{})
		return err == nil
	})
	w := newWatcher("b-new")
	eventually(t, "b serves again", func() bool { return b.node.RegisterClientFrom(ctx, id, w, 0) == nil })
	require.NoError(t, a.node.PushChunk(ctx, id, manager.Chunk{Data: []byte("back")}))
	eventually(t, "b gets the new stream's chunk", func() bool { return len(w.ids()) == 1 })
	assert.Equal(t, "back", string(w.chunks()[0].Data))
}

// The owner enforces the manager's inactivity timeout for the whole cluster.
func TestNodeOwnerEndsAnInactiveStream(t *testing.T) {
	srv := fresh(t)
	a := newNode(t, srv, "a", nodeConfig{manager: manager.Config{InactivityTimeout: 200 * time.Millisecond}})
	b := newNode(t, srv, "b", nodeConfig{})
	pushStream(t, a, "s")
	w := b.watch(t, "s", 0)
	waitFor(t, "the inactive stream ended", w.ended)
	require.Equal(t, []uint64{1}, w.ids())
	se := &manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "no chunk for 200ms"}
	assert.Equal(t, se, w.chunks()[0].Err)
	assert.Equal(t, manager.ClosedError{StreamID: "s", Reason: "Stream terminated due to error: no chunk for 200ms", Status: manager.StatusError, Err: se}, w.closed())
}

// One live subscription per stream with local subscribers, however many; the copy outlives its
// last subscriber for CacheTTL, then goes with its subscription.
func TestNodeOneSubscriptionPerStreamAndTheCache(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	rc := inspect(t, srv)
	a := newNode(t, srv, "a", nodeConfig{})
	b := newNode(t, srv, "b", nodeConfig{node: cluster.NodeConfig{CacheTTL: 300 * time.Millisecond}})
	pushStream(t, a, "s")
	subscribers := func() int64 {
		r, err := do(t, rc, "PUBSUB", "SHARDNUMSUB", cluster.LiveChannel("s")).ToArray()
		require.NoError(t, err)
		n, err := r[1].AsInt64()
		require.NoError(t, err)
		return n
	}
	require.Equal(t, int64(1), subscribers(), "the owner follows its stream")
	var ws []*watcher
	for range 5 {
		ws = append(ws, b.watch(t, "s", 0))
	}
	require.Equal(t, int64(2), subscribers(), "b holds one subscription for its five subscribers")
	info, err := b.node.Info(ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, 5, info.Clients, "b counts its own clients")
	for _, w := range ws {
		require.NoError(t, b.node.DeregisterClient(ctx, "s", w.ID()))
	}
	_, err = b.m.Info(ctx, "s")
	require.NoError(t, err, "the copy is cached")
	w := b.watch(t, "s", 0)
	require.NoError(t, b.node.DeregisterClient(ctx, "s", w.ID()))
	eventually(t, "the cached copy expired", func() bool {
		_, err := b.m.Info(ctx, "s")
		return errors.Is(err, manager.ErrNotFound)
	})
	eventually(t, "its subscription went with it", func() bool { return subscribers() == 1 })
	a.pushN(t, "s", "x", 2)
	w = b.watch(t, "s", 0)
	eventually(t, "a new copy comes with the next subscriber", func() bool { return len(w.ids()) == 2 })
	assert.Equal(t, seq(1, 2), w.ids())
}

// CacheSize bounds the copies kept without subscribers: the least recently left goes first.
func TestNodeCacheSize(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a := newNode(t, srv, "a", nodeConfig{})
	b := newNode(t, srv, "b", nodeConfig{node: cluster.NodeConfig{CacheSize: 2, CacheTTL: time.Hour}})
	for i := range 3 {
		id := fmt.Sprint("s", i)
		pushStream(t, a, id)
		w := b.watch(t, id, 0)
		require.NoError(t, b.node.DeregisterClient(ctx, id, w.ID()))
	}
	_, err := b.m.Info(ctx, "s0")
	require.ErrorIs(t, err, manager.ErrNotFound, "s0 left first and went first")
	for _, id := range []string{"s1", "s2"} {
		_, err := b.m.Info(ctx, id)
		require.NoError(t, err, id)
	}
}

func TestNodeCreateErrors(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a := newNode(t, srv, "a", nodeConfig{store: cluster.Config{MaxStreams: 2}})
	b := newNode(t, srv, "b", nodeConfig{store: cluster.Config{MaxStreams: 2}, manager: manager.Config{Quotas: map[string]manager.Quota{"t": {MaxStreams: 1}}}})
	pushStream(t, a, "s")
	_, err := b.node.CreateStreamWith(ctx, manager.StreamOptions{ID: "s"})
	require.ErrorIs(t, err, manager.ErrExists, "IDs are one namespace across replicas")
	_, err = a.node.CreateStreamWith(ctx, manager.StreamOptions{ID: "s"})
	require.ErrorIs(t, err, manager.ErrExists)
	_, err = b.node.CreateStreamWith(ctx, manager.StreamOptions{ID: "a b"})
	require.ErrorIs(t, err, manager.ErrInvalidID)
	_, err = b.node.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "t"}})
	require.NoError(t, err)
	_, err = b.node.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: "t"}})
	require.ErrorIs(t, err, manager.ErrTooManyStreams, "the tenant's quota holds across the cluster")
	_, err = b.node.CreateStreamWith(ctx, manager.StreamOptions{})
	require.ErrorIs(t, err, manager.ErrTooManyStreams, "max streams holds across the cluster")

	infos, err := b.node.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "s", infos[0].ID)
	require.NoError(t, a.node.CloseStream(ctx, "s", "completed"))
	_, err = b.node.CreateStreamWith(ctx, manager.StreamOptions{})
	require.NoError(t, err, "a closed stream frees its slot cluster-wide")
}

func TestNodeConfigValidation(t *testing.T) {
	srv := fresh(t)
	s, _ := newStore(t, srv, "a", cluster.Config{})
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	defer func() { _ = m.Shutdown(context.Background()) }()
	for name, cfg := range map[string]cluster.NodeConfig{
		"no store":       {Manager: m},
		"no manager":     {Store: s},
		"negative cache": {Store: s, Manager: m, CacheSize: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cluster.NewNode(context.Background(), cfg)
			require.ErrorIs(t, err, cluster.ErrInvalidConfig)
		})
	}
}

// A Node closed gracefully ends the streams it owns with "shutting down" for every replica, and
// lets go of its copies of the others' streams: their local clients learn they must go elsewhere.
func TestNodeCloseGracefully(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, b := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{})
	pushStream(t, a, "mine")
	pushStream(t, b, "theirs")
	wMine, wTheirs := b.watch(t, "mine", 0), a.watch(t, "theirs", 0)
	require.NoError(t, a.node.Close(ctx))

	waitFor(t, "mine ended on b", wMine.ended)
	shutdown := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "shutting down"}
	assert.Equal(t, manager.ClosedError{StreamID: "mine", Reason: "shutting down", Status: manager.StatusError, Err: shutdown}, wMine.closed())
	waitFor(t, "a let go of theirs", wTheirs.ended)
	assert.Equal(t, manager.ClosedError{StreamID: "theirs", Reason: "shutting down", Status: manager.StatusError, Err: shutdown}, wTheirs.closed())
	info, err := b.node.Info(ctx, "theirs")
	require.NoError(t, err)
	assert.Equal(t, manager.StatusActive, info.Status, "b's stream goes on")
	_, err = a.node.CreateStreamWith(ctx, manager.StreamOptions{})
	require.ErrorIs(t, err, manager.ErrShutdown)
}
