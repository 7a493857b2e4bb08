package cluster

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// replica is the Node's record of one local copy of a stream: a mirror in the manager, the
// Follower that feeds it from Redis, and, on the owner, the writer that appends its producer's
// chunks. It is guarded by Node.mu, but for the fields noted.
type replica struct {
	id    string
	ready chan struct{} // closed once set up, or once its setup failed
	err   error         // the setup's failure; the replica is then out of Node.replicas
	gone  chan struct{} // closed once torn down

	// Set during setup, read after ready.
	follower *Follower
	w        *writer // the owner's writer; nil on other replicas

	pending   int                 // registrations and setups under way
	clients   map[string]struct{} // clients registered through the Node
	producing bool                // owned, and its local copy is active
	cached    *list.Element       // its place in Node.cache; nil when in use
	cachedAt  time.Time

	wakeMu sync.Mutex
	wake   chan struct{} // closed on the next chunk fed in; made by a waiter

	seenLast uint64 // the janitor's: last chunk at the previous inactivity tick
	quiet    int    // the janitor's: ticks in a row without a chunk

	watchedMu    sync.Mutex // serializes reportWatched, so that its last write is the latest state
	watched      bool       // what Redis was last told: non-passive clients here; guarded by watchedMu
	watchedEpoch string     // the lease epoch that mark was written under; guarded by watchedMu
}

func newReplica(id string) *replica {
	return &replica{id: id, ready: make(chan struct{}), gone: make(chan struct{}), clients: make(map[string]struct{}), pending: 1}
}

func (r *replica) pinned() bool { return r.pending > 0 || len(r.clients) > 0 || r.producing }

// signal wakes whoever waits for the copy to advance.
func (r *replica) signal() {
	r.wakeMu.Lock()
	if r.wake != nil {
		close(r.wake)
		r.wake = nil
	}
	r.wakeMu.Unlock()
}

// advanced returns a channel closed on the next signal.
func (r *replica) advanced() <-chan struct{} {
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	if r.wake == nil {
		r.wake = make(chan struct{})
	}
	return r.wake
}

// lockSettled locks n once no copy of stream id is being torn down, or returns why it cannot:
// the node is closed, or ctx ended while a copy was leaving. claim and acquire both start so.
func (n *Node) lockSettled(ctx context.Context, id string) error {
	for {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return errNodeClosed()
		}
		l := n.leaving[id]
		if l == nil {
			return nil
		}
		n.mu.Unlock()
		if err := wait(ctx, l.gone); err != nil {
			return err
		}
	}
}

// claim makes the placeholder of a stream this replica is about to create. A cached copy of an
// older stream with the ID is forgotten first; a copy in use means the ID is taken.
func (n *Node) claim(ctx context.Context, id string) (*replica, error) {
	if err := manager.ValidateID(id); err != nil {
		return nil, err
	}
	for {
		if err := n.lockSettled(ctx, id); err != nil {
			return nil, err
		}
		old := n.replicas[id]
		if old == nil {
			r := newReplica(id)
			n.replicas[id] = r
			n.mu.Unlock()
			return r, nil
		}
		if old.pinned() {
			n.mu.Unlock()
			return nil, fmt.Errorf("create stream %s: %w", id, manager.ErrExists)
		}
		n.evictLocked(old)
		n.mu.Unlock()
		n.teardown([]*replica{old})
	}
}

// settle ends a setup: the replica is ready, or out of the map with its error.
func (n *Node) settle(r *replica, err error) {
	n.mu.Lock()
	r.pending--
	if err != nil {
		r.err = err
		if n.replicas[r.id] == r {
			delete(n.replicas, r.id)
		}
		close(r.gone)
	}
	close(r.ready)
	evicted := n.unpinLocked(r)
	n.mu.Unlock()
	n.teardown(evicted)
}

// acquire returns the ready local copy of a stream, pinned for one registration, setting it up
// as a mirror that begins after chunk afterID when there is none.
func (n *Node) acquire(ctx context.Context, id string, afterID uint64) (*replica, error) {
	for {
		if err := n.lockSettled(ctx, id); err != nil {
			return nil, err
		}
		r := n.replicas[id]
		if r == nil {
			r = newReplica(id)
			n.replicas[id] = r
			n.mu.Unlock()
			err := n.setupMirror(ctx, r, afterID)
			if err == nil {
				n.mu.Lock()
				r.pending++ // the registration's
				n.mu.Unlock()
			}
			n.settle(r, err)
			if err != nil {
				return nil, err
			}
			return r, nil
		}
		r.pending++
		n.uncacheLocked(r)
		n.mu.Unlock()
		err := wait(ctx, r.ready)
		if err == nil && r.err == nil {
			return r, nil
		}
		n.release(r, "", false)
		if err != nil {
			return nil, err
		}
		// Its setup failed for its own resume point; set one up for ours.
	}
}

// setupMirror makes the local copy of a stream owned elsewhere, beginning after chunk afterID,
// and follows it from there. The Follower's first read answers for the resume point: 404, 410,
// 400 before anything was delivered.
func (n *Node) setupMirror(ctx context.Context, r *replica, afterID uint64) error {
	meta, err := n.store.Info(ctx, r.id)
	if err != nil {
		return err
	}
	if err := n.m.CreateMirror(ctx, mirrorOptions(meta), afterID); err != nil {
		return err
	}
	f, err := n.store.Follow(ctx, r.id, afterID, n.handler(r))
	if err != nil {
		return errors.Join(err, n.m.ForgetMirror(ctx, r.id))
	}
	r.follower = f
	return nil
}

// release ends one registration on r: the client is counted when it was registered.
func (n *Node) release(r *replica, clientID string, registered bool) {
	n.mu.Lock()
	r.pending--
	if registered {
		r.clients[clientID] = struct{}{}
	}
	evicted := n.unpinLocked(r)
	n.mu.Unlock()
	n.teardown(evicted)
}

// drop forgets a copy the manager no longer has.
func (n *Node) drop(r *replica) {
	n.mu.Lock()
	if n.replicas[r.id] != r || r.pinned() {
		n.mu.Unlock()
		return
	}
	n.evictLocked(r)
	n.mu.Unlock()
	n.teardown([]*replica{r})
}

// unpinLocked puts a copy nobody uses into the cache and returns the copies the cache let go,
// for the caller to tear down once it released n.mu.
func (n *Node) unpinLocked(r *replica) []*replica {
	if r.pinned() || r.cached != nil || n.replicas[r.id] != r || n.closed {
		return nil
	}
	r.cachedAt = time.Now()
	r.cached = n.cache.PushBack(r)
	var evicted []*replica
	for n.cache.Len() > n.cfg.CacheSize {
		old := n.cache.Front().Value.(*replica)
		n.evictLocked(old)
		evicted = append(evicted, old)
	}
	return evicted
}

func (n *Node) uncacheLocked(r *replica) {
	if r.cached != nil {
		n.cache.Remove(r.cached)
		r.cached = nil
	}
}

// evictLocked takes a copy out of the map; teardown then stops and forgets it.
func (n *Node) evictLocked(r *replica) {
	n.uncacheLocked(r)
	delete(n.replicas, r.id)
	n.leaving[r.id] = r
}

// teardown stops the Followers of evicted copies and forgets them. It must be called without
// n.mu: a Follower's handler may take it.
func (n *Node) teardown(evicted []*replica) {
	for _, r := range evicted {
		if r.follower != nil {
			r.follower.Close()
		}
		if err := n.m.ForgetMirror(context.Background(), r.id); err != nil && !manager.IsGone(err) {
			n.log.Warn("forget local copy", "stream_id", r.id, "error", err)
		}
		n.mu.Lock()
		delete(n.leaving, r.id)
		n.mu.Unlock()
		close(r.gone)
	}
}

// expireCache tears down the cached copies older than CacheTTL.
func (n *Node) expireCache(now time.Time) {
	n.mu.Lock()
	var evicted []*replica
	for e := n.cache.Front(); e != nil; e = n.cache.Front() {
		r := e.Value.(*replica)
		if now.Sub(r.cachedAt) < n.cfg.CacheTTL {
			break
		}
		n.evictLocked(r)
		evicted = append(evicted, r)
	}
	n.mu.Unlock()
	n.teardown(evicted)
}

// readyReplica returns the ready local copy of a stream, or nil.
func (n *Node) readyReplica(id string) *replica {
	n.mu.Lock()
	r := n.replicas[id]
	n.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.ready:
		if r.err == nil {
			return r
		}
	default:
	}
	return nil
}

// writerOf returns the writer of a stream this replica owns and still produces, or nil.
func (n *Node) writerOf(id string) *writer {
	if r := n.readyReplica(id); r != nil && r.w != nil {
		return r.w
	}
	return nil
}

// registerOn registers c on the local copy after afterID. The copy may begin later than that
// (it began at another client's resume point, or rolled): the chunks before its first are read
// from Redis and handed to c first, and the registration is tried again after the last of them.
// It may also lag the cluster by the chunks in flight to it: then it waits for them.
func (n *Node) registerOn(ctx context.Context, r *replica, c manager.Client, afterID uint64) error {
	last, waited := afterID, false
	for {
		err := n.m.RegisterClientFrom(ctx, r.id, c, last)
		switch {
		case errors.Is(err, manager.ErrInvalidAfterID) && !waited:
			waited = true
			if err := n.waitFor(ctx, r, last); err != nil {
				return err
			}
		case errors.Is(err, manager.ErrHistoryTrimmed):
			if last, err = n.replayFromStore(ctx, r, c, last); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// replayFromStore hands c the chunks after afterID up to the local copy's first, read from
// Redis, and returns the last it handed over.
func (n *Node) replayFromStore(ctx context.Context, r *replica, c manager.Client, afterID uint64) (uint64, error) {
	first, _, err := n.m.HistoryBounds(ctx, r.id)
	if err != nil {
		return afterID, err
	}
	page, err := n.store.ReadRange(ctx, r.id, afterID, int(first-1-afterID))
	if err != nil {
		return afterID, err
	}
	last := afterID
	for _, ch := range page.Chunks {
		if ch.ID != last+1 {
			break
		}
		if err := c.SendChunk(ctx, ch); err != nil {
			return last, fmt.Errorf("replay chunk %d of stream %s to client %s: %w", ch.ID, r.id, c.ID(), err)
		}
		last = ch.ID
	}
	if last == afterID {
		return last, fmt.Errorf("replay stream %s after chunk %d: %w", r.id, afterID, manager.ErrHistoryTrimmed)
	}
	return last, nil
}

// waitFor waits until the local copy has chunk id, which the cluster has (Redis says so first:
// otherwise the resume point is beyond the stream's end, manager.ErrInvalidAfterID).
func (n *Node) waitFor(ctx context.Context, r *replica, id uint64) error {
	if _, err := n.store.ReadRange(ctx, r.id, id, 1); err != nil {
		return err
	}
	deadline := time.NewTimer(catchUpWait)
	defer deadline.Stop()
	for {
		wake := r.advanced()
		info, err := n.m.Info(ctx, r.id)
		switch {
		case err != nil:
			return err
		case info.LastChunkID >= id || info.Status != manager.StatusActive:
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("cluster: stream %s: %w: chunk %d did not reach this replica within %s", r.id, ErrUnavailable, id, catchUpWait)
		}
	}
}

// handler feeds a Follower's chunks and end into the local copy.
func (n *Node) handler(r *replica) FollowHandler {
	return FollowHandler{
		Chunk: func(ch manager.Chunk) { n.feed(context.Background(), r, ch) },
		End:   func(closed *Closed, err error) { n.ended(r, closed, err) },
	}
}

// feed pushes a chunk with its cluster ID into the local copy. Every copy has two feeders, its
// Follower and this replica's own appends, so a duplicate is normal: whichever came first won.
func (n *Node) feed(ctx context.Context, r *replica, ch manager.Chunk) {
	err := n.m.PushAt(ctx, r.id, ch)
	r.signal()
	var seq *manager.SequenceError
	switch {
	case err == nil, manager.IsGone(err):
	case errors.As(err, &seq) && seq.Duplicate():
	case errors.As(err, &seq):
		// Both feeders deliver every chunk in order from the copy's start, so a gap is a bug.
		n.log.Error("chunk out of sequence for the local copy", "stream_id", r.id, "error", err)
	default:
		n.log.Warn("push into the local copy", "stream_id", r.id, "chunk_id", ch.ID, "error", err)
	}
}

// ended closes the local copy as its Follower ended: as the stream closed, or, when following
// became impossible, with 503 UNAVAILABLE naming why. The latter adds no chunk: the copy's clients
// resume elsewhere from the last chunk they have.
func (n *Node) ended(r *replica, closed *Closed, err error) {
	ctx := context.Background()
	if closed != nil {
		n.closeLocal(ctx, r, closed)
		return
	}
	se := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "this replica lost the stream's live feed: " + err.Error()}
	n.log.Warn("local copy ends: following the stream failed", "stream_id", r.id, "error", err)
	if err := n.m.CloseMirror(ctx, r.id, manager.StatusError, manager.ReasonTerminatedPrefix+se.Message, se); err != nil && !manager.IsGone(err) {
		n.log.Warn("close local copy", "stream_id", r.id, "error", err)
	}
	r.signal()
}

// closeLocal closes the local copy as the stream closed, once it holds every chunk before the
// close.
func (n *Node) closeLocal(ctx context.Context, r *replica, c *Closed) {
	defer r.signal()
	if _, last, err := n.m.HistoryBounds(ctx, r.id); err != nil || last < c.LastChunkID {
		return
	}
	if err := n.m.CloseMirror(ctx, r.id, c.Status, c.Reason, c.Err); err != nil && !manager.IsGone(err) {
		n.log.Warn("close local copy", "stream_id", r.id, "error", err)
	}
}

// catchUp brings the local copy up to date with Redis at once, close included, without waiting
// for its Follower: after this replica closed the stream, or was told the owner's stream closed.
func (n *Node) catchUp(ctx context.Context, r *replica) {
	_, last, err := n.m.HistoryBounds(ctx, r.id)
	if err != nil {
		return
	}
	page, err := n.store.ReadRange(ctx, r.id, last, 0)
	if err != nil {
		n.log.Debug("catch up with the stream; its Follower will", "stream_id", r.id, "error", err)
		return
	}
	for _, ch := range page.Chunks {
		n.feed(ctx, r, ch)
	}
	if page.Closed != nil {
		n.closeLocal(ctx, r, page.Closed)
	}
}

// wait waits for ch or ctx.
func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
