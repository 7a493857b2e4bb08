package manager_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

func TestShutdownClosesStreamsAndWaitsForDrain(t *testing.T) {
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	a, err := m.CreateStream(ctx, "a")
	require.NoError(t, err)
	b, err := m.CreateStream(ctx, "b")
	require.NoError(t, err)

	r := newRecorder("r")
	require.NoError(t, m.RegisterClient(ctx, a, r))
	s := &sink{}
	qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, b, qc))
	push(t, m, b, "1", "2")
	wait := run(t, qc, ctx)

	require.NoError(t, m.Shutdown(ctx))
	require.NoError(t, wait())
	reason, _ := r.closedWith()
	require.Equal(t, "shutting down", reason)
	require.Equal(t, "shutting down", s.reason)
	require.Equal(t, seq(1, 2), s.ids(), "queued chunks were drained before Shutdown returned")

	require.NoError(t, m.Shutdown(ctx), "twice is fine")
	_, err = m.CreateStream(ctx, "")
	require.ErrorIs(t, err, manager.ErrShutdown)
	require.ErrorIs(t, m.PushChunk(ctx, a, manager.Chunk{}), manager.ErrShutdown)
	require.ErrorIs(t, m.RegisterClient(ctx, a, newRecorder("x")), manager.ErrShutdown)
	require.ErrorIs(t, m.RegisterClientFrom(ctx, a, newRecorder("x"), 0), manager.ErrShutdown)
	require.ErrorIs(t, m.DeregisterClient(ctx, a, "r"), manager.ErrShutdown)
	require.ErrorIs(t, m.CloseStream(ctx, a, "x"), manager.ErrShutdown)
	require.ErrorIs(t, m.HandleStreamError(ctx, a, errors.New("x"), true), manager.ErrShutdown)
	_, err = m.ActiveStreamIDs(ctx)
	require.ErrorIs(t, err, manager.ErrShutdown)
	_, err = m.ClientCount(ctx, a)
	require.ErrorIs(t, err, manager.ErrShutdown)
	_, err = m.Info(ctx, a)
	require.ErrorIs(t, err, manager.ErrShutdown)
	_, err = m.List(ctx)
	require.ErrorIs(t, err, manager.ErrShutdown)
	_, err = m.Subscribe(ctx, a, 0)
	require.ErrorIs(t, err, manager.ErrShutdown)
	_, err = m.Done(ctx, a)
	require.ErrorIs(t, err, manager.ErrShutdown)
}

func TestShutdownGivesUpWhenContextEnds(t *testing.T) {
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	id, err := m.CreateStream(ctx, "")
	require.NoError(t, err)
	s := &sink{block: make(chan struct{})}
	qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	push(t, m, id, "1")
	runCtx, stop := context.WithCancel(ctx)
	wait := run(t, qc, runCtx)

	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err = m.Shutdown(c)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "1 of 1 clients not drained")
	stop()
	require.ErrorIs(t, wait(), context.Canceled)
}

func TestShutdownEndsSubscriptions(t *testing.T) {
	m, err := manager.New(manager.Config{})
	require.NoError(t, err)
	id, err := m.CreateStream(ctx, "")
	require.NoError(t, err)
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := sub.Next(ctx)
		done <- err
	}()
	require.NoError(t, m.Shutdown(ctx))
	var ce *manager.ClosedError
	require.ErrorAs(t, <-done, &ce)
	require.Equal(t, "shutting down", ce.Reason)
	require.Equal(t, manager.StatusError, ce.Status)
	require.Equal(t, "UNAVAILABLE", ce.Err.Status)
}
