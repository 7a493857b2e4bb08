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

// writer appends what this replica does to a stream it owns, in call order, on one goroutine:
// chunks (coalesced: the chunks that queued up while an append was in flight go in one
// AppendBatch) and the close. Each chunk goes to Redis first and then into the local copy with
// the ID Redis gave it, so the copy never holds a chunk the cluster does not. A chunk Redis does
// not take ends the stream with 503 UNAVAILABLE: at once for the local clients (an error chunk of
// the copy's own), and in Redis as soon as it answers again. The writer returns when the local
// copy closes, whoever closed it, after making sure the stream is closed in Redis too.
type writer struct {
	n    *Node
	r    *replica
	done <-chan struct{} // the local copy's
	wake chan struct{}

	mu   sync.Mutex
	ops  []*op
	gone error // once set, every new op is refused with it

	closedInRedis bool // the writer's own: the stream is known closed in Redis
}

// op is one queued action: a chunk, or the close.
type op struct {
	ch     manager.Chunk
	close  bool
	reason string
	se     *manager.StreamError // the close's error chunk; nil closes completed
	res    chan opResult        // capacity 1; nil when nobody waits
}

type opResult struct {
	id     uint64 // a chunk's ID
	closed bool   // a close: this op closed the stream
	err    error
}

func (o *op) answer(res opResult) {
	if o.res != nil {
		o.res <- res
	}
}

// enqueue queues a chunk without waiting for it, unless writerQueue chunks are queued already.
func (w *writer) enqueue(ctx context.Context, ch manager.Chunk) error {
	o := &op{ch: ch}
	w.mu.Lock()
	full := len(w.ops) >= writerQueue
	w.mu.Unlock()
	if !full {
		return w.submit(o)
	}
	_, err := w.await(ctx, o)
	return err
}

// push queues a chunk and waits for its ID.
func (w *writer) push(ctx context.Context, ch manager.Chunk) (uint64, error) {
	res, err := w.await(ctx, &op{ch: ch})
	return res.id, err
}

// close queues the close and waits for it; it reports whether this call closed the stream.
func (w *writer) close(ctx context.Context, reason string, se *manager.StreamError) (bool, error) {
	res, err := w.await(ctx, &op{close: true, reason: reason, se: se})
	return res.closed, err
}

func (w *writer) await(ctx context.Context, o *op) (opResult, error) {
	o.res = make(chan opResult, 1)
	if err := w.submit(o); err != nil {
		return opResult{}, err
	}
	select {
	case res := <-o.res:
		return res, res.err
	case <-ctx.Done():
		return opResult{}, ctx.Err()
	}
}

func (w *writer) submit(o *op) error {
	w.mu.Lock()
	if w.gone != nil {
		err := w.gone
		w.mu.Unlock()
		return err
	}
	w.ops = append(w.ops, o)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

func (w *writer) take() []*op {
	w.mu.Lock()
	defer w.mu.Unlock()
	ops := w.ops
	w.ops = nil
	return ops
}

// refuse makes every later op fail with manager.ErrClosed and answers the queued ones with err.
func (w *writer) refuse(err error) {
	w.mu.Lock()
	if w.gone == nil {
		w.gone = fmt.Errorf("stream %s: %w", w.r.id, manager.ErrClosed)
	}
	ops := w.ops
	w.ops = nil
	w.mu.Unlock()
	answerAll(ops, err)
}

func answerAll(ops []*op, err error) {
	for _, o := range ops {
		o.answer(opResult{err: err})
	}
}

// refused returns the error new ops are refused with, nil while they are taken.
func (w *writer) refused() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gone
}

func (w *writer) run() {
	defer w.n.wg.Done()
	for {
		select {
		case <-w.n.stop:
			w.refuse(errNodeClosed())
			return
		case <-w.done:
			w.refuse(fmt.Errorf("stream %s: %w", w.r.id, manager.ErrClosed))
			w.finish()
			return
		case <-w.wake:
		}
		for ops := w.take(); len(ops) > 0; ops = w.take() {
			w.apply(ops)
		}
	}
}

// apply runs queued ops in order: the chunks between two closes in batches.
func (w *writer) apply(ops []*op) {
	for len(ops) > 0 {
		if err := w.refused(); err != nil {
			answerAll(ops, err)
			return
		}
		if ops[0].close {
			w.doClose(ops[0])
			ops = ops[1:]
			continue
		}
		k, size := 0, 0
		for k < len(ops) && k < w.n.cfg.MaxBatch && !ops[k].close && (k == 0 || size+len(ops[k].ch.Data) <= maxBatchBytes) {
			size += len(ops[k].ch.Data)
			k++
		}
		w.doAppend(ops[:k])
		ops = ops[k:]
	}
}

func (w *writer) doAppend(ops []*op) {
	chs := make([]manager.Chunk, len(ops))
	for i, o := range ops {
		chs[i] = o.ch
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	last, err := w.n.store.AppendBatch(ctx, w.r.id, chs)
	switch {
	case err == nil:
		first := last - uint64(len(chs)) + 1
		for i := range chs {
			chs[i].ID = first + uint64(i)
			w.n.feed(ctx, w.r, chs[i])
			ops[i].answer(opResult{id: chs[i].ID})
		}
	case errors.Is(err, manager.ErrClosed):
		// Another replica closed it: the local copy learns how, and ends.
		w.closedInRedis = true
		answerAll(ops, err)
		w.refuse(err)
		w.n.catchUp(ctx, w.r)
	default:
		w.n.log.Error("chunk not stored in the cluster; the stream ends", "stream_id", w.r.id, "error", err)
		answerAll(ops, err)
		w.refuse(err)
		se := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "the cluster store did not take the stream's next chunk"}
		w.endLocal(manager.ReasonTerminatedPrefix+se.Message, se)
	}
}

func (w *writer) doClose(o *op) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	closed, err := w.n.store.CloseStream(ctx, w.r.id, o.reason, o.se)
	if err == nil {
		w.closedInRedis = true
		w.refuse(fmt.Errorf("stream %s: %w", w.r.id, manager.ErrClosed))
		w.n.catchUp(ctx, w.r)
		w.endLocal(o.reason, o.se) // in case Redis could not be read back
		o.answer(opResult{closed: closed})
		return
	}
	// The local copy ends as asked now; Redis learns it as soon as it answers (finish).
	w.refuse(err)
	w.endLocal(o.reason, o.se)
	o.answer(opResult{closed: true, err: err})
}

// endLocal ends the local copy: with an error chunk of its own when se is set, since the cluster
// may never have it to give.
func (w *writer) endLocal(reason string, se *manager.StreamError) {
	ctx := context.Background()
	var err error
	if se != nil {
		err = w.n.m.HandleStreamError(ctx, w.r.id, se, true)
	} else {
		err = w.n.m.CloseStream(ctx, w.r.id, reason)
	}
	if err != nil && !manager.IsGone(err) {
		w.n.log.Warn("end local copy", "stream_id", w.r.id, "error", err)
	}
}

// finish runs once the local copy closed: the stream is closed in Redis as it closed here, unless
// it is known to be; while Redis is unavailable it tries again with backoff until the Node stops.
// Then the copy is no longer pinned by its producer.
func (w *writer) finish() {
	defer w.n.unproduce(w.r)
	if w.closedInRedis {
		return
	}
	info, err := w.n.m.Info(context.Background(), w.r.id)
	if err != nil {
		return
	}
	var se *manager.StreamError
	if info.Status == manager.StatusError {
		se = info.Err
		if se == nil {
			se = &manager.StreamError{Code: 500, Status: "INTERNAL", Message: info.CloseReason}
		}
	}
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(50*time.Millisecond), backoff.WithMaxInterval(maxBackoff), backoff.WithMaxElapsedTime(0))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		_, err := w.n.store.CloseStream(ctx, w.r.id, info.CloseReason, se)
		cancel()
		if err == nil || !errors.Is(err, ErrUnavailable) {
			return
		}
		t := time.NewTimer(bo.NextBackOff())
		select {
		case <-w.n.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// unproduce releases the pin an owned copy's producer held.
func (n *Node) unproduce(r *replica) {
	n.mu.Lock()
	r.producing = false
	evicted := n.unpinLocked(r)
	n.mu.Unlock()
	n.teardown(evicted)
}
