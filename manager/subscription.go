package manager

import (
	"context"
	"fmt"
	"sync"
)

// Subscription is an in-process consumer of one stream. Next returns chunks in order and, after the
// last one, a *ClosedError; one goroutine at a time may call Next.
type Subscription struct {
	m      *Manager
	s      *stream
	client *subClient
	batch  []Chunk
	pos    int
	lastID uint64
	end    error
}

// subClient is the Client a Subscription registers; its queue is bounded by
// Config.SubscriptionQueue.
type subClient struct {
	id   string
	q    *queue
	once sync.Once
	done chan struct{}
}

var (
	_ Client        = (*subClient)(nil)
	_ CloseReceiver = (*subClient)(nil)
	_ Drainer       = (*subClient)(nil)
)

func (c *subClient) ID() string                                  { return c.id }
func (c *subClient) SendChunk(_ context.Context, ch Chunk) error { return c.q.push(ch) }
func (c *subClient) Active() bool                                { return c.q.active.Load() }
func (c *subClient) Done() <-chan struct{}                       { return c.done }
func (c *subClient) finish()                                     { c.once.Do(func() { close(c.done) }) }
func (c *subClient) StreamClosed(_ context.Context, end ClosedError) error {
	c.q.close(end)
	return nil
}
func (c *subClient) NotifyStreamClosed(ctx context.Context, reason string) error {
	return c.StreamClosed(ctx, closedBy(reason))
}

// Subscribe registers an in-process consumer on the stream, replaying retained chunks with an ID
// above afterID first (0 replays everything retained). On a retained closed stream it replays and
// then ends with a *ClosedError.
func (m *Manager) Subscribe(ctx context.Context, streamID string, afterID uint64) (*Subscription, error) {
	s, err := m.stream(streamID)
	if err != nil {
		return nil, err
	}
	c := &subClient{id: "sub-" + newID(), q: newQueue(m.cfg.SubscriptionQueue, 0), done: make(chan struct{})}
	if err := m.registerOn(ctx, s, c, afterID, true); err != nil {
		return nil, err
	}
	return &Subscription{m: m, s: s, client: c, lastID: afterID}, nil
}

// ID returns the subscription's client ID.
func (sub *Subscription) ID() string { return sub.client.id }

// LastID returns the ID of the last chunk Next returned (or the afterID it started from).
func (sub *Subscription) LastID() uint64 { return sub.lastID }

// Next returns the next chunk, blocking until one arrives or ctx ends. After the last chunk of a
// closed stream it returns a *ClosedError; after a queue overflow it returns an error wrapping
// ErrSlowClient (subscribe again from LastID).
func (sub *Subscription) Next(ctx context.Context) (Chunk, error) {
	for {
		if sub.pos < len(sub.batch) {
			ch := sub.batch[sub.pos]
			sub.batch[sub.pos] = Chunk{}
			sub.pos++
			sub.lastID = ch.ID
			return ch, nil
		}
		if sub.end != nil {
			return Chunk{}, sub.end
		}
		var st queueState
		sub.batch, st = sub.client.q.take(recycle(sub.batch))
		sub.pos = 0
		switch {
		case len(sub.batch) > 0:
			continue
		case st.full:
			sub.end = fmt.Errorf("subscription %s on stream %s after chunk %d: %w", sub.client.id, sub.s.id, sub.lastID, ErrSlowClient)
			sub.client.finish()
			continue
		case st.end != nil:
			sub.end = st.end
			sub.client.finish()
			continue
		}
		select {
		case <-sub.client.q.wake:
		case <-ctx.Done():
			return Chunk{}, ctx.Err()
		}
	}
}

// Close unsubscribes. It is safe to call more than once and after the stream closed.
func (sub *Subscription) Close() error {
	sub.client.finish()
	sub.client.q.active.Store(false)
	sub.m.unregister(sub.s, sub.client.id)
	return nil
}
