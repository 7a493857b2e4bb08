package manager_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// endRecorder is a recorder that also receives the close details (a CloseReceiver).
type endRecorder struct {
	*recorder
	mu   sync.Mutex
	ends []manager.ClosedError
}

var _ manager.CloseReceiver = (*endRecorder)(nil)

func newEndRecorder(id string) *endRecorder { return &endRecorder{recorder: newRecorder(id)} }

func (r *endRecorder) StreamClosed(_ context.Context, end manager.ClosedError) error {
	r.mu.Lock()
	r.ends = append(r.ends, end)
	r.mu.Unlock()
	return nil
}

func (r *endRecorder) closes() []manager.ClosedError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]manager.ClosedError(nil), r.ends...)
}

func newMirror(t *testing.T, m *manager.Manager, id string, lastID uint64) {
	t.Helper()
	require.NoError(t, m.CreateMirror(ctx, manager.MirrorOptions{ID: id}, lastID))
}

func pushAt(t *testing.T, m *manager.Manager, id string, from, to uint64) {
	t.Helper()
	for n := from; n <= to; n++ {
		require.NoError(t, m.PushAt(ctx, id, manager.Chunk{ID: n, Data: []byte(fmt.Sprint("c", n))}))
	}
}

func bounds(t *testing.T, m *manager.Manager, id string) [2]uint64 {
	t.Helper()
	first, last, err := m.HistoryBounds(ctx, id)
	require.NoError(t, err)
	return [2]uint64{first, last}
}

func TestMirrorBeginsAfterItsLastID(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistorySize: 3})
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, m.CreateMirror(ctx, manager.MirrorOptions{
		ID: "m1", Instance: "inst-1", Labels: map[string]string{manager.LabelModel: "x"}, CreatedAt: created}, 5))
	require.Equal(t, [2]uint64{6, 5}, bounds(t, m, "m1"), "an empty mirror holds nothing after chunk 5")

	ids, err := replayIDs(t, m, "m1", 5)
	require.NoError(t, err)
	require.Empty(t, ids)
	_, err = replayIDs(t, m, "m1", 4)
	require.ErrorIs(t, err, manager.ErrHistoryTrimmed, "chunk 5 came before the mirror")

	// Seven chunks through a history of three: the ring wraps twice past its offset start.
	pushAt(t, m, "m1", 6, 12)
	require.Equal(t, [2]uint64{10, 12}, bounds(t, m, "m1"))
	for after, want := range map[uint64][]uint64{9: {10, 11, 12}, 10: {11, 12}, 11: {12}, 12: {}} {
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			ids, err := replayIDs(t, m, "m1", after)
			require.NoError(t, err)
			require.Equal(t, want, ids)
		})
	}
	r := newRecorder("r")
	require.NoError(t, m.RegisterClientFrom(ctx, "m1", r, 10))
	pushAt(t, m, "m1", 13, 13)
	require.Equal(t, []uint64{11, 12, 13}, r.ids())
	require.Equal(t, "c11", string(r.chunks[0].Data), "replay reads each chunk from its own slot")
	_, err = replayIDs(t, m, "m1", 8)
	require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
	_, err = replayIDs(t, m, "m1", 14)
	require.ErrorIs(t, err, manager.ErrInvalidAfterID)

	info, err := m.Info(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, "inst-1", info.Instance)
	require.Equal(t, created, info.CreatedAt)
	require.Equal(t, uint64(13), info.LastChunkID)
	require.Equal(t, map[string]string{manager.LabelModel: "x"}, info.Labels)
	require.Equal(t, manager.StatusActive, info.Status)
}

func TestCreateMirrorErrors(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 0)
	id := newStream(t, m)
	for name, tc := range map[string]struct {
		id   string
		want error
	}{
		"no ID":           {"", manager.ErrInvalidID},
		"bad ID":          {"a b", manager.ErrInvalidID},
		"a mirror has it": {"m1", manager.ErrExists},
		"a stream has it": {id, manager.ErrExists},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, m.CreateMirror(ctx, manager.MirrorOptions{ID: tc.id}, 0), tc.want)
		})
	}
}

func TestPushAtTakesOnlyTheNextChunk(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 0)
	pushAt(t, m, "m1", 1, 3)
	for name, tc := range map[string]struct {
		id        uint64
		duplicate bool
	}{
		"the last again": {3, true},
		"an older one":   {1, true},
		"zero":           {0, true},
		"one too far":    {5, false},
		"far ahead":      {1000, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := m.PushAt(ctx, "m1", manager.Chunk{ID: tc.id, Data: []byte("x")})
			require.ErrorIs(t, err, manager.ErrOutOfSequence)
			var se *manager.SequenceError
			require.ErrorAs(t, err, &se)
			require.Equal(t, manager.SequenceError{StreamID: "m1", Last: 3, ID: tc.id}, *se)
			require.Equal(t, tc.duplicate, se.Duplicate())
			require.Equal(t, fmt.Sprintf("push chunk %d to stream m1: chunk is not the next of the stream (last is 3)", tc.id), err.Error())
			require.Equal(t, [2]uint64{1, 3}, bounds(t, m, "m1"), "nothing changed")
		})
	}
	require.ErrorIs(t, m.PushAt(ctx, "nope", manager.Chunk{ID: 1}), manager.ErrNotFound)
}

func TestMirrorRefusesIDsOfItsOwn(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 2)
	_, err := m.Push(ctx, "m1", manager.Chunk{Data: []byte("x")})
	require.ErrorIs(t, err, manager.ErrMirror)
	require.ErrorIs(t, m.PushChunk(ctx, "m1", manager.Chunk{Data: []byte("x")}), manager.ErrMirror)
	require.ErrorIs(t, m.HandleStreamError(ctx, "m1", errors.New("boom"), false), manager.ErrMirror)
	require.Equal(t, [2]uint64{3, 2}, bounds(t, m, "m1"), "nothing was recorded")

	id := newStream(t, m)
	require.ErrorIs(t, m.PushAt(ctx, id, manager.Chunk{ID: 1}), manager.ErrNotMirror)
	require.ErrorIs(t, m.CloseMirror(ctx, id, manager.StatusCompleted, "x", nil), manager.ErrNotMirror)
	require.ErrorIs(t, m.ForgetMirror(ctx, id), manager.ErrNotMirror)
}

// A mirror whose source failed ends with an error chunk of its own: the next ID, then the close.
func TestMirrorEndsWithAnErrorOfItsOwn(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 2)
	r := newEndRecorder("r")
	require.NoError(t, m.RegisterClientFrom(ctx, "m1", r, 2))
	se := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "store lost"}
	require.NoError(t, m.HandleStreamError(ctx, "m1", se, true))
	require.Equal(t, []uint64{3}, r.ids())
	require.Equal(t, se, r.chunks[0].Err)
	require.Equal(t, []manager.ClosedError{{StreamID: "m1", Reason: "Stream terminated due to error: store lost", Status: manager.StatusError, Err: se}}, r.closes())
	require.ErrorIs(t, m.PushAt(ctx, "m1", manager.Chunk{ID: 4}), manager.ErrClosed)
}

func TestCloseMirrorEndsAsItsSourceDid(t *testing.T) {
	se := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "replica a lost"}
	for name, tc := range map[string]struct {
		status manager.Status
		reason string
		err    *manager.StreamError
	}{
		"completed": {manager.StatusCompleted, "deleted", nil},
		"error":     {manager.StatusError, "Stream terminated due to error: replica a lost", se},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := newManager(t, manager.Config{})
			newMirror(t, m, "m1", 0)
			r := newEndRecorder("r")
			require.NoError(t, m.RegisterClient(ctx, "m1", r))
			pushAt(t, m, "m1", 1, 2)
			done, err := m.Done(ctx, "m1")
			require.NoError(t, err)

			require.NoError(t, m.CloseMirror(ctx, "m1", tc.status, tc.reason, tc.err))
			<-done
			want := manager.ClosedError{StreamID: "m1", Reason: tc.reason, Status: tc.status, Err: tc.err}
			require.Equal(t, []manager.ClosedError{want}, r.closes())
			require.Equal(t, []uint64{1, 2}, r.ids(), "no chunk was added")
			info, err := m.Info(ctx, "m1")
			require.NoError(t, err)
			require.Equal(t, tc.status, info.Status)
			require.Equal(t, tc.reason, info.CloseReason)
			require.Equal(t, tc.err, info.Err)
			require.Equal(t, uint64(2), info.LastChunkID)

			require.NoError(t, m.CloseMirror(ctx, "m1", manager.StatusCompleted, "again", nil), "closing a closed mirror does nothing")
			require.Len(t, r.closes(), 1)
			require.ErrorIs(t, m.PushAt(ctx, "m1", manager.Chunk{ID: 3}), manager.ErrClosed)

			late := newEndRecorder("late")
			require.NoError(t, m.RegisterClientFrom(ctx, "m1", late, 0), "a closed mirror replays like any stream")
			require.Equal(t, []uint64{1, 2}, late.ids())
			require.Equal(t, []manager.ClosedError{want}, late.closes())
		})
	}
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 0)
	require.ErrorContains(t, m.CloseMirror(ctx, "m1", manager.StatusActive, "x", nil), "status must be completed or error")
}

func TestForgetMirror(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 0)
	pushAt(t, m, "m1", 1, 2)
	r := newEndRecorder("r")
	require.NoError(t, m.RegisterClient(ctx, "m1", r))

	require.NoError(t, m.ForgetMirror(ctx, "m1"))
	require.Equal(t, []manager.ClosedError{{StreamID: "m1", Reason: manager.ReasonShuttingDown, Status: manager.StatusError,
		Err: &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "shutting down"}}}, r.closes())
	_, err := m.Info(ctx, "m1")
	require.ErrorIs(t, err, manager.ErrNotFound)
	require.Equal(t, manager.Usage{}, usage(t, m), "its slot and bytes are gone")
	newMirror(t, m, "m1", 7)

	require.NoError(t, m.CloseMirror(ctx, "m1", manager.StatusCompleted, "done", nil))
	require.NoError(t, m.ForgetMirror(ctx, "m1"), "a retained closed mirror is forgotten too")
	require.Equal(t, manager.Usage{}, usage(t, m))
	require.ErrorIs(t, m.ForgetMirror(ctx, "m1"), manager.ErrNotFound)
}

// Mirrors are counted where their streams were created: they take no local slot and no tenant's
// quota, and closing one gives nothing back to anyone.
func TestMirrorsStandOutsideStreamLimitsAndQuotas(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxConcurrentStreams: 1, DefaultQuota: manager.Quota{MaxStreams: 1}})
	_, err := m.CreateStreamWith(ctx, manager.StreamOptions{ID: "own", Labels: map[string]string{manager.LabelTenant: "t"}})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, m.CreateMirror(ctx, manager.MirrorOptions{ID: fmt.Sprint("m", i), Labels: map[string]string{manager.LabelTenant: "t"}}, 0))
		require.NoError(t, m.PushAt(ctx, fmt.Sprint("m", i), manager.Chunk{ID: 1, Data: []byte("abc")}))
	}
	require.Equal(t, manager.Usage{Streams: 1, Bytes: 9}, usage(t, m), "mirrors count in bytes only")
	tu, err := m.TenantUsage(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, manager.Usage{Streams: 1}, tu)

	require.NoError(t, m.CloseMirror(ctx, "m0", manager.StatusCompleted, "done", nil))
	_, err = m.CreateStream(ctx, "")
	require.ErrorIs(t, err, manager.ErrTooManyStreams, "a closed mirror freed no slot")
	require.NoError(t, m.ForgetMirror(ctx, "m1"))
	tu, err = m.TenantUsage(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, manager.Usage{Streams: 1}, tu, "forgetting a mirror leaves the tenant alone")

	require.NoError(t, m.CloseStream(ctx, "own", "done"))
	_, err = m.CreateStream(ctx, "")
	require.NoError(t, err)
}

// A mirror never refuses a chunk for the byte budget: it rolls, and at worst keeps the new chunk
// alone, over the budget by that chunk. The streams this manager numbers are refused as always.
func TestMirrorRollsButNeverRefusesAtTheBudget(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 100, MaxBytes: 100})
	id := newStream(t, m)
	push(t, m, id, bytesOf(60))
	newMirror(t, m, "m1", 0)
	put := func(n uint64, size int) {
		t.Helper()
		require.NoError(t, m.PushAt(ctx, "m1", manager.Chunk{ID: n, Data: []byte(bytesOf(size))}))
	}

	put(1, 30)
	require.Equal(t, int64(90), usage(t, m).Bytes)
	put(2, 30) // 10 free: chunk 1 makes room
	require.Equal(t, [2]uint64{2, 2}, bounds(t, m, "m1"))
	require.Equal(t, int64(90), usage(t, m).Bytes)
	put(3, 50) // 10 free plus its 30: not enough, kept alone
	require.Equal(t, [2]uint64{3, 3}, bounds(t, m, "m1"))
	require.Equal(t, int64(110), usage(t, m).Bytes)
	require.Equal(t, int64(50), streamBytes(t, m, "m1"))

	_, err := m.Push(ctx, id, manager.Chunk{Data: []byte(bytesOf(70))})
	require.ErrorIs(t, err, manager.ErrBudgetExhausted, "a local stream over its share is refused as ever")
	require.NoError(t, m.ForgetMirror(ctx, "m1"))
	require.Equal(t, int64(60), usage(t, m).Bytes)
}

func TestMirrorForgetsRetainedStreamsFirst(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 100, MaxBytes: 100})
	id := newStream(t, m)
	push(t, m, id, bytesOf(80))
	require.NoError(t, m.CloseStream(ctx, id, "done"))
	newMirror(t, m, "m1", 0)
	require.NoError(t, m.PushAt(ctx, "m1", manager.Chunk{ID: 1, Data: []byte(bytesOf(70))}))
	_, err := m.Info(ctx, id)
	require.ErrorIs(t, err, manager.ErrNotFound, "the retained closed stream made room")
	require.Equal(t, manager.Usage{Bytes: 70}, usage(t, m))
}

func TestMirrorHasNoInactivityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{InactivityTimeout: 40 * time.Millisecond})
		newMirror(t, m, "m1", 0)
		time.Sleep(time.Hour)
		synctest.Wait()
		info, err := m.Info(ctx, "m1")
		require.NoError(t, err)
		require.Equal(t, manager.StatusActive, info.Status, "the mirror's source decides when it ends")
	})
}

func TestHistoryBoundsOfAStream(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistorySize: 2})
	id := newStream(t, m)
	require.Equal(t, [2]uint64{1, 0}, bounds(t, m, id))
	push(t, m, id, "a")
	require.Equal(t, [2]uint64{1, 1}, bounds(t, m, id))
	push(t, m, id, "b", "c")
	require.Equal(t, [2]uint64{2, 3}, bounds(t, m, id))
	_, _, err := m.HistoryBounds(ctx, "nope")
	require.ErrorIs(t, err, manager.ErrNotFound)
}

// Feeders race: a chunk may come from two sources at once (the replica's own append and the
// cluster's live feed). Exactly one PushAt of each ID wins and every client sees 1..n once.
func TestPushAtRacingFeedersDeliverEachChunkOnce(t *testing.T) {
	m, _ := newManager(t, manager.Config{})
	newMirror(t, m, "m1", 0)
	r := newRecorder("r")
	require.NoError(t, m.RegisterClient(ctx, "m1", r))
	const n = 500
	var wg sync.WaitGroup
	var won [2]int
	for f := range 2 {
		wg.Go(func() {
			for id := uint64(1); id <= n; {
				err := m.PushAt(ctx, "m1", manager.Chunk{ID: id, Data: []byte("x")})
				var se *manager.SequenceError
				switch {
				case err == nil:
					won[f]++
					id++
				case errors.As(err, &se) && se.Duplicate():
					id++ // the other feeder won it
				default: // a gap cannot be: a feeder moves on only past a recorded chunk
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, seq(1, n), r.ids())
	require.Equal(t, n, won[0]+won[1])
}
