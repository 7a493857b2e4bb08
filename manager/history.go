package manager

// history keeps the last max chunks of a stream. Chunk IDs are consecutive from 1, so chunk id lives
// in slot (id-1) % max: the slice grows by append until it holds max chunks, then wraps. add keeps
// the next slot in hand so that pushing never divides; only replay (get) does.
type history struct {
	buf  []Chunk
	max  uint64
	last uint64 // ID of the newest chunk, 0 before the first
	next int    // the slot the next chunk goes to once buf is full
}

func (h *history) add(ch Chunk) {
	if uint64(len(h.buf)) < h.max {
		h.buf = append(h.buf, ch)
	} else {
		h.buf[h.next] = ch
		h.next++
		if h.next == len(h.buf) {
			h.next = 0
		}
	}
	h.last = ch.ID
}

// oldest returns the ID of the oldest retained chunk, or 0 when there is none.
func (h *history) oldest() uint64 {
	switch {
	case h.last == 0:
		return 0
	case h.last <= h.max:
		return 1
	}
	return h.last - h.max + 1
}

// covers reports whether every chunk after afterID is still retained.
func (h *history) covers(afterID uint64) bool {
	return afterID >= h.last || afterID+1 >= h.oldest()
}

func (h *history) get(id uint64) Chunk { return h.buf[(id-1)%h.max] }
