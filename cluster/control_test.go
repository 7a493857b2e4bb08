package cluster_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
)

// A node's control channel carries requests from any replica to that node only; what it cannot
// read is logged and dropped.
func TestControlChannel(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	rc := inspect(t, srv)
	a, logs := newStore(t, srv, "a", cluster.Config{})
	b, _ := newStore(t, srv, "b", cluster.Config{})
	var mu sync.Mutex
	var got []cluster.Control
	del, err := a.SubscribeControl(ctx, func(c cluster.Control) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	})
	require.NoError(t, err)
	received := func() []cluster.Control {
		mu.Lock()
		defer mu.Unlock()
		return append([]cluster.Control(nil), got...)
	}

	require.NoError(t, do(t, rc, "SPUBLISH", "sg:{node:a}:ctl", "reboot now").Error())
	require.NoError(t, b.SendControl(ctx, "a", cluster.Control{Kind: cluster.ControlStop, StreamID: "s1"}))
	require.NoError(t, b.SendControl(ctx, "b", cluster.Control{Kind: cluster.ControlStop, StreamID: "not-for-a"}))
	eventually(t, "a got its stop", func() bool { return len(received()) == 1 })
	assert.Equal(t, []cluster.Control{{Kind: cluster.ControlStop, StreamID: "s1"}}, received())
	assert.Contains(t, logs.String(), `undecodable control message; ignored`)

	del()
	eventually(t, "unsubscribed", func() bool {
		r, err := do(t, rc, "PUBSUB", "SHARDNUMSUB", "sg:{node:a}:ctl").ToArray()
		require.NoError(t, err)
		n, _ := r[1].AsInt64()
		return n == 0
	})
}
