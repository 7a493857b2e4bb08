package manager

import (
	"sync"
	"sync/atomic"
)

// queue is the bounded, non-blocking buffer behind QueuedClient and Subscription. The producer
// (the manager, under a stream lock) appends; one consumer swaps the whole backlog out at once.
// Two slices alternate between the roles, so a steady stream allocates nothing.
//
// A push touches every field, so they are laid out in push's order of use, the ones Active reads
// first: at a chunk every 20 ms per stream the queue is cold each time, and each cache line costs.
type queue struct {
	mu       sync.Mutex
	active   atomic.Bool
	full     bool
	stopped  bool         // the consumer's context ended (QueuedClient)
	end      *ClosedError // set when the stream closed
	pending  []Chunk
	bytes    int64 // len(Data) summed over pending
	max      int
	maxBytes int64         // bound on the data of pending; 0 means none
	wake     chan struct{} // capacity 1: "something changed"
}

// queueState is the queue's end state as seen by the consumer.
type queueState struct {
	end     *ClosedError // the stream closed: how
	full    bool         // the queue overflowed: a chunk was lost
	stopped bool         // stop was called
}

func newQueue(max int, maxBytes int64) *queue {
	q := new(queue)
	q.init(max, maxBytes)
	return q
}

// init readies a zero queue, for a queue that is a field of its client.
func (q *queue) init(max int, maxBytes int64) {
	q.max, q.maxBytes, q.wake = max, maxBytes, make(chan struct{}, 1)
	q.active.Store(true)
}

// push appends ch. It fails with ErrQueueFull, once, when the queue is at its bound in chunks or in
// bytes (a chunk arriving at an empty queue is always taken); from then on the queue is inactive
// and drops everything.
func (q *queue) push(ch Chunk) error {
	q.mu.Lock()
	if q.full || q.end != nil {
		q.mu.Unlock()
		return nil
	}
	n := int64(len(ch.Data))
	if len(q.pending) >= q.max || (q.maxBytes > 0 && len(q.pending) > 0 && q.bytes+n > q.maxBytes) {
		q.full = true
		q.active.Store(false)
		q.mu.Unlock()
		q.signal()
		return ErrQueueFull
	}
	q.pending = append(q.pending, ch)
	q.bytes += n
	q.mu.Unlock()
	q.signal()
	return nil
}

func (q *queue) close(end ClosedError) {
	q.mu.Lock()
	if q.end == nil {
		q.end = &end
	}
	q.mu.Unlock()
	q.signal()
}

// stop tells the consumer that its context ended, through the state take returns and a signal:
// the consumer then checks no context at its wake-ups, whose chain of parents would be cold.
func (q *queue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// idleCap is the largest buffer, in chunks, a caught-up queue keeps; an idle client holds at most
// two. Bursts beyond it (a long replay, a stalled consumer) give their memory back once drained.
const idleCap = 256

// take returns everything queued, handing spare (emptied by the caller) to the producer, and the
// end state. Chunks in the batch were queued before the end state was set. When nothing is queued
// the consumer has caught up, and buffers a burst grew are given back; under steady load the two
// buffers keep trading places and nothing is allocated.
func (q *queue) take(spare []Chunk) ([]Chunk, queueState) {
	q.mu.Lock()
	batch := q.pending
	if len(batch) == 0 {
		if cap(batch) > idleCap {
			q.pending = nil
		}
		batch = spare[:0]
		if cap(spare) > idleCap {
			batch = nil
		}
	} else {
		q.pending = spare[:0]
		q.bytes = 0
	}
	st := queueState{end: q.end, full: q.full, stopped: q.stopped}
	q.mu.Unlock()
	return batch, st
}

// recycle clears a delivered batch so it no longer pins chunk data, and returns it for reuse.
func recycle(batch []Chunk) []Chunk {
	clear(batch)
	return batch[:0]
}
