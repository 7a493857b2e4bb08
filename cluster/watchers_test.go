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

// A stream is watched while any replica has a non-passive client of it, wherever it is owned:
// each Node marks it when its first one comes and unmarks it when its last one leaves, marks it
// again under a new lease epoch, and a dead replica's mark stops counting with its lease.
func TestNodeWatchedAcrossReplicas(t *testing.T) {
	srv := fresh(t)
	const lease = 500 * time.Millisecond
	cfg := nodeConfig{store: cluster.Config{Lease: lease}, node: cluster.NodeConfig{CacheTTL: 200 * time.Millisecond}}
	a, b, c := newNode(t, srv, "a", cfg), newNode(t, srv, "b", cfg), newNode(t, srv, "c", cfg)
	ctx := context.Background()
	pushStream(t, a, "s")
	inspector := inspect(t, srv)
	watched := func(rn *replicaNode) bool {
		t.Helper()
		w, err := rn.node.Watched(ctx, "s")
		require.NoError(t, err)
		return w
	}
	marks := func() map[string]string {
		t.Helper()
		h, err := do(t, inspector, "HGETALL", cluster.MetaKey("s")).AsStrMap()
		require.NoError(t, err)
		out := map[string]string{}
		for _, n := range []string{"a", "b", "c"} {
			if v, ok := h["w:"+n]; ok {
				out[n] = v
			}
		}
		return out
	}
	require.False(t, watched(a))

	audit := passiveWatcher{newWatcher("a-audit")}
	require.NoError(t, a.node.RegisterClientFrom(ctx, "s", audit, 0))
	require.False(t, watched(b), "a passive client is nobody watching")

	wa := a.watch(t, "s", 0)
	b.watch(t, "s", 0)
	wc1, wc2 := c.watch(t, "s", 0), c.watch(t, "s", 0)
	require.Equal(t, map[string]string{"a": a.store.Epoch(), "b": b.store.Epoch(), "c": c.store.Epoch()}, marks())
	for _, rn := range []*replicaNode{a, b, c} {
		require.True(t, watched(rn), "asked of %s", rn.name)
	}
	require.NoError(t, a.node.DeregisterClient(ctx, "s", wa.ID()))
	require.NoError(t, c.node.DeregisterClient(ctx, "s", wc1.ID()))
	require.Equal(t, map[string]string{"b": b.store.Epoch(), "c": c.store.Epoch()}, marks(), "c has one left")
	require.NoError(t, c.node.DeregisterClient(ctx, "s", wc2.ID()))
	require.Equal(t, map[string]string{"b": b.store.Epoch()}, marks())
	require.True(t, watched(a), "b's is left")

	// b's lease lapses (its key is gone) and b takes a new epoch: its mark is written again
	// under it, without a join or a leave.
	old := b.store.Epoch()
	require.Equal(t, int64(1), doInt(t, inspector, "DEL", cluster.LeaseKey("b")))
	eventually(t, "b took a new epoch", func() bool { e := b.store.Epoch(); return e != "" && e != old })
	eventually(t, "b marked the stream again", func() bool { return marks()["b"] == b.store.Epoch() })
	require.True(t, watched(a))

	b.node.Kill()
	eventually(t, "b's lease lapsed", func() bool { return !watched(a) })

	_, err := a.node.Watched(ctx, "nope")
	require.ErrorIs(t, err, manager.ErrNotFound)
}

// A mark written after the stream closed changes nothing, and one for a stream Redis no longer
// keeps does not bring its meta back.
func TestStoreWatchedOfAClosedStream(t *testing.T) {
	srv := fresh(t)
	s, _ := newStore(t, srv, "a", cluster.Config{})
	ctx := context.Background()
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "s"})
	require.NoError(t, err)
	epoch, err := s.SetWatched(ctx, "s", true)
	require.NoError(t, err)
	require.Equal(t, s.Epoch(), epoch)
	w, err := s.Watched(ctx, "s")
	require.NoError(t, err)
	require.True(t, w)
	_, err = s.CloseStream(ctx, "s", manager.ReasonCompleted, nil)
	require.NoError(t, err)
	_, err = s.SetWatched(ctx, "s", false)
	require.NoError(t, err)
	c := inspect(t, srv)
	got, err := do(t, c, "HGET", cluster.MetaKey("s"), "w:a").ToString()
	require.NoError(t, err)
	require.Equal(t, s.Epoch(), got)
	_, err = s.SetWatched(ctx, "gone", true)
	require.NoError(t, err)
	require.Equal(t, int64(0), doInt(t, c, "EXISTS", cluster.MetaKey("gone")))
}

// While a replica holds no lease (another process took its node ID), no mark can be written:
// the janitor waits for a new epoch instead of logging a failed write per copy per tick, and
// writes the mark under that epoch once it comes.
func TestNodeRewatchWaitsForALease(t *testing.T) {
	srv := fresh(t)
	const lease = 500 * time.Millisecond
	obs := &recorder{}
	a := newNode(t, srv, "a", nodeConfig{store: cluster.Config{Lease: lease}})
	b := newNode(t, srv, "b", nodeConfig{store: cluster.Config{Lease: lease, Observer: obs},
		node: cluster.NodeConfig{CacheTTL: 200 * time.Millisecond}})
	pushStream(t, a, "s")
	b.watch(t, "s", 0)
	inspector := inspect(t, srv)

	do(t, inspector, "SET", cluster.LeaseKey("b"), "someone-else", "PX", "60000")
	eventually(t, "b has no lease", func() bool { return b.store.Epoch() == "" })
	eventually(t, "b's lease loop failed twice more, many janitor ticks", func() bool { return obs.get().failed >= 3 })
	require.NotContains(t, b.logs.String(), "watched not written to the cluster store")

	do(t, inspector, "DEL", cluster.LeaseKey("b"))
	eventually(t, "b took a new epoch", func() bool { return b.store.Epoch() != "" })
	eventually(t, "b marked the stream under it", func() bool {
		mark, err := do(t, inspector, "HGET", cluster.MetaKey("s"), "w:b").ToString()
		return err == nil && mark == b.store.Epoch()
	})
}
