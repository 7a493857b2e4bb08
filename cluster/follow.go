package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/streamgate/streamgate/manager"
)

const (
	// followQueue bounds the live messages a Follower holds while its handler is busy or it
	// re-reads the history; past it the Follower drops them and reads the history instead.
	followQueue = 4096
	// followRetry bounds how long a Follower retries a history read that failed with
	// ErrUnavailable before it ends with that error.
	followRetry = 30 * time.Second
)

// FollowHandler receives what a Follower stitched together; both functions are required. They run
// on the Follower's goroutine, one call at a time, and must not call the Follower's Close.
type FollowHandler struct {
	// Chunk receives every chunk after the resume point once, in ID order, with no gap.
	Chunk func(manager.Chunk)
	// End is called once when the Follower stops by itself: with the stream's close, after its
	// last chunk, or with the error that made following impossible (the history was trimmed past
	// the last chunk delivered, the stream vanished, Redis stayed unavailable).
	End func(closed *Closed, err error)
}

// Follower delivers one stream's history after a resume point and then its live chunks, stitched
// by chunk ID: live messages are buffered while the history is read, duplicates are dropped, and a
// gap (a chunk whose predecessor was never seen, a resync after a lost connection, an overflow)
// is filled by reading the history again.
type Follower struct {
	store  *Store
	id     string
	h      FollowHandler
	del    func()
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	mu       sync.Mutex
	queue    []Message
	overflow bool
}

// Follow starts following stream id after afterID. It subscribes first and then reads the history,
// so nothing appended in between is missed; the history read's errors (manager.ErrNotFound,
// manager.ErrHistoryTrimmed, manager.ErrInvalidAfterID, ErrUnavailable) are returned here, before
// anything was delivered. Close stops the Follower.
func (s *Store) Follow(ctx context.Context, id string, afterID uint64, h FollowHandler) (*Follower, error) {
	if h.Chunk == nil || h.End == nil {
		return nil, fmt.Errorf("follow stream %s: FollowHandler needs both Chunk and End", id)
	}
	f := &Follower{store: s, id: id, h: h, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	del, err := s.Subscribe(ctx, id, f.enqueue)
	if err != nil {
		return nil, err
	}
	f.del = del
	page, err := s.ReadRange(ctx, id, afterID, 0)
	if err != nil {
		del()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go f.run(runCtx, afterID, page)
	return f, nil
}

// Close stops the Follower and waits for its goroutine; End is not called.
func (f *Follower) Close() {
	f.cancel()
	<-f.done
}

// enqueue runs on the live connection's reader goroutine: it only queues.
func (f *Follower) enqueue(m Message) {
	f.mu.Lock()
	if len(f.queue) >= followQueue {
		f.queue, f.overflow = f.queue[:0], true
	}
	f.queue = append(f.queue, m)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Follower) take() ([]Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, over := f.queue, f.overflow
	f.queue, f.overflow = nil, false
	return q, over
}

func (f *Follower) run(ctx context.Context, last uint64, page Page) {
	defer close(f.done)
	defer f.del()
	last, closed, err := f.apply(page, last)
	for err == nil && closed == nil {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		msgs, over := f.take()
		reread := over
		for _, m := range msgs {
			if reread || closed != nil {
				break
			}
			switch m.Kind {
			case MessageChunk:
				switch {
				case m.Chunk.ID == last+1:
					f.h.Chunk(m.Chunk)
					last++
				case m.Chunk.ID > last+1:
					reread = true // its predecessor never arrived
				}
			case MessageClosed:
				if m.Closed.LastChunkID > last {
					reread = true // the history holds the chunks before the close
					break
				}
				closed = &m.Closed
			case MessageResync:
				reread = true
			}
		}
		if reread && closed == nil {
			page, err = f.reread(ctx, last)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				last, closed, err = f.apply(page, last)
			}
		}
	}
	f.h.End(closed, err)
}

// apply delivers a page's chunks after last and reports the close once the page reaches it.
func (f *Follower) apply(p Page, last uint64) (uint64, *Closed, error) {
	for _, ch := range p.Chunks {
		switch {
		case ch.ID <= last:
			continue
		case ch.ID > last+1:
			return last, nil, fmt.Errorf("follow stream %s: history skips from chunk %d to %d", f.id, last, ch.ID)
		}
		f.h.Chunk(ch)
		last = ch.ID
	}
	if p.Closed != nil && last >= p.Closed.LastChunkID {
		return last, p.Closed, nil
	}
	return last, nil, nil
}

// reread reads the history after last, retrying while Redis is unavailable.
func (f *Follower) reread(ctx context.Context, last uint64) (Page, error) {
	bo := backoff.WithContext(backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(50*time.Millisecond), backoff.WithMaxInterval(maxBackoff),
		backoff.WithMaxElapsedTime(followRetry)), ctx)
	return backoff.RetryWithData(func() (Page, error) {
		p, err := f.store.ReadRange(ctx, f.id, last, 0)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return p, backoff.Permanent(err)
		}
		return p, err
	}, bo)
}
