package manager

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
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

// An archived history serves the same IDs, Data, Events, Errs and Times (less the monotonic
// reading) and the same bounds as the ring did, whether it never filled, filled, wrapped, or
// belongs to a mirror, and whatever its chunks hold: the chunks that cannot be packed (an error
// chunk, a Time in another location or that Unix nanoseconds cannot hold) come back whole. It
// holds the ring no longer, and the chunks' Data is not copied.
func TestHistoryArchive(t *testing.T) {
	now := time.Now()
	utc := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	chunk := func(i int) Chunk {
		ch := Chunk{Data: []byte(strings.Repeat("x", i+1)), Time: now.Add(time.Duration(i) * time.Millisecond)}
		switch i % 7 {
		case 1:
			ch.Event = "delta"
		case 2:
			ch.Event = "done"
		case 3:
			ch.Time = utc
		case 4:
			ch.Data = nil
			if i%2 == 0 {
				ch.Data = []byte{}
			}
		case 5:
			ch.Err = &StreamError{Code: 500, Status: "INTERNAL", Message: "boom"}
			ch.Event, ch.Data = "error", ch.Err.JSON()
		case 6:
			ch.Time = time.Time{}
		}
		return ch
	}
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
		{"every kind", 16, 15, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(tc.size, math.MaxInt64)
			h.startAfter(tc.after)
			for i := range tc.pushed {
				ch := chunk(i)
				ch.ID = tc.after + uint64(i) + 1
				drop, _ := h.plan(len(ch.Data), h.maxBytes)
				h.add(ch, drop)
			}
			want := make(map[uint64]Chunk)
			for id := h.oldest(); id <= h.last && h.count() > 0; id++ {
				ch := h.get(id)
				ch.Time = ch.Time.Round(0)
				want[id] = ch
			}
			first, last, count, bytes := h.oldest(), h.last, h.count(), h.bytes
			h.archive()
			require.Nil(t, h.buf, "the ring is let go")
			require.Equal(t, first, h.oldest())
			require.Equal(t, last, h.last)
			require.Equal(t, count, h.count())
			require.Equal(t, bytes, h.bytes)
			for id, ch := range want {
				got := h.get(id)
				require.Equal(t, ch, got, "chunk %d", id)
				require.Same(t, unsafe.SliceData(ch.Data), unsafe.SliceData(got.Data), "chunk %d's data was copied", id)
			}
			if count == 0 {
				require.Nil(t, h.arch, "an empty history needs no archive")
			} else {
				loc := want[first].Time.Location()
				for i, r := range h.arch.recs {
					ch := want[first+uint64(i)]
					packable := ch.Err == nil && !ch.Time.IsZero() && ch.Time.Location() == loc
					require.Equal(t, !packable, r.odd, "chunk %d", ch.ID)
				}
			}
			require.True(t, h.covers(last))
			require.True(t, h.covers(first-1))
		})
	}
}

// filledHistory returns a history of n chunks, chunk i's Event named by event(i).
func filledHistory(n int, event func(i int) string) history {
	h := newHistory(n, math.MaxInt64)
	now := time.Now()
	for i := range n {
		ch := Chunk{ID: uint64(i + 1), Event: event(i), Data: []byte("x"), Time: now.Add(time.Duration(i))}
		drop, _ := h.plan(len(ch.Data), h.maxBytes)
		h.add(ch, drop)
	}
	return h
}

// Every chunk is packed whatever names its Events have, a few repeated as on a Gemini route or
// one of its own each, as a push stream's pusher may give them (POST /v1/streams/{id}/chunks
// takes any name), and each comes back with its own; only past the 65,535 names a record can
// index is a chunk kept whole.
func TestHistoryArchivePacksEveryEventName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		event func(i int) string
		odd   int
	}{
		{"default only", 100, func(int) string { return "" }, 0},
		{"a few", 100, func(i int) string { return []string{"", "delta", "done"}[i%3] }, 0},
		{"forty repeated", 1000, func(i int) string { return fmt.Sprint("response.event.", i%40) }, 0},
		{"each its own", 5000, func(i int) string { return fmt.Sprint("e", i) }, 0},
		{"past what a record indexes", math.MaxUint16 + 10, func(i int) string { return fmt.Sprint("e", i) }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := filledHistory(tc.n, tc.event)
			h.archive()
			require.Len(t, h.arch.odd, tc.odd)
			for i := range tc.n {
				ch := h.get(uint64(i + 1))
				require.Equal(t, uint64(i+1), ch.ID)
				require.Equal(t, tc.event(i), ch.Event, "chunk %d", i+1)
			}
		})
	}
}

// BenchmarkHistoryArchive packs a full default history (4,096 chunks) as a stream closes, under
// its lock: with the Event names a Gemini route gives, and with one of its own per chunk, which a
// push stream's pusher may send.
func BenchmarkHistoryArchive(b *testing.B) {
	for _, tc := range []struct {
		name  string
		event func(i int) string
	}{
		{"few names", func(i int) string { return []string{"", "", "", "done"}[i%4] }},
		{"distinct names", func(i int) string { return fmt.Sprint("e", i) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := filledHistory(DefaultHistorySize, tc.event)
			b.ReportAllocs()
			for b.Loop() {
				h := h
				h.archive()
			}
		})
	}
}

// A new ring starts at the size closed streams' rings reached: all of a steady length, or most
// of a mix with a few long streams among many short ones, which do not pull it up.
func TestRingSizerLearnsTheTypicalRing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		slots    func(i int) uint64
		min, max int
	}{
		{"none yet", nil, 0, 1},
		{"all 64", func(int) uint64 { return 64 }, 64, 64},
		{"empty streams", func(int) uint64 { return 0 }, 0, 1},
		{"32 to 96", func(i int) uint64 { return uint64(32 + i%65) }, 50, 70},
		{"a long one in ten", func(i int) uint64 { return []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 4096}[i%10] }, 1, 8}, // the arithmetic mean: 410
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r ringSizer
			for i := range 1000 {
				if tc.slots != nil {
					r.observe(tc.slots(i))
				}
			}
			require.GreaterOrEqual(t, r.size(), tc.min)
			require.LessOrEqual(t, r.size(), tc.max)
		})
	}
}

// A ring reserved ahead holds what a grown one does, and never more slots than HistorySize in use.
func TestHistoryReserve(t *testing.T) {
	for _, tc := range []struct{ size, reserve, pushed int }{{4096, 64, 64}, {4096, 64, 100}, {3, 64, 10}, {8, 0, 9}} {
		h := newHistory(tc.size, math.MaxInt64)
		h.reserve(tc.reserve)
		if tc.reserve > 1 {
			require.GreaterOrEqual(t, cap(h.buf), min(tc.reserve, tc.size))
		}
		for id := uint64(1); id <= uint64(tc.pushed); id++ {
			h.push(id, 1)
		}
		require.LessOrEqual(t, len(h.buf), tc.size)
		require.Equal(t, uint64(min(tc.pushed, tc.size)), h.reached())
		for id := h.oldest(); id <= h.last; id++ {
			require.Equal(t, id, h.get(id).ID)
		}
	}
}
