package manager_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// Many goroutines push while clients register from random points: every client must see a
// gap-free, duplicate-free sequence from its starting point to the last chunk.
func TestReplayRacesPushes(t *testing.T) {
	const pushers, perPusher, clients = 8, 500, 64
	const total = pushers * perPusher
	m, _ := newManager(t, manager.Config{HistorySize: total})
	id := newStream(t, m)

	var wg sync.WaitGroup
	for range pushers {
		wg.Go(func() {
			for range perPusher {
				if err := m.PushChunk(ctx, id, manager.Chunk{Data: []byte("x")}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	type joined struct {
		r     *recorder
		after uint64
	}
	results := make(chan joined, clients)
	for i := range clients {
		wg.Go(func() {
			r := newRecorder(fmt.Sprint("c", i))
			info, err := m.Info(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			after := uint64(0)
			if info.LastChunkID > 0 {
				after = rand.Uint64N(info.LastChunkID + 1)
			}
			if err := m.RegisterClientFrom(ctx, id, r, after); err != nil {
				t.Error(err)
				return
			}
			results <- joined{r, after}
		})
	}
	wg.Wait()
	close(results)
	require.NoError(t, m.CloseStream(ctx, id, "completed"))
	n := 0
	for j := range results {
		require.Equal(t, seq(j.after+1, total), j.r.ids(), "client %s from %d", j.r.id, j.after)
		n++
	}
	require.Equal(t, clients, n)
}

// Concurrent pushers and a queued client: the client sees the exact push order.
func TestQueuedClientUnderConcurrentPushes(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	id := newStream(t, m)
	s := &sink{}
	qc, err := manager.NewQueuedClient("q", s, manager.QueueConfig{Size: 1 << 16})
	require.NoError(t, err)
	require.NoError(t, m.RegisterClient(ctx, id, qc))
	wait := run(t, qc, ctx)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if err := m.PushChunk(ctx, id, manager.Chunk{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, m.CloseStream(ctx, id, "completed"))
	require.NoError(t, wait())
	require.Equal(t, seq(1, 4000), s.ids())
}

// Creates race for the last slots: however they interleave outside Manager.mu, exactly as many
// streams are created as the limit allows, the rest are refused with ErrTooManyStreams, and a
// requested ID is won once, the losers leaving no stream counted to their tenant behind.
func TestCreatesRaceForTheLastSlots(t *testing.T) {
	const creates, limit = 16, 5
	tenantA := map[string]string{manager.LabelTenant: "a"}
	for _, tc := range []struct {
		name   string
		cfg    manager.Config
		opts   manager.StreamOptions
		won    int
		refuse error
	}{
		{"max streams", manager.Config{MaxConcurrentStreams: limit}, manager.StreamOptions{Labels: tenantA}, limit, manager.ErrTooManyStreams},
		{"tenant max streams", manager.Config{DefaultQuota: manager.Quota{MaxStreams: limit}}, manager.StreamOptions{Labels: tenantA}, limit, manager.ErrTooManyStreams},
		{"one requested ID", manager.Config{}, manager.StreamOptions{ID: "wanted", Labels: tenantA}, 1, manager.ErrExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager(t, tc.cfg)
			errs := make(chan error, creates)
			var wg sync.WaitGroup
			for range creates {
				wg.Go(func() {
					_, err := m.CreateStreamWith(ctx, tc.opts)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			won := 0
			for err := range errs {
				if err == nil {
					won++
					continue
				}
				require.ErrorIs(t, err, tc.refuse)
			}
			require.Equal(t, tc.won, won)
			require.Equal(t, manager.Usage{Streams: tc.won}, usage(t, m))
			tenant, err := m.TenantUsage(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, manager.Usage{Streams: tc.won}, tenant)
		})
	}
}
