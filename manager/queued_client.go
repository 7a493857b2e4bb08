package manager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// Sink is a blocking, batch-capable consumer that a QueuedClient drives from its own goroutine.
type Sink interface {
	// Deliver hands over chunks in order. An error ends the client's Run.
	Deliver(ctx context.Context, chunks []Chunk) error
	// Closed is called once, after the last chunk, when the stream closed; end says how.
	Closed(ctx context.Context, end ClosedError) error
}

// Queue defaults.
const (
	DefaultQueueSize     = 8192
	DefaultMaxBatch      = 256
	DefaultMaxBatchBytes = 1 << 20
)

// QueueConfig configures a QueuedClient. Zero fields take the defaults; negative values are invalid.
type QueueConfig struct {
	// Size is the most chunks the queue holds. It should be at least the manager's HistorySize so
	// that a full replay fits.
	Size int
	// MaxBytes, when set, is the most chunk data (len(Data) summed) the queue holds; a chunk
	// arriving at an empty queue is always taken. A client that falls further behind drops out as
	// a slow client rather than pin chunks its stream's history has already let go of: the data is
	// shared, but what only a stalled client still references is outside the manager's budget.
	// Set it to at least the manager's HistoryBytes, so that a full replay fits, and leave room for
	// the largest chunk beyond that. Zero means no bound in bytes.
	MaxBytes int64
	// MaxBatch is the most chunks handed to one Deliver call.
	MaxBatch int
	// MaxBatchBytes is the most chunk data (len(Data) summed) handed to one Deliver call; a chunk
	// larger than it is handed over alone. A sink that encodes a batch into one buffer (the
	// gateway's SSE writer) thus holds at most about this much per subscriber, however long the
	// replay.
	MaxBatchBytes int
	// Passive marks a client that only observes the stream (see Passive).
	Passive bool
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
}

// QueuedClient turns a blocking Sink into a non-blocking Client: SendChunk enqueues into a bounded
// queue and returns, and Run, the one goroutine its owner starts, delivers batches to the sink.
//
// A queue that overflows has lost a chunk: the client turns inactive, logs that once, is removed by
// the manager at the next push, and Run returns ErrSlowClient after delivering what was queued before
// the overflow. The owner may then register a new client from LastID.
type QueuedClient struct {
	// q is first and part of the client, so that the manager's Active and SendChunk at every
	// push touch one object, not two.
	q        queue
	id       string
	sink     Sink
	maxBatch int
	maxBytes int
	passive  bool
	log      *slog.Logger
	lastID   atomic.Uint64
	running  atomic.Bool
	done     chan struct{}
}

var (
	_ Client        = (*QueuedClient)(nil)
	_ CloseReceiver = (*QueuedClient)(nil)
	_ Drainer       = (*QueuedClient)(nil)
	_ Passive       = (*QueuedClient)(nil)
)

// NewQueuedClient returns a client with the given ID delivering to sink.
func NewQueuedClient(id string, sink Sink, cfg QueueConfig) (*QueuedClient, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: queued client needs an id", ErrInvalidConfig)
	}
	if sink == nil {
		return nil, fmt.Errorf("%w: queued client %s needs a sink", ErrInvalidConfig, id)
	}
	if cfg.Size < 0 || cfg.MaxBytes < 0 || cfg.MaxBatch < 0 || cfg.MaxBatchBytes < 0 {
		return nil, fmt.Errorf("%w: QueueConfig Size, MaxBytes, MaxBatch and MaxBatchBytes must not be negative", ErrInvalidConfig)
	}
	cfg.Size = cmp.Or(cfg.Size, DefaultQueueSize)
	cfg.MaxBatch = cmp.Or(cfg.MaxBatch, DefaultMaxBatch)
	cfg.MaxBatchBytes = cmp.Or(cfg.MaxBatchBytes, DefaultMaxBatchBytes)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &QueuedClient{
		id:       id,
		sink:     sink,
		maxBatch: cfg.MaxBatch,
		maxBytes: cfg.MaxBatchBytes,
		passive:  cfg.Passive,
		log:      cfg.Logger,
		done:     make(chan struct{}),
	}
	c.q.init(cfg.Size, cfg.MaxBytes)
	return c, nil
}

// ID implements Client.
func (c *QueuedClient) ID() string { return c.id }

// SendChunk implements Client: it enqueues ch, or fails with ErrQueueFull when the queue is full.
func (c *QueuedClient) SendChunk(_ context.Context, ch Chunk) error { return c.q.push(ch) }

// StreamClosed implements CloseReceiver: Run calls the sink's Closed with end after the queued
// chunks.
func (c *QueuedClient) StreamClosed(_ context.Context, end ClosedError) error {
	c.q.close(end)
	return nil
}

// NotifyStreamClosed implements Client for callers other than the manager, which know the reason
// only: the sink is told StatusCompleted for ReasonCompleted and StatusError otherwise.
func (c *QueuedClient) NotifyStreamClosed(ctx context.Context, reason string) error {
	return c.StreamClosed(ctx, closedBy(reason))
}

// Active implements Client. It turns false on overflow and when Run returns.
func (c *QueuedClient) Active() bool { return c.q.active.Load() }

// Passive implements Passive: it reports QueueConfig.Passive.
func (c *QueuedClient) Passive() bool { return c.passive }

// Done implements Drainer: it is closed when Run returns.
func (c *QueuedClient) Done() <-chan struct{} { return c.done }

// LastID returns the ID of the last chunk the sink accepted, 0 before the first.
func (c *QueuedClient) LastID() uint64 { return c.lastID.Load() }

// Run delivers queued chunks to the sink until the stream closes (it then returns the sink's
// Closed error, usually nil), the queue overflows (ErrSlowClient), the sink fails, or ctx ends.
// It must be called once.
func (c *QueuedClient) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return c.ranTwice()
	}
	// The end of ctx wakes the loop like a chunk does, so that it waits on one channel: a
	// two-way select at every wake-up costs more than the rest of the loop (issue 15). It is
	// part of the queue's state, so that a wake-up checks no context either.
	defer c.ran(context.AfterFunc(ctx, c.q.stop))
	return c.loop(ctx)
}

// loop is Run's delivery loop. Run, loop and deliver are kept small, and what is rare done in
// calls of its own, since a Gemini caller's handler runs them under the sink's first write,
// which goes deepest, through net/http's header writing: the handler's stack must not outgrow
// 8 KiB there (gateway/doc.go, Performance).
func (c *QueuedClient) loop(ctx context.Context) error {
	var spare []Chunk
	for {
		lent := cap(spare) // the buffer take hands the producer when it finds chunks
		batch, st := c.q.take(spare)
		if err := c.deliver(ctx, batch); err != nil {
			return err
		}
		spare = recycle(batch)
		// A batch holds everything queued before its state was read, and nothing is queued after
		// an overflow or a close: once it is delivered, that state is final. Anything else that
		// happens after the take signals wake, so a wake-up takes once, rather than once more to
		// find the queue empty; except after a burst, whose buffers only a take that finds the
		// queue empty gives back (idleCap).
		switch {
		case st.full:
			return c.dropped()
		case st.end != nil:
			return c.closed(ctx, st.end)
		case st.stopped && len(batch) == 0:
			return ctx.Err()
		case st.stopped:
			continue // what is queued still goes out first, as it did
		case len(batch) > 0 && max(cap(batch), lent) > idleCap:
			continue
		}
		<-c.q.wake
	}
}

// ran ends a Run: it stops watching Run's context, then marks the client inactive and done.
func (c *QueuedClient) ran(stop func() bool) {
	stop()
	c.q.active.Store(false)
	close(c.done)
}

// ranTwice is the error of a second Run.
//
//go:noinline
func (c *QueuedClient) ranTwice() error {
	return fmt.Errorf("queued client %s: Run called twice", c.id)
}

// closed tells the sink of the stream's close.
//
//go:noinline
func (c *QueuedClient) closed(ctx context.Context, end *ClosedError) error {
	return c.sink.Closed(ctx, *end)
}

// dropped logs and returns the end of a client whose queue overflowed. It and deliverFailed
// are apart, and not inlined, so that their frames are not on Run's stack under the sink's
// writes: a Gemini caller's handler runs Run, and its stack must not outgrow 8 KiB there
// (gateway/doc.go, Performance).
//
//go:noinline
func (c *QueuedClient) dropped() error {
	c.log.Warn("client dropped: queue full", "client_id", c.id, "last_chunk_id", c.LastID())
	return ErrSlowClient
}

func (c *QueuedClient) deliver(ctx context.Context, batch []Chunk) error {
	for len(batch) > 0 {
		n := c.batchLen(batch)
		if err := c.sink.Deliver(ctx, batch[:n]); err != nil {
			return c.deliverFailed(ctx, err)
		}
		c.lastID.Store(batch[n-1].ID)
		batch = batch[n:]
	}
	return nil
}

// deliverFailed is the error Run returns for a Deliver that failed: ctx's own error when ctx
// ended it.
//
//go:noinline
func (c *QueuedClient) deliverFailed(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return ctxErr
	}
	return fmt.Errorf("deliver to client %s: %w", c.id, err)
}

// batchLen returns how many of the chunks go in the next Deliver: at least one, at most MaxBatch,
// and no more than MaxBatchBytes of data.
func (c *QueuedClient) batchLen(chunks []Chunk) int {
	n, size := 1, len(chunks[0].Data)
	for n < len(chunks) && n < c.maxBatch && size+len(chunks[n].Data) <= c.maxBytes {
		size += len(chunks[n].Data)
		n++
	}
	return n
}
