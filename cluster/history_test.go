package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

// Chunk IDs stay dense under concurrent appends from several replicas: every append gets the
// next ID, no ID is skipped or given twice, and the history holds what each append wrote.
func TestDenseIDsUnderConcurrentAppends(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	const stores, workers, each = 3, 4, 150
	var all []*cluster.Store
	for i := range stores {
		s, _ := newStore(t, srv, fmt.Sprintf("n%d", i), cluster.Config{})
		all = append(all, s)
	}
	_, err := all[0].Create(ctx, cluster.CreateOptions{ID: "dense"})
	require.NoError(t, err)

	var mu sync.Mutex
	wrote := make(map[uint64]string)
	var wg sync.WaitGroup
	for si, s := range all {
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					data := fmt.Sprintf("n%d-w%d-%d", si, w, i)
					id, err := s.Append(ctx, "dense", manager.Chunk{Data: []byte(data)})
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					_, dup := wrote[id]
					wrote[id] = data
					mu.Unlock()
					assert.False(t, dup, "chunk ID %d given twice", id)
				}
			})
		}
	}
	wg.Wait()

	const total = stores * workers * each
	ids := make([]uint64, 0, len(wrote))
	for id := range wrote {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := make([]uint64, total)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	require.Equal(t, want, ids, "IDs 1..%d, no gap, no duplicate", total)

	page, err := all[1].ReadRange(ctx, "dense", 0, 0)
	require.NoError(t, err)
	require.Len(t, page.Chunks, total)
	for i, ch := range page.Chunks {
		require.Equal(t, uint64(i+1), ch.ID)
		require.Equal(t, wrote[ch.ID], string(ch.Data), "chunk %d", ch.ID)
	}
	assert.Equal(t, uint64(total), page.LastChunkID)
	assert.Nil(t, page.Closed)
}

func TestTrimByCount(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	s, _ := newStore(t, srv, "a", cluster.Config{HistorySize: 5})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "c"})
	require.NoError(t, err)
	for i := 1; i <= 8; i++ {
		_, err := s.Append(ctx, "c", manager.Chunk{Event: "e", Data: fmt.Appendf(nil, "chunk-%03d", i)})
		require.NoError(t, err)
	}
	info, err := s.Info(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), info.FirstChunkID)
	assert.Equal(t, uint64(8), info.LastChunkID)
	assert.Equal(t, int64(5*9), info.HistoryBytes)
	assert.Equal(t, int64(5), doInt(t, inspect(t, srv), "XLEN", cluster.HistKey("c")))

	for _, tc := range []struct {
		after   uint64
		limit   int
		want    []uint64
		wantErr error
	}{
		{after: 0, wantErr: manager.ErrHistoryTrimmed},
		{after: 2, wantErr: manager.ErrHistoryTrimmed},
		{after: 3, want: []uint64{4, 5, 6, 7, 8}},
		{after: 3, limit: 2, want: []uint64{4, 5}},
		{after: 6, want: []uint64{7, 8}},
		{after: 8, want: []uint64{}},
		{after: 9, wantErr: manager.ErrInvalidAfterID},
	} {
		t.Run(fmt.Sprintf("after %d limit %d", tc.after, tc.limit), func(t *testing.T) {
			page, err := s.ReadRange(ctx, "c", tc.after, tc.limit)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			ids := []uint64{}
			for _, ch := range page.Chunks {
				ids = append(ids, ch.ID)
				assert.Equal(t, fmt.Sprintf("chunk-%03d", ch.ID), string(ch.Data))
				assert.Equal(t, "e", ch.Event)
				assert.False(t, ch.Time.IsZero())
			}
			assert.Equal(t, tc.want, ids)
			assert.Equal(t, uint64(8), page.LastChunkID)
		})
	}
	_, err = s.ReadRange(ctx, "nope", 0, 0)
	require.ErrorIs(t, err, manager.ErrNotFound)
}

func TestTrimByBytes(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	s, _ := newStore(t, srv, "a", cluster.Config{HistorySize: 100, HistoryBytes: 100})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "b"})
	require.NoError(t, err)
	for _, step := range []struct {
		size        int
		first       uint64
		bytes       int64
		description string
	}{
		{40, 1, 40, "under the bound"},
		{40, 1, 80, "under the bound"},
		{40, 2, 80, "120 bytes: chunk 1 goes"},
		{90, 4, 90, "170 bytes: chunks 2 and 3 go"},
		{200, 5, 200, "a chunk above the bound stays alone: the newest is always kept"},
		{10, 6, 10, "210 bytes: chunk 5 goes"},
	} {
		id, err := s.Append(ctx, "b", manager.Chunk{Data: []byte(strings.Repeat("x", step.size))})
		require.NoError(t, err)
		info, err := s.Info(ctx, "b")
		require.NoError(t, err)
		assert.Equal(t, []any{step.first, id, step.bytes}, []any{info.FirstChunkID, info.LastChunkID, info.HistoryBytes}, step.description)
		page, err := s.ReadRange(ctx, "b", step.first-1, 0)
		require.NoError(t, err)
		var sum int64
		for _, ch := range page.Chunks {
			sum += int64(len(ch.Data))
		}
		assert.Equal(t, step.bytes, sum, "the history holds exactly the counted bytes")
		if step.first > 1 {
			_, err = s.ReadRange(ctx, "b", step.first-2, 0)
			require.ErrorIs(t, err, manager.ErrHistoryTrimmed)
		}
	}
}

// Data, events and error chunks survive the round trip through Redis byte for byte.
func TestChunkRoundTrip(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	s, _ := newStore(t, srv, "a", cluster.Config{})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "rt"})
	require.NoError(t, err)
	se := &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "slow down"}
	in := []manager.Chunk{
		{Data: []byte("plain")},
		{Event: "message with spaces", Data: []byte("line1\nline2\r\n\x00binary\xff")},
		{Data: []byte{}},
		{Err: se},
	}
	for _, ch := range in {
		_, err := s.Append(ctx, "rt", ch)
		require.NoError(t, err)
	}
	page, err := s.ReadRange(ctx, "rt", 0, 0)
	require.NoError(t, err)
	require.Len(t, page.Chunks, 4)
	for i, ch := range page.Chunks {
		assert.Equal(t, uint64(i+1), ch.ID)
		if in[i].Err != nil {
			assert.Equal(t, "error", ch.Event)
			assert.Equal(t, se.JSON(), ch.Data)
			assert.Equal(t, se, ch.Err)
			continue
		}
		assert.Equal(t, in[i].Event, ch.Event)
		assert.Equal(t, string(in[i].Data), string(ch.Data))
		assert.Nil(t, ch.Err)
	}
}

// A batch takes consecutive IDs in one atomic step, is trimmed like single appends and is
// published chunk by chunk.
func TestAppendBatch(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	s, _ := newStore(t, srv, "a", cluster.Config{HistorySize: 5})
	r, _ := newStore(t, srv, "r", cluster.Config{})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "batch"})
	require.NoError(t, err)
	got := &collector{}
	del, err := r.Subscribe(ctx, "batch", got.add)
	require.NoError(t, err)
	defer del()

	var batch []manager.Chunk
	for i := 1; i <= 7; i++ {
		batch = append(batch, manager.Chunk{Data: fmt.Appendf(nil, "b%d", i)})
	}
	batch[3] = manager.Chunk{Err: &manager.StreamError{Code: 500, Status: "INTERNAL", Message: "mid"}}
	last, err := s.AppendBatch(ctx, "batch", batch)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), last)
	last, err = s.Append(ctx, "batch", manager.Chunk{Data: []byte("b8")})
	require.NoError(t, err)
	assert.Equal(t, uint64(8), last)

	info, err := s.Info(ctx, "batch")
	require.NoError(t, err)
	assert.Equal(t, []uint64{4, 8}, []uint64{info.FirstChunkID, info.LastChunkID}, "trimmed to 5 across the batch")
	page, err := s.ReadRange(ctx, "batch", 3, 0)
	require.NoError(t, err)
	require.Len(t, page.Chunks, 5)
	assert.Equal(t, "error", page.Chunks[0].Event)
	assert.Equal(t, "mid", page.Chunks[0].Err.Message)
	assert.Equal(t, "b5", string(page.Chunks[1].Data))

	eventually(t, "every chunk published", func() bool { return got.count(cluster.MessageChunk) == 8 })
	for i, m := range got.all() {
		assert.Equal(t, uint64(i+1), m.Chunk.ID)
	}
	_, err = s.AppendBatch(ctx, "batch", nil)
	require.ErrorContains(t, err, "no chunk")
}
