package manager_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// bytesOf returns n bytes of data.
func bytesOf(n int) string { return strings.Repeat("x", n) }

func usage(t *testing.T, m *manager.Manager) manager.Usage {
	t.Helper()
	u, err := m.Usage(ctx)
	require.NoError(t, err)
	return u
}

func streamBytes(t *testing.T, m *manager.Manager, id string) int64 {
	t.Helper()
	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	return info.Bytes
}

// replayIDs registers a recorder after afterID and returns the IDs it was replayed.
func replayIDs(t *testing.T, m *manager.Manager, id string, afterID uint64) ([]uint64, error) {
	t.Helper()
	r := newRecorder(fmt.Sprint("replay-", afterID))
	if err := m.RegisterClientFrom(ctx, id, r, afterID); err != nil {
		return nil, err
	}
	if err := m.DeregisterClient(ctx, id, r.ID()); !errors.Is(err, manager.ErrClosed) {
		require.NoError(t, err)
	}
	return r.ids(), nil
}

func TestHistoryBytesTrimsOldestFirst(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 10})
	id := newStream(t, m)
	push(t, m, id, bytesOf(4), bytesOf(4))
	require.Equal(t, int64(8), streamBytes(t, m, id))

	push(t, m, id, bytesOf(3)) // 11 bytes would be over 10: chunk 1 goes
	require.Equal(t, int64(7), streamBytes(t, m, id))
	_, err := replayIDs(t, m, id, 0)
	require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
	got, err := replayIDs(t, m, id, 1)
	require.NoError(t, err)
	require.Equal(t, []uint64{2, 3}, got)

	push(t, m, id, bytesOf(25)) // alone over the bound: kept, and everything older goes
	require.Equal(t, int64(25), streamBytes(t, m, id))
	_, err = replayIDs(t, m, id, 2)
	require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
	got, err = replayIDs(t, m, id, 3)
	require.NoError(t, err)
	require.Equal(t, []uint64{4}, got)
	require.Equal(t, int64(25), usage(t, m).Bytes)
}

// The budget holds exactly the data of every retained chunk: pushes add it, trimming by count or
// bytes gives it back, error chunks count, closed streams keep theirs until they are forgotten.
func TestBudgetAccountsExactBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := newManager(t, manager.Config{HistorySize: 3, HistoryBytes: 100, RetainClosed: time.Minute})
		a, b := newStream(t, m), newStream(t, m)
		push(t, m, a, bytesOf(10), bytesOf(20), bytesOf(30))
		push(t, m, b, bytesOf(7))
		require.Equal(t, manager.Usage{Streams: 2, Bytes: 67}, usage(t, m))

		push(t, m, a, bytesOf(1)) // the count bound drops the 10
		require.Equal(t, int64(51), streamBytes(t, m, a))
		push(t, m, a, bytesOf(90)) // the byte bound drops the 20 and the 30
		require.Equal(t, int64(91), streamBytes(t, m, a))
		require.Equal(t, int64(98), usage(t, m).Bytes)

		se := &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "boom"}
		require.NoError(t, m.HandleStreamError(ctx, b, se, true))
		errBytes := int64(len(se.JSON()))
		require.Equal(t, 7+errBytes, streamBytes(t, m, b))
		require.Equal(t, manager.Usage{Streams: 1, Retained: 1, Bytes: 98 + errBytes}, usage(t, m))

		time.Sleep(time.Minute) // b is forgotten, and its bytes with it
		synctest.Wait()
		require.Equal(t, manager.Usage{Streams: 1, Bytes: 91}, usage(t, m))
	})
}

// When a push does not fit, retained closed streams are forgotten oldest closed first, and only as
// many as it takes.
func TestBudgetForgetsClosedStreamsOldestFirst(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 50, MaxBytes: 100})
	other := newStream(t, m)
	var closed []string
	for range 3 {
		id := newStream(t, m)
		push(t, m, id, bytesOf(20))
		closed = append(closed, id)
	}
	// Closed in the order 1, 0, 2: the oldest close goes first, whatever the creation order.
	for _, i := range []int{1, 0, 2} {
		require.NoError(t, m.CloseStream(ctx, closed[i], "done"))
	}
	live := newStream(t, m) // 60 held and 50 for its history: closed[1] goes
	require.Equal(t, manager.Usage{Streams: 2, Retained: 2, Bytes: 40}, usage(t, m))
	_, err := m.Info(ctx, closed[1])
	require.ErrorIs(t, err, manager.ErrNotFound)

	push(t, m, other, bytesOf(40))
	push(t, m, live, bytesOf(15), bytesOf(5)) // 100 fits exactly
	require.Equal(t, manager.Usage{Streams: 2, Retained: 2, Bytes: 100}, usage(t, m))

	push(t, m, live, bytesOf(1)) // closed[0] goes, and only it
	require.Equal(t, manager.Usage{Streams: 2, Retained: 1, Bytes: 81}, usage(t, m))
	_, err = m.Info(ctx, closed[0])
	require.ErrorIs(t, err, manager.ErrNotFound)
	info, err := m.Info(ctx, closed[2])
	require.NoError(t, err)
	require.Equal(t, int64(20), info.Bytes, "the newest closed stream stays")

	push(t, m, live, bytesOf(20)) // and now it goes too
	require.Equal(t, manager.Usage{Streams: 2, Retained: 0, Bytes: 81}, usage(t, m))
}

// With no closed stream left, a push that would add bytes beyond the budget is refused with a
// *LimitError the gateway answers as 429, and the stream stays active and usable.
func TestBudgetRefusesAPushThatDoesNotFit(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 50, MaxBytes: 100})
	full := newStream(t, m)
	push(t, m, full, bytesOf(50))
	young := newStream(t, m)
	push(t, m, full, bytesOf(40)) // full's own bound drops its 50: 40, and 60 free
	push(t, m, young, bytesOf(45), bytesOf(5))
	require.Equal(t, int64(90), usage(t, m).Bytes)
	push(t, m, full, bytesOf(10)) // 100

	r := newRecorder("r")
	require.NoError(t, m.RegisterClient(ctx, young, r))
	_, err := m.Push(ctx, young, manager.Chunk{Data: []byte(bytesOf(51))})
	require.ErrorIs(t, err, manager.ErrBudgetExhausted)
	var le *manager.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "push to stream "+young+": memory budget exhausted (limit 100 bytes)", le.Error())
	require.Equal(t, &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: le.Error(), RetryAfter: time.Second}, le.StreamError())
	require.Equal(t, le.StreamError(), manager.AsStreamError(err))

	require.Empty(t, r.ids(), "a refused chunk reaches nobody")
	info, err := m.Info(ctx, young)
	require.NoError(t, err)
	require.Equal(t, manager.StatusActive, info.Status)
	require.Equal(t, uint64(2), info.LastChunkID, "a refused chunk takes no ID")
	require.Equal(t, int64(50), info.Bytes, "a refused push drops nothing from the history")
	require.Equal(t, int64(100), usage(t, m).Bytes)

	push(t, m, young, bytesOf(50)) // rolls within what young holds
	require.Equal(t, []uint64{3}, r.ids())
}

// A running stream is not cut off by a full budget: a push it would have to refuse is made room
// for by dropping the stream's own oldest chunks, never another stream's. Its subscribers still
// get every chunk; only a resume from before its new oldest chunk gets ErrHistoryTrimmed.
func TestBudgetRunningStreamRollsWithinWhatItHolds(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 60, MaxBytes: 100})
	other := newStream(t, m)
	push(t, m, other, bytesOf(30))
	running := newStream(t, m)
	push(t, m, running, bytesOf(20), bytesOf(20), bytesOf(20)) // 60 at its own bound
	push(t, m, other, bytesOf(10))                             // 100
	r := newRecorder("r")
	require.NoError(t, m.RegisterClient(ctx, running, r))

	push(t, m, running, bytesOf(20)) // the own bound makes room: chunk 1 goes
	push(t, m, running, bytesOf(35)) // the budget is full: chunks 2 and 3 go
	require.Equal(t, []uint64{4, 5}, r.ids())
	require.Equal(t, int64(55), streamBytes(t, m, running))
	require.Equal(t, int64(40), streamBytes(t, m, other), "another stream's history is never touched")
	require.Equal(t, int64(95), usage(t, m).Bytes)
	_, err := replayIDs(t, m, running, 2)
	require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
	got, err := replayIDs(t, m, running, 3)
	require.NoError(t, err)
	require.Equal(t, []uint64{4, 5}, got)

	_, err = m.Push(ctx, running, manager.Chunk{Data: []byte(bytesOf(61))})
	require.ErrorIs(t, err, manager.ErrBudgetExhausted, "more than its whole history and the free bytes")
}

// A new stream is created only while one full history fits in the budget, after forgetting
// retained closed streams; error chunks are never refused, so a failing stream can always say why.
func TestBudgetCreatingAStreamNeedsRoomForAHistory(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 40, MaxBytes: 100})
	a := newStream(t, m)
	push(t, m, a, bytesOf(40))
	b := newStream(t, m)
	push(t, m, b, bytesOf(21))

	_, err := m.CreateStream(ctx, "")
	require.ErrorIs(t, err, manager.ErrBudgetExhausted)
	var le *manager.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "create stream: memory budget exhausted (limit 100 bytes)", le.Error())
	require.Equal(t, time.Second, le.RetryAfter)

	push(t, m, a, bytesOf(39)) // a shrinks to 39: 60 held, one history of 40 fits
	c, err := m.CreateStream(ctx, "")
	require.NoError(t, err)

	push(t, m, c, bytesOf(40)) // 100
	require.Equal(t, int64(100), usage(t, m).Bytes)
	require.NoError(t, m.HandleStreamError(ctx, b, errors.New("upstream gone"), true))
	require.Greater(t, usage(t, m).Bytes, int64(100), "the error chunk is recorded past the budget")
	info, err := m.Info(ctx, b)
	require.NoError(t, err)
	require.Equal(t, manager.StatusError, info.Status)
	require.Equal(t, uint64(2), info.LastChunkID)
}

func TestConfigRejectsHistoryBytesOverMaxBytes(t *testing.T) {
	_, err := manager.New(manager.Config{HistoryBytes: 101, MaxBytes: 100})
	require.ErrorIs(t, err, manager.ErrInvalidConfig)
	require.ErrorContains(t, err, "HistoryBytes (101) must not exceed MaxBytes (100)")
	_, err = manager.New(manager.Config{HistoryBytes: 100, MaxBytes: 100})
	require.NoError(t, err)
}

// Pushes racing on the streams of several tenants near tight quotas and budget, with refusals,
// self-trimming and closed streams forgotten on the way, leave every tenant's and the global
// budget equal to what the histories hold, and never over.
func TestBudgetStaysExactUnderConcurrentPushes(t *testing.T) {
	m, _ := newManager(t, manager.Config{HistoryBytes: 300, MaxBytes: 1000, DefaultQuota: manager.Quota{MaxBytes: 600}})
	tenants := []string{"a", "b", "c"}
	var ids []string
	for _, tenant := range tenants {
		ids = append(ids, tenantStream(t, m, tenant))
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			id, tenant := ids[w%len(ids)], tenants[w%len(ids)]
			for i := range 300 {
				_, err := m.Push(ctx, id, manager.Chunk{Data: []byte(bytesOf(1 + (i*7+w)%90))})
				if err != nil && !errors.Is(err, manager.ErrBudgetExhausted) {
					t.Error(err)
					return
				}
				if i%50 != 0 {
					continue
				}
				c, err := m.CreateStreamWith(ctx, manager.StreamOptions{Labels: map[string]string{manager.LabelTenant: tenant}})
				if err == nil {
					_ = m.PushChunk(ctx, c, manager.Chunk{Data: []byte(bytesOf(40))})
					_ = m.CloseStream(ctx, c, "done")
				}
			}
		})
	}
	wg.Wait()
	infos, err := m.List(ctx)
	require.NoError(t, err)
	held := map[string]int64{}
	var total int64
	for _, info := range infos {
		held[info.Labels[manager.LabelTenant]] += info.Bytes
		total += info.Bytes
	}
	for _, tenant := range tenants {
		u := tenantUsage(t, m, tenant)
		require.Equal(t, held[tenant], u.Bytes, "tenant %s", tenant)
		require.LessOrEqual(t, u.Bytes, int64(600))
	}
	u := usage(t, m)
	require.Equal(t, total, u.Bytes)
	require.LessOrEqual(t, u.Bytes, int64(1000))
}

// At most MaxRetained closed streams are kept: closing one more forgets the oldest closed at once,
// with its bytes.
func TestMaxRetainedForgetsTheOldestClosed(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxRetained: 2})
	var ids []string
	for i := range 4 {
		id := newStream(t, m)
		push(t, m, id, bytesOf(i+1))
		ids = append(ids, id)
	}
	for _, i := range []int{2, 0, 3} {
		require.NoError(t, m.CloseStream(ctx, ids[i], "done"))
	}
	_, err := m.Info(ctx, ids[2])
	require.ErrorIs(t, err, manager.ErrNotFound, "the first closed goes")
	for _, i := range []int{0, 3, 1} {
		_, err := m.Info(ctx, ids[i])
		require.NoError(t, err)
	}
	require.Equal(t, manager.Usage{Streams: 1, Retained: 2, Bytes: 1 + 4 + 2}, usage(t, m))

	require.NoError(t, m.CloseStream(ctx, ids[1], "done"))
	_, err = m.Info(ctx, ids[0])
	require.ErrorIs(t, err, manager.ErrNotFound)
	require.Equal(t, manager.Usage{Retained: 2, Bytes: 4 + 2}, usage(t, m))
	got, err := replayIDs(t, m, ids[3], 0)
	require.NoError(t, err, "a retained stream is still readable")
	require.Equal(t, []uint64{1}, got)
}

// Closed streams are outside max_streams but not outside the budget: churning through many of
// them never holds more than MaxBytes, whatever the number closed.
func TestClosedStreamsCountAgainstTheBudget(t *testing.T) {
	m, _ := newManager(t, manager.Config{MaxConcurrentStreams: 1, HistoryBytes: 10, MaxBytes: 30})
	for range 20 {
		id := newStream(t, m)
		push(t, m, id, bytesOf(10))
		require.NoError(t, m.CloseStream(ctx, id, "done"))
		require.LessOrEqual(t, usage(t, m).Bytes, int64(30))
	}
	require.Equal(t, manager.Usage{Retained: 3, Bytes: 30}, usage(t, m))
}
