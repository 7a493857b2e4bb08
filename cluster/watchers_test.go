package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

// passiveWatcher is a watcher that only observes, as a transport attached by configuration.
type passiveWatcher struct{ *watcher }

func (passiveWatcher) Passive() bool { return true }

// Every replica's non-passive clients of a stream count, wherever the stream is owned: each Node
// writes its own count as it changes, and a replica whose lease lapsed stops counting.
func TestNodeWatchersAcrossReplicas(t *testing.T) {
	srv := fresh(t)
	const lease = 500 * time.Millisecond
	cfg := nodeConfig{store: cluster.Config{Lease: lease}}
	a, b, c := newNode(t, srv, "a", cfg), newNode(t, srv, "b", cfg), newNode(t, srv, "c", cfg)
	ctx := context.Background()
	pushStream(t, a, "s")
	count := func(rn *replicaNode) int {
		t.Helper()
		n, err := rn.node.Watchers(ctx, "s")
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 0, count(a))

	audit := passiveWatcher{newWatcher("a-audit")}
	require.NoError(t, a.node.RegisterClientFrom(ctx, "s", audit, 0))
	require.Equal(t, 0, count(b), "a passive client is nobody watching")

	wa := a.watch(t, "s", 0)
	b.watch(t, "s", 0)
	wc1, wc2 := c.watch(t, "s", 0), c.watch(t, "s", 0)
	for _, rn := range []*replicaNode{a, b, c} {
		require.Equal(t, 4, count(rn), "asked of %s", rn.name)
	}
	require.NoError(t, a.node.DeregisterClient(ctx, "s", wa.ID()))
	require.Equal(t, 3, count(b))
	require.NoError(t, c.node.DeregisterClient(ctx, "s", wc1.ID()))
	require.NoError(t, c.node.DeregisterClient(ctx, "s", wc2.ID()))
	require.Equal(t, 1, count(a), "b's is left")

	b.node.Kill()
	eventually(t, "b's lease lapsed", func() bool { return count(a) == 0 })

	_, err := a.node.Watchers(ctx, "nope")
	require.ErrorIs(t, err, manager.ErrNotFound)
}

// A count written after the stream closed changes nothing, and one for a stream Redis no longer
// keeps does not bring its meta back.
func TestStoreWatchersOfAClosedStream(t *testing.T) {
	srv := fresh(t)
	s, _ := newStore(t, srv, "a", cluster.Config{})
	ctx := context.Background()
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "s"})
	require.NoError(t, err)
	require.NoError(t, s.SetWatchers(ctx, "s", 2))
	n, err := s.Watchers(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = s.CloseStream(ctx, "s", manager.ReasonCompleted, nil)
	require.NoError(t, err)
	require.NoError(t, s.SetWatchers(ctx, "s", 3))
	c := inspect(t, srv)
	got, err := do(t, c, "HGET", cluster.MetaKey("s"), "w:a").ToString()
	require.NoError(t, err)
	require.Equal(t, "2 "+s.Epoch(), got)
	require.NoError(t, s.SetWatchers(ctx, "gone", 1))
	require.Equal(t, int64(0), doInt(t, c, "EXISTS", cluster.MetaKey("gone")))
}
