package manager_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func nextN(t *testing.T, sub *manager.Subscription, n int) []uint64 {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ids []uint64
	for range n {
		ch, err := sub.Next(c)
		require.NoError(t, err)
		ids = append(ids, ch.ID)
	}
	return ids
}

// TestSubscribeReplaysThenLiveThenClosedError runs in a synctest bubble so that the live chunks
// are pushed only once Next is blocked waiting for them, without a sleep to order the two.
func TestSubscribeReplaysThenLiveThenClosedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{})
		id := newStream(t, m)
		push(t, m, id, "1", "2", "3")
		sub, err := m.Subscribe(ctx, id, 1)
		require.NoError(t, err)
		require.Equal(t, []uint64{2, 3}, nextN(t, sub, 2))

		go func() {
			synctest.Wait() // until Next below waits on an empty queue
			_ = m.PushChunk(ctx, id, manager.Chunk{Data: []byte("4")})
			_ = m.HandleStreamError(ctx, id, &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "gone"}, true)
		}()
		require.Equal(t, []uint64{4, 5}, nextN(t, sub, 2))
		require.Equal(t, uint64(5), sub.LastID())

		_, err = sub.Next(ctx)
		var ce *manager.ClosedError
		require.ErrorAs(t, err, &ce)
		require.ErrorIs(t, err, manager.ErrClosed)
		require.Equal(t, id, ce.StreamID)
		require.Equal(t, "Stream terminated due to error: gone", ce.Reason)
		require.Equal(t, manager.StatusError, ce.Status)
		require.Equal(t, 503, ce.Err.Code)
		_, err = sub.Next(ctx)
		require.ErrorAs(t, err, &ce, "the end is sticky")
		require.NoError(t, sub.Close())
	})
}

func TestSubscribeErrors(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistorySize: 2})
	_, err := m.Subscribe(ctx, "nope", 0)
	require.ErrorIs(t, err, manager.ErrNotFound)
	id := newStream(t, m)
	push(t, m, id, "1", "2", "3")
	_, err = m.Subscribe(ctx, id, 0)
	require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
	_, err = m.Subscribe(ctx, id, 4)
	require.ErrorIs(t, err, manager.ErrInvalidAfterID)
}

func TestSubscribeToClosedStream(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	push(t, m, id, "1", "2")
	require.NoError(t, m.CloseStream(ctx, id, "completed"))
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2}, nextN(t, sub, 2))
	_, err = sub.Next(ctx)
	var ce *manager.ClosedError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, manager.StatusCompleted, ce.Status)
	require.Equal(t, "completed", ce.Reason)
	require.Nil(t, ce.Err)
}

func TestSubscriptionCloseUnsubscribes(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	require.NotEmpty(t, sub.ID())
	n, err := m.ClientCount(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, sub.Close())
	require.NoError(t, sub.Close())
	n, err = m.ClientCount(ctx, id)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestSubscriptionNextHonoursContext(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	defer sub.Close()
	c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = sub.Next(c)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestSlowSubscription(t *testing.T) {
	m, _ := newManager(t, manager.Config{SubscriptionQueue: 2})
	id := newStream(t, m)
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	push(t, m, id, "1", "2", "3", "4")
	require.Equal(t, []uint64{1, 2}, nextN(t, sub, 2))
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, manager.ErrSlowClient)
	require.False(t, errors.Is(err, manager.ErrClosed))

	again, err := m.Subscribe(ctx, id, sub.LastID())
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, []uint64{3, 4}, nextN(t, again, 2))
}
