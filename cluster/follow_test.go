package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

// followed records what a Follower delivered.
type followed struct {
	mu     sync.Mutex
	chunks []manager.Chunk
	closed *cluster.Closed
	err    error
	ends   int
	ended  chan struct{}
}

func newFollowed() *followed { return &followed{ended: make(chan struct{})} }

func (f *followed) handler() cluster.FollowHandler {
	return cluster.FollowHandler{
		Chunk: func(ch manager.Chunk) {
			f.mu.Lock()
			f.chunks = append(f.chunks, ch)
			f.mu.Unlock()
		},
		End: func(closed *cluster.Closed, err error) {
			f.mu.Lock()
			f.closed, f.err = closed, err
			f.ends++
			f.mu.Unlock()
			close(f.ended)
		},
	}
}

func (f *followed) ids() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]uint64, len(f.chunks))
	for i, ch := range f.chunks {
		ids[i] = ch.ID
	}
	return ids
}

func follow(t *testing.T, s *cluster.Store, id string, after uint64) *followed {
	t.Helper()
	got := newFollowed()
	f, err := s.Follow(context.Background(), id, after, got.handler())
	require.NoError(t, err)
	t.Cleanup(f.Close)
	return got
}

// A follower that starts while another replica appends gets every chunk after its resume point
// once, in order, then the close.
func TestFollowStitchesReplayAndLive(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	owner, _ := newStore(t, srv, "owner", cluster.Config{})
	replica, _ := newStore(t, srv, "replica", cluster.Config{})
	_, err := owner.Create(ctx, cluster.CreateOptions{ID: "f"})
	require.NoError(t, err)
	const total = 600
	started := make(chan struct{})
	appended := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			if i == 200 {
				close(started)
			}
			if _, err := owner.Append(ctx, "f", manager.Chunk{Data: []byte(strconv.Itoa(i))}); err != nil {
				appended <- err
				return
			}
		}
		_, err := owner.CloseStream(ctx, "f", "completed", nil)
		appended <- err
	}()
	<-started
	from := follow(t, replica, "f", 0)
	resumed := follow(t, replica, "f", 150)
	require.NoError(t, <-appended)
	waitFor(t, "the followers ended", from.ended)
	waitFor(t, "the followers ended", resumed.ended)

	want := make([]uint64, total)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	assert.Equal(t, want, from.ids())
	assert.Equal(t, want[150:], resumed.ids())
	for _, ch := range from.chunks {
		require.Equal(t, strconv.FormatUint(ch.ID, 10), string(ch.Data))
	}
	for _, f := range []*followed{from, resumed} {
		assert.NoError(t, f.err)
		assert.Equal(t, &cluster.Closed{Status: manager.StatusCompleted, Reason: "completed", LastChunkID: total}, f.closed)
		assert.Equal(t, 1, f.ends)
	}
}

// A chunk that reached the history but never the live channel is a gap the follower fills from
// the history.
func TestFollowFillsAGap(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	c := inspect(t, srv)
	s, _ := newStore(t, srv, "a", cluster.Config{})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "gap"})
	require.NoError(t, err)
	_, err = s.Append(ctx, "gap", manager.Chunk{Data: []byte("one")})
	require.NoError(t, err)
	got := follow(t, s, "gap", 0)
	eventually(t, "chunk 1", func() bool { return len(got.ids()) == 1 })

	// Chunk 2 goes into the history behind the scripts' back: nothing is published for it.
	now := strconv.FormatInt(time.Now().UnixMicro(), 10)
	require.NoError(t, do(t, c, "XADD", cluster.HistKey("gap"), "2-0", "d", "two", "e", "", "f", "0", "t", now).Error())
	require.NoError(t, do(t, c, "HSET", cluster.MetaKey("gap"), "last", "2", "bytes", "6").Error())
	_, err = s.Append(ctx, "gap", manager.Chunk{Data: []byte("three")})
	require.NoError(t, err)
	eventually(t, "chunks 2 and 3", func() bool { return len(got.ids()) == 3 })
	assert.Equal(t, []uint64{1, 2, 3}, got.ids())
	assert.Equal(t, "two", string(got.chunks[1].Data))
}

func TestFollowErrorsAndClosedStreams(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	s, _ := newStore(t, srv, "a", cluster.Config{HistorySize: 3})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "e"})
	require.NoError(t, err)
	for range 5 {
		_, err := s.Append(ctx, "e", manager.Chunk{Data: []byte("x")})
		require.NoError(t, err)
	}
	h := newFollowed().handler()
	for _, tc := range []struct {
		id    string
		after uint64
		want  error
	}{
		{"e", 1, manager.ErrHistoryTrimmed},
		{"e", 6, manager.ErrInvalidAfterID},
		{"nope", 0, manager.ErrNotFound},
	} {
		_, err := s.Follow(ctx, tc.id, tc.after, h)
		require.ErrorIs(t, err, tc.want, "%s after %d", tc.id, tc.after)
	}

	_, err = s.Follow(ctx, "e", 5, cluster.FollowHandler{Chunk: h.Chunk})
	require.ErrorContains(t, err, "FollowHandler needs both Chunk and End")

	se := &manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "idle"}
	_, err = s.CloseStream(ctx, "e", manager.ReasonTerminatedPrefix+"idle", se)
	require.NoError(t, err)
	got := follow(t, s, "e", 3)
	waitFor(t, "a closed stream's follower ends after its replay", got.ended)
	assert.Equal(t, []uint64{4, 5, 6}, got.ids())
	assert.Equal(t, se, got.chunks[2].Err)
	assert.Equal(t, &cluster.Closed{Status: manager.StatusError, Reason: "Stream terminated due to error: idle", Err: se, LastChunkID: 6}, got.closed)
}

// A follower whose handler falls behind by more than it buffers reads the history instead, and
// ends with ErrHistoryTrimmed when the history no longer reaches back to its last chunk.
func TestFollowOverflow(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	s, _ := newStore(t, srv, "a", cluster.Config{HistorySize: 100})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "o"})
	require.NoError(t, err)
	release, entered := make(chan struct{}), make(chan struct{})
	got := newFollowed()
	h := got.handler()
	first := true
	chunk := h.Chunk
	h.Chunk = func(ch manager.Chunk) {
		if first {
			first = false
			close(entered)
			<-release
		}
		chunk(ch)
	}
	f, err := s.Follow(ctx, "o", 0, h)
	require.NoError(t, err)
	defer f.Close()
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock() // before Close, even when the test fails early
	// A second handler on the same connection sees each message right after the follower queued
	// it, so once it has seen the last one the follower's queue has overflowed.
	const batches = cluster.FollowQueue/100 + 2
	const total = batches * 100
	seenAll := make(chan struct{})
	del, err := s.Subscribe(ctx, "o", func(m cluster.Message) {
		if m.Chunk.ID == total {
			close(seenAll)
		}
	})
	require.NoError(t, err)
	defer del()
	batch := make([]manager.Chunk, 100)
	for i := range batch {
		batch[i] = manager.Chunk{Data: []byte("y")}
	}
	// The follower takes its queue in one piece, as much as had arrived: only once it is stuck on
	// its first chunk does every later message go to the queue, so the rest surely overflows it.
	// (Appending everything at once let a slow follower take a few hundred first, and then the
	// queue never overflowed.)
	for i := range batches {
		_, err := s.AppendBatch(ctx, "o", batch)
		require.NoError(t, err)
		if i == 0 {
			waitFor(t, "the follower took its first chunk", entered)
		}
	}
	waitFor(t, "every message queued", seenAll)
	unblock()
	waitFor(t, "the follower ended", got.ended)
	// It delivered what it had taken from its queue before the overflow (the first messages), in
	// order, and nothing after the dropped ones.
	ids := got.ids()
	require.NotEmpty(t, ids)
	require.Less(t, len(ids), total-100)
	for i, id := range ids {
		require.Equal(t, uint64(i+1), id)
	}
	require.ErrorIs(t, got.err, manager.ErrHistoryTrimmed)
	assert.Nil(t, got.closed)
}

// Followers on different replicas of one stream agree chunk for chunk.
func TestFollowersAgreeAcrossReplicas(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	var stores []*cluster.Store
	for i := range 3 {
		s, _ := newStore(t, srv, fmt.Sprintf("r%d", i), cluster.Config{})
		stores = append(stores, s)
	}
	_, err := stores[0].Create(ctx, cluster.CreateOptions{ID: "agree"})
	require.NoError(t, err)
	var got []*followed
	for _, s := range stores {
		got = append(got, follow(t, s, "agree", 0))
	}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for j := range 100 {
				_, err := s.Append(ctx, "agree", manager.Chunk{Data: fmt.Appendf(nil, "%d-%d", i, j)})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	_, err = stores[2].CloseStream(ctx, "agree", "completed", nil)
	require.NoError(t, err)
	for _, g := range got {
		waitFor(t, "the follower ended", g.ended)
		require.Len(t, g.chunks, 300)
		for i := range g.chunks {
			assert.Equal(t, got[0].chunks[i].Data, g.chunks[i].Data)
			assert.Equal(t, uint64(i+1), g.chunks[i].ID)
		}
	}
}
