package manager

import (
	"math"
	"slices"
	"sync/atomic"
)

// history keeps the newest chunks of a stream: at most max of them and, beyond the newest one, at
// most maxBytes of chunk data. The retained chunks are the IDs first..last, consecutive, so chunk id
// lives in slot (id-1-base) % max: the slice grows by append until it holds max chunks, then wraps. head
// and next keep the oldest and the next slot in hand so that pushing never divides; only replay
// (get) does. A dropped chunk's slot is cleared at once, so that its data can be freed. Once its
// stream closed, the chunks are packed into an archive and buf is let go.
type history struct {
	buf      []Chunk
	arch     *archive // the chunks of a closed stream, once archived; buf is nil then
	max      uint64
	maxBytes int64
	bytes    int64  // len(Data) summed over the retained chunks
	first    uint64 // ID of the oldest retained chunk, 0 before the first
	last     uint64 // ID of the newest chunk, 0 before the first
	base     uint64 // the ID before the first chunk ever added: 0, or a mirror's start
	head     int    // the slot of chunk first
	next     int    // the slot the next chunk goes to once buf is full
}

func newHistory(size int, maxBytes int64) history {
	return history{max: uint64(size), maxBytes: maxBytes}
}

// reserve gives the ring room for about n chunks (HistorySize at most) before the first is
// added; the room is rounded up to the allocation's size, as append rounds it.
func (h *history) reserve(n int) {
	if n > 1 {
		h.buf = slices.Grow(h.buf, int(min(uint64(n), h.max)))
	}
}

// reached is how many slots the ring grew to: every chunk pushed, up to HistorySize.
func (h *history) reached() uint64 {
	return min(h.last-h.base, h.max)
}

// ringSizer learns how large the rings of a manager's streams grow, so that a new stream's ring
// is allocated once at about that size: grown by append from one slot, a 64-chunk stream's ring
// was reallocated seven times (1, 2, 4, ... 64 slots of 80 bytes), 10 KB allocated for 5 KB
// kept, about a fifth of all a 1,000-stream Gemini run allocated (issue 15). It keeps a moving
// average of log2 of the slots closed streams reached, weighting the newest close 1/8: a
// geometric mean, which a few long streams among many short ones do not pull up as they would
// an arithmetic one (a short stream holds its ring's unused slots until it closes). A stream
// longer than that grows by append from there. Closes race on it without a lock: a lost update
// only delays the average a little.
type ringSizer struct {
	log2 atomic.Uint64 // math.Float64bits of the average
}

func (r *ringSizer) observe(slots uint64) {
	old := math.Float64frombits(r.log2.Load())
	r.log2.Store(math.Float64bits(old + (math.Log2(float64(max(slots, 1)))-old)/8))
}

// size is the average in slots, rounded up.
func (r *ringSizer) size() int { return int(math.Ceil(math.Exp2(math.Float64frombits(r.log2.Load())))) }

// count returns the number of retained chunks.
func (h *history) count() uint64 {
	if h.last == 0 {
		return 0
	}
	return h.last - h.first + 1
}

// plan returns how many of the oldest chunks must go, and how many bytes they hold, for a chunk of
// n bytes to be added within the count bound and within limit bytes. The new chunk itself is always
// kept, so when n alone is over limit every older chunk goes.
func (h *history) plan(n int, limit int64) (drop uint64, freed int64) {
	kept := h.count()
	slot := h.head
	for kept > 0 && (kept >= h.max || h.bytes-freed+int64(n) > limit) {
		freed += int64(len(h.buf[slot].Data))
		drop++
		kept--
		slot++
		if uint64(slot) == h.max {
			slot = 0
		}
	}
	return drop, freed
}

// add drops the drop oldest chunks (as plan said) and appends ch.
func (h *history) add(ch Chunk, drop uint64) {
	for range drop {
		h.bytes -= int64(len(h.buf[h.head].Data))
		h.buf[h.head] = Chunk{}
		h.first++
		h.head++
		if uint64(h.head) == h.max {
			h.head = 0
		}
	}
	if uint64(len(h.buf)) < h.max {
		h.buf = append(h.buf, ch)
	} else {
		h.buf[h.next] = ch
		h.next++
		if h.next == len(h.buf) {
			h.next = 0
		}
	}
	if h.first == 0 {
		h.first = ch.ID
	}
	h.last = ch.ID
	h.bytes += int64(len(ch.Data))
}

// oldest returns the ID of the oldest retained chunk, or 0 when there is none.
func (h *history) oldest() uint64 { return h.first }

// covers reports whether every chunk after afterID is still retained.
func (h *history) covers(afterID uint64) bool {
	return afterID >= h.last || afterID+1 >= h.first
}

func (h *history) get(id uint64) Chunk {
	if h.arch != nil {
		return h.arch.get(int(id-h.first), id)
	}
	return h.buf[(id-1-h.base)%h.max]
}

// startAfter makes an empty history whose first chunk will be lastID+1: a mirror's, which begins
// where its subscriber or its source's history did.
func (h *history) startAfter(lastID uint64) {
	h.first, h.last, h.base = lastID+1, lastID, lastID
}

// archive packs the retained chunks into an archive, oldest first, and lets the ring go. A closed
// stream's history is only read from then on, for RetainClosed: the ring's spare slots (up to
// HistorySize of them, or what append's doubling left) and its 80-byte Chunks would otherwise be
// held that long (see archive). The chunks' Data is not copied: it stays shared with every client.
// An empty history needs no archive: nothing is ever read from it.
func (h *history) archive() {
	n := int(h.count())
	if n == 0 {
		h.buf = nil
		return
	}
	a := &archive{recs: make([]record, n)}
	p := packer{a: a}
	for i := range n {
		ch := h.get(h.first + uint64(i))
		if i == 0 {
			a.loc = ch.Time.Location()
		}
		a.recs[i] = p.pack(i, ch)
	}
	h.arch, h.buf = a, nil
}
