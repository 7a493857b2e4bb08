package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

func TestLiveDelivery(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, _ := newStore(t, srv, "a", cluster.Config{})
	b, _ := newStore(t, srv, "b", cluster.Config{})
	c, _ := newStore(t, srv, "c", cluster.Config{})
	_, err := a.Create(ctx, cluster.CreateOptions{ID: "live"})
	require.NoError(t, err)
	got := &collector{}
	del, err := b.Subscribe(ctx, "live", got.add)
	require.NoError(t, err)
	defer del()

	// Subscribe returned after Redis confirmed it: the very next append is delivered.
	se := &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "oops"}
	_, err = a.Append(ctx, "live", manager.Chunk{Data: []byte(`{"a":1}`)})
	require.NoError(t, err)
	_, err = c.Append(ctx, "live", manager.Chunk{Event: "custom", Data: []byte("two\nlines")})
	require.NoError(t, err)
	_, err = a.Append(ctx, "live", manager.Chunk{Err: se})
	require.NoError(t, err)
	_, err = c.CloseStream(ctx, "live", "completed", nil)
	require.NoError(t, err)

	eventually(t, "the close arrived", func() bool { return got.count(cluster.MessageClosed) == 1 })
	msgs := got.all()
	require.Len(t, msgs, 4)
	for i, want := range []manager.Chunk{
		{ID: 1, Data: []byte(`{"a":1}`)},
		{ID: 2, Event: "custom", Data: []byte("two\nlines")},
		{ID: 3, Event: "error", Data: se.JSON(), Err: se},
	} {
		m := msgs[i]
		require.Equal(t, cluster.MessageChunk, m.Kind)
		assert.False(t, m.Chunk.Time.IsZero())
		m.Chunk.Time = want.Time
		assert.Equal(t, want, m.Chunk)
	}
	assert.Equal(t, cluster.Message{Kind: cluster.MessageClosed, Closed: cluster.Closed{Status: manager.StatusCompleted, Reason: "completed", LastChunkID: 3}}, msgs[3])
}

// clientsNamed counts Redis's client connections opened by one node's Store.
func clientsNamed(t *testing.T, c rueidis.Client, node string) int {
	t.Helper()
	list, err := do(t, c, "CLIENT", "LIST").ToString()
	require.NoError(t, err)
	return strings.Count(list, " name=streamgate:"+node+" ")
}

func shardSubscribers(t *testing.T, c rueidis.Client, channel string) int64 {
	t.Helper()
	r, err := do(t, c, "PUBSUB", "SHARDNUMSUB", channel).ToArray()
	require.NoError(t, err)
	n, err := r[1].AsInt64()
	require.NoError(t, err)
	return n
}

// All of a Store's subscriptions share one connection and one SSUBSCRIBE per stream, however
// many streams and handlers there are.
func TestSubscriptionsMultiplexed(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	c := inspect(t, srv)
	a, _ := newStore(t, srv, "a", cluster.Config{})
	b, _ := newStore(t, srv, "b", cluster.Config{})
	conns := clientsNamed(t, c, "b")
	require.Positive(t, conns)

	const streams = 200
	got := make([][2]*collector, streams)
	var dels []func()
	for i := range streams {
		id := fmt.Sprintf("m%03d", i)
		_, err := a.Create(ctx, cluster.CreateOptions{ID: id})
		require.NoError(t, err)
		for h := range 2 {
			got[i][h] = &collector{}
			del, err := b.Subscribe(ctx, id, got[i][h].add)
			require.NoError(t, err)
			dels = append(dels, del)
		}
		if i%50 == 49 {
			assert.Equal(t, conns, clientsNamed(t, c, "b"), "after %d streams", i+1)
		}
	}
	channels, err := do(t, c, "PUBSUB", "SHARDCHANNELS", "sg:*").AsStrSlice()
	require.NoError(t, err)
	assert.Len(t, channels, streams)
	assert.Equal(t, int64(1), shardSubscribers(t, c, cluster.LiveChannel("m007")), "two handlers, one subscription")

	for i := range streams {
		_, err := a.Append(ctx, fmt.Sprintf("m%03d", i), manager.Chunk{Data: fmt.Appendf(nil, "to %d", i)})
		require.NoError(t, err)
	}
	for i := range streams {
		for h := range 2 {
			eventually(t, "delivery", func() bool { return got[i][h].count(cluster.MessageChunk) == 1 })
			assert.Equal(t, fmt.Sprintf("to %d", i), string(got[i][h].all()[0].Chunk.Data), "each stream's chunk reaches only its handlers")
		}
	}
	assert.Equal(t, conns, clientsNamed(t, c, "b"))

	dels[0]() // one of m000's two handlers
	dels[0]() // a second call does nothing
	assert.Equal(t, int64(1), shardSubscribers(t, c, cluster.LiveChannel("m000")))
	_, err = a.Append(ctx, "m000", manager.Chunk{Data: []byte("second")})
	require.NoError(t, err)
	eventually(t, "delivery to the remaining handler", func() bool { return got[0][1].count(cluster.MessageChunk) == 2 })
	assert.Equal(t, 1, got[0][0].count(cluster.MessageChunk), "a removed handler gets nothing more")
	for _, del := range dels {
		del()
	}
	eventually(t, "every channel unsubscribed", func() bool {
		channels, err := do(t, c, "PUBSUB", "SHARDCHANNELS", "sg:*").AsStrSlice()
		return err == nil && len(channels) == 0
	})
}

// A handler may remove itself from inside its callback, and a stream subscribed again right
// after its last handler left is subscribed.
func TestUnsubscribeFromCallbackAndResubscribe(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, _ := newStore(t, srv, "a", cluster.Config{})
	_, err := a.Create(ctx, cluster.CreateOptions{ID: "self"})
	require.NoError(t, err)
	got := &collector{}
	var del func()
	del, err = a.Subscribe(ctx, "self", func(m cluster.Message) {
		got.add(m)
		del()
	})
	require.NoError(t, err)
	for range 100 {
		again := &collector{}
		_, err = a.Append(ctx, "self", manager.Chunk{Data: []byte("x")})
		require.NoError(t, err)
		del2, err := a.Subscribe(ctx, "self", again.add)
		require.NoError(t, err)
		id, err := a.Append(ctx, "self", manager.Chunk{Data: []byte("y")})
		require.NoError(t, err)
		eventually(t, "delivery after resubscribing", func() bool {
			msgs := again.all()
			return len(msgs) > 0 && msgs[len(msgs)-1].Chunk.ID == id
		})
		del2()
	}
	assert.Len(t, got.all(), 1, "the handler that removed itself got one message")
}
