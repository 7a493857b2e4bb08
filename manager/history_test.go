package manager

import (
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// push plans and adds a chunk of n bytes the way Push does, within the history's own bounds.
func (h *history) push(id uint64, n int) {
	drop, _ := h.plan(n, h.maxBytes)
	h.add(Chunk{ID: id, Data: []byte(strings.Repeat("x", n))}, drop)
}

// The ring's running slot and the replay's (id-1) % max must name the same slot for every chunk.
func TestHistoryWraps(t *testing.T) {
	for _, size := range []int{1, 2, 3, 7} {
		h := newHistory(size, math.MaxInt64)
		for id := uint64(1); id <= uint64(5*size+2); id++ {
			h.push(id, 1)
			require.Equal(t, id, h.last)
			for kept := h.oldest(); kept <= id; kept++ {
				require.Equal(t, kept, h.get(kept).ID, "size %d after chunk %d", size, id)
			}
			require.Equal(t, max(1, int64(id)-int64(size)+1), int64(h.oldest()))
			require.Equal(t, int64(h.count()), h.bytes)
		}
	}
}

// Against a plain list of the chunks that should be kept: the oldest go first, by count and by
// bytes, the newest is always kept, bytes is exact, and a dropped chunk's slot no longer holds
// its data.
func TestHistoryTrimsByBytes(t *testing.T) {
	sizes := []int{3, 0, 5, 1, 9, 2, 2, 4, 12, 1, 1, 1, 6, 3, 7, 0, 8}
	for _, bound := range []struct {
		count int
		bytes int64
	}{{4, 10}, {3, 100}, {8, 6}, {1, 5}} {
		h := newHistory(bound.count, bound.bytes)
		var want []int // sizes of the chunks that should be kept, oldest first
		for i, n := range sizes {
			id := uint64(i + 1)
			want = append(want, n)
			for len(want) > 1 && (len(want) > bound.count || sum(want) > bound.bytes) {
				want = want[1:]
			}
			h.push(id, n)

			require.Equal(t, sum(want), h.bytes, "bound %+v after chunk %d", bound, id)
			require.Equal(t, uint64(len(want)), h.count())
			require.Equal(t, id-uint64(len(want))+1, h.oldest())
			for j, n := range want {
				ch := h.get(h.oldest() + uint64(j))
				require.Equal(t, h.oldest()+uint64(j), ch.ID)
				require.Len(t, ch.Data, n)
			}
			var held int64
			for _, ch := range h.buf {
				held += int64(len(ch.Data))
			}
			require.Equal(t, h.bytes, held, "dropped chunks must not pin their data")
		}
	}
}

// A limit below what the history holds (a push making room within its own history) drops as
// many of the oldest chunks as it takes, and every one of them when the chunk alone is over it.
func TestHistoryPlanWithinLimit(t *testing.T) {
	h := newHistory(10, 100)
	for id, n := range []int{4, 4, 4, 4} {
		h.push(uint64(id+1), n)
	}
	drop, freed := h.plan(4, h.bytes)
	require.Equal(t, uint64(1), drop)
	require.Equal(t, int64(4), freed)
	drop, freed = h.plan(9, h.bytes)
	require.Equal(t, uint64(3), drop)
	require.Equal(t, int64(12), freed)
	drop, freed = h.plan(50, h.bytes)
	require.Equal(t, uint64(4), drop)
	require.Equal(t, int64(16), freed)
}

func sum(sizes []int) int64 {
	var s int64
	for _, n := range sizes {
		s += int64(n)
	}
	return s
}

// A compacted history holds exactly its chunks, in one slice, and serves the same IDs, Data and
// bounds as before, whether it never filled, filled, wrapped, or belongs to a mirror.
func TestHistoryCompact(t *testing.T) {
	for _, tc := range []struct {
		name         string
		size, pushed int
		after        uint64 // a mirror's start
	}{
		{"empty", 4, 0, 0},
		{"partly full", 8, 5, 0},
		{"full", 4, 4, 0},
		{"wrapped", 4, 11, 0},
		{"mirror", 4, 6, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(tc.size, math.MaxInt64)
			h.startAfter(tc.after)
			for i := range tc.pushed {
				h.push(tc.after+uint64(i)+1, i+1)
			}
			want := make(map[uint64]Chunk)
			for id := h.oldest(); id <= h.last && h.count() > 0; id++ {
				want[id] = h.get(id)
			}
			first, last, count, bytes := h.oldest(), h.last, h.count(), h.bytes
			h.compact()
			require.Equal(t, int(count), cap(h.buf))
			require.Equal(t, first, h.oldest())
			require.Equal(t, last, h.last)
			require.Equal(t, count, h.count())
			require.Equal(t, bytes, h.bytes)
			for id, ch := range want {
				got := h.get(id)
				require.Equal(t, ch.ID, got.ID)
				require.Same(t, unsafe.SliceData(ch.Data), unsafe.SliceData(got.Data), "chunk %d's data was copied", id)
			}
			require.True(t, h.covers(last))
			require.True(t, h.covers(first-1))
		})
	}
}
