package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/cluster/clustertest"
	"github.com/streamgate/streamgate/manager"
)

// Redis stopped and started again (empty: the test server keeps nothing on disk): while it is
// down every operation fails with ErrUnavailable at once; once it is back the same Store takes a
// new lease, serves new streams, its live subscriptions resync, and a follower of a stream the
// restart lost ends with an error.
func TestRedisStoppedAndRestarted(t *testing.T) {
	srv := clustertest.StartT(t)
	ctx := context.Background()
	lost := make(chan struct{}, 1)
	s, logs := newStore(t, srv, "a", cluster.Config{Lease: testLease, OnLeaseLost: func() { lost <- struct{}{} }})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "before"})
	require.NoError(t, err)
	got := &collector{}
	del, err := s.Subscribe(ctx, "before", got.add)
	require.NoError(t, err)
	defer del()
	followedBefore := follow(t, s, "before", 0)

	require.NoError(t, srv.Stop())
	_, err = s.Append(ctx, "before", manager.Chunk{Data: []byte("lost")})
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	_, err = s.Create(ctx, cluster.CreateOptions{})
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	_, err = s.Info(ctx, "before")
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	_, err = s.ReadRange(ctx, "before", 0, 0)
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	_, err = s.CloseStream(ctx, "before", "completed", nil)
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	_, err = s.Allow(ctx, "k", cluster.Limit{PerSecond: 1, Burst: 1})
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	require.ErrorIs(t, s.Ready(ctx), cluster.ErrUnavailable)
	eventually(t, "the live connection noticed", func() bool {
		_, err := s.Subscribe(ctx, "other", func(cluster.Message) {})
		return err != nil
	})
	_, err = s.Subscribe(ctx, "other", func(cluster.Message) {})
	require.ErrorIs(t, err, cluster.ErrUnavailable)

	require.NoError(t, srv.Restart())
	waitFor(t, "OnLeaseLost: the restarted Redis had lost the lease with everything else", lost)
	eventually(t, "ready again", func() bool { return s.Ready(ctx) == nil })
	eventually(t, "the live subscription resynced", func() bool { return got.count(cluster.MessageResync) == 1 })
	assert.Contains(t, logs.String(), "live subscription connection lost; reconnecting")
	waitFor(t, "the follower of a stream Redis lost ended", followedBefore.ended)
	require.ErrorIs(t, followedBefore.err, manager.ErrNotFound, "a lost stream is an error, never a silent end")

	_, err = s.Create(ctx, cluster.CreateOptions{ID: "after"})
	require.NoError(t, err)
	after := &collector{}
	del2, err := s.Subscribe(ctx, "after", after.add)
	require.NoError(t, err)
	defer del2()
	id, err := s.Append(ctx, "after", manager.Chunk{Data: []byte("back")})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), id)
	eventually(t, "live delivery after the restart", func() bool { return after.count(cluster.MessageChunk) == 1 })
}
