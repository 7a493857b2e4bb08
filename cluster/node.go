package cluster

import (
	"cmp"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/streamgate/streamgate/manager"
)

// Node defaults.
const (
	// DefaultCacheSize is how many local copies nobody here uses any more a Node keeps following,
	// so that a subscriber who comes back (an EventSource reconnecting) finds its stream at once.
	DefaultCacheSize = 64
	// DefaultCacheTTL is how long such a copy is kept.
	DefaultCacheTTL = 10 * time.Second
	// DefaultMaxBatch is the most chunks an owner coalesces into one AppendBatch.
	DefaultMaxBatch = 128
)

const (
	// maxBatchBytes bounds the chunk data of one AppendBatch.
	maxBatchBytes = 1 << 20
	// writerQueue is how many chunks an owner queues for Redis before PushChunk waits for its
	// own: backpressure on a producer faster than Redis.
	writerQueue = 4096
	// opTimeout bounds one Redis call the Node makes on its own behalf (not a caller's).
	opTimeout = connectTimeout
	// catchUpWait bounds how long a registration waits for the local copy to receive a chunk the
	// cluster already has: the live feed is a publish away, or the Follower is re-reading.
	catchUpWait = 5 * time.Second
)

// NodeConfig configures a Node.
type NodeConfig struct {
	// Store is this replica's Store. Required. The Node does not close it.
	Store *Store
	// Manager is this replica's manager; the Node keeps its local copies of the cluster's streams
	// in it as mirrors, and its clients are served from them. Required. The Node does not shut it
	// down. Its InactivityTimeout is enforced by the Node on the streams this replica owns.
	Manager *manager.Manager
	// CacheSize bounds the local copies kept (and followed) after their last local subscriber
	// left; zero means DefaultCacheSize, negative is invalid.
	CacheSize int
	// CacheTTL is how long such a copy is kept; zero means DefaultCacheTTL.
	CacheTTL time.Duration
	// MaxBatch is the most chunks an owner coalesces into one AppendBatch; zero means
	// DefaultMaxBatch.
	MaxBatch int
	// ControlTimeout bounds the wait for a stream's owner to answer a request about its
	// transport subscriptions (Subscribe, Unsubscribe, Subscriptions), and the owner's serving of
	// one; zero means DefaultControlTimeout.
	ControlTimeout time.Duration
	// Logger receives the Node's logs; nil means the Store's.
	Logger *slog.Logger
}

func (c NodeConfig) withDefaults() (NodeConfig, error) {
	switch {
	case c.Store == nil:
		return c, fmt.Errorf("%w: NodeConfig.Store is required", ErrInvalidConfig)
	case c.Manager == nil:
		return c, fmt.Errorf("%w: NodeConfig.Manager is required", ErrInvalidConfig)
	case c.CacheSize < 0 || c.CacheTTL < 0 || c.MaxBatch < 0 || c.ControlTimeout < 0:
		return c, fmt.Errorf("%w: NodeConfig CacheSize, CacheTTL, MaxBatch and ControlTimeout must not be negative", ErrInvalidConfig)
	}
	c.ControlTimeout = cmp.Or(c.ControlTimeout, DefaultControlTimeout)
	c.CacheSize = cmp.Or(c.CacheSize, DefaultCacheSize)
	c.CacheTTL = cmp.Or(c.CacheTTL, DefaultCacheTTL)
	c.MaxBatch = cmp.Or(c.MaxBatch, DefaultMaxBatch)
	if c.Logger == nil {
		c.Logger = c.Store.log
	}
	return c, nil
}

// Node is one replica's view of the cluster's streams: it answers the gateway's questions
// (docs/cluster.md, "The interface the gateway declares") for streams owned by any replica, with
// the local manager doing all local fan-out.
//
// Every stream this replica has local clients of, or owns, has a local copy in the manager: a
// mirror fed with the IDs Redis assigned. The owner's copy is written by the Node itself: each
// chunk goes to Redis first (coalesced with the chunks queued behind it into one AppendBatch) and
// then into the copy with the ID Redis gave it. Every copy also follows the stream in Redis (one
// live subscription per stream), which brings the chunks other replicas append, the close, and a
// dead owner's 503. A stream of another replica gets a copy when its first local subscriber
// comes, beginning at that subscriber's resume point; a subscriber resuming from before a copy's
// first chunk is served those chunks from Redis first. Copies nobody uses any more are kept for a
// while (NodeConfig.CacheSize, CacheTTL), then forgotten.
type Node struct {
	cfg   NodeConfig
	store *Store
	m     *manager.Manager
	log   *slog.Logger

	mu       sync.Mutex
	replicas map[string]*replica // the local copies, by stream ID
	leaving  map[string]*replica // copies being torn down; a new one for the ID waits for them
	cache    list.List           // copies nobody here uses, least recently left first
	closed   bool
	// transports serves the transport subscriptions of the streams this replica owns
	// (ServeTransports); nil without plugins.
	transports Transports

	reqMu   sync.Mutex
	pending map[string]chan json.RawMessage // this replica's requests waiting for a reply, by ID
	reqs    chan Control                    // other replicas' requests, queued by onControl
	serving chan struct{}                   // a slot per request being served (maxServing)

	stop      chan struct{} // closed by Close (and Kill): every goroutine of the Node returns
	wg        sync.WaitGroup
	ctl       chan string // the streams the control channel asked to stop
	ctlDel    func()
	undoLease func()
	closeOnce sync.Once
}

// NewNode subscribes this replica's control channel and starts the Node's goroutines; Close
// stops them.
func NewNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, store: cfg.Store, m: cfg.Manager, log: cfg.Logger,
		replicas: make(map[string]*replica), leaving: make(map[string]*replica),
		stop: make(chan struct{}), ctl: make(chan string, 1024),
		pending: make(map[string]chan json.RawMessage), reqs: make(chan Control, maxServing),
		serving: make(chan struct{}, maxServing),
	}
	n.ctlDel, err = n.store.SubscribeControl(ctx, n.onControl)
	if err != nil {
		return nil, err
	}
	n.undoLease = n.store.WatchLeaseLost(n.leaseLost)
	n.wg.Add(2)
	go n.controlLoop()
	go n.janitor()
	return n, nil
}

// errNodeClosed is what a closed Node answers: manager.ErrShutdown, as a manager shut down.
func errNodeClosed() error { return fmt.Errorf("cluster node: %w", manager.ErrShutdown) }

// shutdownError ends the streams of a replica that shuts down gracefully, as manager.Shutdown
// ends them.
func shutdownError() *manager.StreamError {
	return &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: manager.ReasonShuttingDown}
}

// CreateStreamWith creates a stream owned by this replica: in Redis (cluster-wide limits: the
// Store's MaxStreams and the tenant's manager quota MaxStreams; the ID, cluster-wide), then its
// local copy. Errors are the Store's (manager.ErrTooManyStreams, manager.ErrExists,
// manager.ErrInvalidID, ErrUnavailable) or the manager's.
func (n *Node) CreateStreamWith(ctx context.Context, opts manager.StreamOptions) (string, error) {
	id := opts.ID
	if id == "" {
		id = uuid.NewString()
	}
	r, err := n.claim(ctx, id)
	if err != nil {
		return "", err
	}
	err = n.createOwned(ctx, r, opts.Labels)
	n.settle(r, err)
	if err != nil {
		return "", err
	}
	return id, nil
}

func (n *Node) createOwned(ctx context.Context, r *replica, labels map[string]string) error {
	tenant := labels[manager.LabelTenant]
	meta, err := n.store.Create(ctx, CreateOptions{ID: r.id, Tenant: tenant, Labels: labels,
		TenantMax: n.m.Config().QuotaFor(tenant).MaxStreams})
	if err != nil {
		return err
	}
	if err := n.m.CreateMirror(ctx, mirrorOptions(meta), 0); err != nil {
		n.abandon(r.id, err)
		return err
	}
	done, err := n.m.Done(ctx, r.id)
	if err == nil {
		r.follower, err = n.store.Follow(ctx, r.id, 0, n.handler(r))
	}
	if err != nil {
		n.abandon(r.id, err)
		return errors.Join(err, n.m.ForgetMirror(ctx, r.id))
	}
	r.w = &writer{n: n, r: r, done: done, wake: make(chan struct{}, 1)}
	// producing is n.mu's: the janitor's checkIdle reads it while this copy is being set up.
	n.mu.Lock()
	r.producing = true
	n.mu.Unlock()
	n.wg.Add(1)
	go r.w.run()
	return nil
}

// abandon ends in Redis a stream just created that this replica cannot serve after all.
func (n *Node) abandon(id string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	se := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "the owner could not keep the stream: " + cause.Error()}
	if _, err := n.store.CloseStream(ctx, id, manager.ReasonTerminatedPrefix+se.Message, se); err != nil {
		n.log.Warn("close of an abandoned stream failed; the lease sweep ends it", "stream_id", id, "error", err)
	}
}

func mirrorOptions(meta Meta) manager.MirrorOptions {
	return manager.MirrorOptions{ID: meta.ID, Instance: meta.Instance, Labels: meta.Labels, CreatedAt: meta.CreatedAt}
}

// Info describes a stream as Redis knows it, with this replica's client counts when it has a
// local copy (client counts are local: every replica has its own clients).
func (n *Node) Info(ctx context.Context, id string) (manager.StreamInfo, error) {
	meta, err := n.store.Info(ctx, id)
	if err != nil {
		return manager.StreamInfo{}, err
	}
	return n.withLocal(ctx, meta), nil
}

// List describes a tenant's streams across the cluster, active and retained closed, oldest
// first, with this replica's client counts.
func (n *Node) List(ctx context.Context, tenant string) ([]manager.StreamInfo, error) {
	metas, err := n.store.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	infos := make([]manager.StreamInfo, len(metas))
	for i, meta := range metas {
		infos[i] = n.withLocal(ctx, meta)
	}
	return infos, nil
}

func (n *Node) withLocal(ctx context.Context, meta Meta) manager.StreamInfo {
	info := meta.StreamInfo
	info.Instance, info.Bytes = meta.Instance, meta.HistoryBytes
	if local, err := n.m.Info(ctx, meta.ID); err == nil && local.Instance == meta.Instance {
		info.Clients, info.Passive = local.Clients, local.Passive
	}
	return info
}

// Push appends ch to the stream in Redis through any replica and returns the ID it was given;
// the local copy, if any, has it when Push returns. On the owner the chunk queues behind the
// chunks its producer pushed before.
func (n *Node) Push(ctx context.Context, id string, ch manager.Chunk) (uint64, error) {
	ch = stored(ch)
	if w := n.writerOf(id); w != nil {
		return w.push(ctx, ch)
	}
	chID, err := n.store.Append(ctx, id, ch)
	if err != nil {
		return 0, err
	}
	ch.ID = chID
	if r := n.readyReplica(id); r != nil {
		n.feed(ctx, r, ch)
	}
	return chID, nil
}

// PushChunk is Push for the owner's producer (upstream.Runner): on the owner it only queues the
// chunk, which reaches Redis and then the local copy in order, so the producer never waits for a
// round trip (it waits only when writerQueue chunks are queued). A chunk Redis does not take ends
// the stream with 503 UNAVAILABLE; once the stream ended PushChunk fails with manager.ErrClosed.
// Elsewhere it is Push.
func (n *Node) PushChunk(ctx context.Context, id string, ch manager.Chunk) error {
	if w := n.writerOf(id); w != nil {
		return w.enqueue(ctx, stored(ch))
	}
	_, err := n.Push(ctx, id, ch)
	return err
}

// stored returns ch as Redis stores it: stamped, and an error chunk's event and data made from
// its error, so that the local copy holds the same bytes as every other replica's.
func stored(ch manager.Chunk) manager.Chunk {
	if ch.Time.IsZero() {
		ch.Time = time.Now()
	}
	if ch.Err != nil {
		ch.Event, ch.Data = "error", ch.Err.JSON()
	}
	return ch
}

// CloseStream closes the stream for every replica with status completed. Elsewhere than on the
// owner it then tells the owner over its control channel, which ends its local copy and with it
// the upstream call (through the manager's Done). Closing a closed stream does nothing.
func (n *Node) CloseStream(ctx context.Context, id, reason string) error {
	if w := n.writerOf(id); w != nil {
		_, err := w.close(ctx, reason, nil)
		return err
	}
	_, err := n.closeRemote(ctx, id, reason, nil)
	return err
}

// HandleStreamError appends an error chunk made from err (a *manager.StreamError keeps its
// fields, any other error is 500 INTERNAL) and, with terminate, closes the stream with status
// error and reason "Stream terminated due to error: <message>", for every replica, as
// CloseStream does. On a closed stream it fails with manager.ErrClosed.
func (n *Node) HandleStreamError(ctx context.Context, id string, err error, terminate bool) error {
	if err == nil {
		return fmt.Errorf("handle error on stream %s: nil error", id)
	}
	se := manager.AsStreamError(err).Normalized()
	if !terminate {
		_, err := n.Push(ctx, id, manager.Chunk{Err: se})
		return err
	}
	reason := manager.ReasonTerminatedPrefix + se.Message
	var closed bool
	if w := n.writerOf(id); w != nil {
		closed, err = w.close(ctx, reason, se)
	} else {
		closed, err = n.closeRemote(ctx, id, reason, se)
	}
	if err == nil && !closed {
		return fmt.Errorf("error on stream %s: %w", id, manager.ErrClosed)
	}
	return err
}

// closeRemote closes a stream this replica does not write: the close script, then a stop to
// the owner, then the local copy brought up to date.
func (n *Node) closeRemote(ctx context.Context, id, reason string, se *manager.StreamError) (bool, error) {
	meta, err := n.store.Info(ctx, id)
	if err != nil {
		return false, err
	}
	closed, err := n.store.CloseStream(ctx, id, reason, se)
	if err != nil {
		return false, err
	}
	if closed && meta.Owner != n.store.NodeID() {
		if err := n.store.SendControl(ctx, meta.Owner, Control{Kind: ControlStop, StreamID: id}); err != nil {
			n.log.Warn("stop not sent to the owner; it learns of the close from the stream itself", "stream_id", id, "owner", meta.Owner, "error", err)
		}
	}
	if r := n.readyReplica(id); r != nil {
		n.catchUp(ctx, r)
	}
	return closed, nil
}

// RegisterClientFrom registers c on the stream after chunk afterID, as the manager does, for a
// stream owned by any replica: on the local copy, made when this is the stream's first local
// client, and with the chunks before the copy's first read from Redis first. The errors are the
// manager's and the Store's (manager.ErrNotFound, manager.ErrHistoryTrimmed,
// manager.ErrInvalidAfterID, ErrUnavailable).
func (n *Node) RegisterClientFrom(ctx context.Context, id string, c manager.Client, afterID uint64) error {
	for attempt := 0; ; attempt++ {
		r, err := n.acquire(ctx, id, afterID)
		if err != nil {
			return err
		}
		err = n.registerOn(ctx, r, c, afterID)
		n.release(r, c.ID(), err == nil)
		if err == nil {
			n.reportWatched(ctx, r)
		}
		if errors.Is(err, manager.ErrNotFound) && attempt == 0 {
			// The manager forgot the copy (RetainClosed, MaxRetained) while the Node kept it:
			// make a new one.
			n.drop(r)
			continue
		}
		return err
	}
}

// DeregisterClient removes a client, as the manager does; a local copy left without clients is
// kept in the cache for a while.
func (n *Node) DeregisterClient(ctx context.Context, id, clientID string) error {
	err := n.m.DeregisterClient(ctx, id, clientID)
	n.mu.Lock()
	var evicted []*replica
	r := n.replicas[id]
	if r != nil {
		delete(r.clients, clientID)
		evicted = n.unpinLocked(r)
	}
	n.mu.Unlock()
	n.teardown(evicted)
	if r != nil {
		n.reportWatched(ctx, r)
	}
	return err
}

// Watched reports whether any live replica has a non-passive client of the stream, as each Node
// wrote whether it has one when that changed (Store.SetWatched): a Gemini-route stream nobody
// watches anywhere is orphaned, whichever replica its last subscriber left.
func (n *Node) Watched(ctx context.Context, id string) (bool, error) {
	return n.store.Watched(ctx, id)
}

// reportWatched tells Redis whether this replica has non-passive clients of the stream when that
// changed: the first one came, or the last one left, or this replica took a new lease epoch since
// it marked the stream (the janitor asks for every copy). Joins and leaves in between cost no
// Redis call. A failed write is logged and tried again at the janitor's next tick; meanwhile an
// orphan check may go by what Redis was last told.
func (n *Node) reportWatched(ctx context.Context, r *replica) {
	r.watchedMu.Lock()
	defer r.watchedMu.Unlock()
	watched := false
	if info, err := n.m.Info(ctx, r.id); err == nil && info.Status == manager.StatusActive {
		watched = info.Clients > info.Passive
	}
	if watched == r.watched && (!watched || r.watchedEpoch == n.store.epochNow()) {
		return
	}
	epoch, err := n.store.SetWatched(ctx, r.id, watched)
	if err != nil {
		n.log.Warn("watched not written to the cluster store", "stream_id", r.id, "watched", watched, "error", err)
		return
	}
	r.watched, r.watchedEpoch = watched, epoch
}

// rewatch reports every local copy whose mark is out of date: after a failed write, or under a
// lease epoch this replica no longer holds (its lease lapsed and it took a new one). While the
// Store holds no lease every write would fail, so it waits for the next epoch (which makes every
// mark out of date): the lease keeper logs the lapse once, not a Warn per copy per tick.
func (n *Node) rewatch() {
	if n.store.epochNow() == "" {
		return
	}
	n.mu.Lock()
	rs := make([]*replica, 0, len(n.replicas))
	for _, r := range n.replicas {
		rs = append(rs, r)
	}
	n.mu.Unlock()
	for _, r := range rs {
		select {
		case <-r.ready:
		default:
			continue // its setup reports it
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		n.reportWatched(ctx, r)
		cancel()
	}
}

// Done returns a channel closed when the local copy of the stream closes; a stream with no local
// copy here (neither owned nor subscribed) is manager.ErrNotFound.
func (n *Node) Done(ctx context.Context, id string) (<-chan struct{}, error) {
	return n.m.Done(ctx, id)
}

// Owns reports whether this replica owns the stream: it created it and writes its chunks (the
// gateway ends a subscriber of a stream owned elsewhere without "done" when it shuts down, so that
// the subscriber resumes on another replica).
func (n *Node) Owns(id string) bool { return n.writerOf(id) != nil }

// Ready reports whether this replica can serve cluster streams now (Store.Ready).
func (n *Node) Ready(ctx context.Context) error { return n.store.Ready(ctx) }

// Close shuts the Node down gracefully: the streams it owns end with "shutting down" (503
// UNAVAILABLE) for every replica, after the chunks queued before; every local copy is then
// forgotten, so that its local clients learn they must go elsewhere (manager.ForgetMirror); the
// Node's goroutines stop. Close the Node before the Store and the manager.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	n.closeOnce.Do(func() {
		for _, r := range n.settled() {
			if r.w == nil {
				continue
			}
			if _, err := r.w.close(ctx, manager.ReasonShuttingDown, shutdownError()); err != nil && !manager.IsGone(err) {
				errs = append(errs, err)
			}
		}
		n.halt()
		for _, r := range n.all() {
			if err := n.m.ForgetMirror(ctx, r.id); err != nil && !manager.IsGone(err) {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// settled marks the Node closed, so that no local copy is set up any more, waits for the setups
// under way and returns the copies.
func (n *Node) settled() []*replica {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	rs := n.all()
	for _, r := range rs {
		<-r.ready // a setup's calls fail fast once Redis or the Store is gone
	}
	return n.all()
}

// halt stops the Node's goroutines and followers without touching Redis. The Node must be
// settled: every goroutine it started (writers) was started before its copy was ready.
func (n *Node) halt() {
	n.ctlDel()
	n.undoLease()
	close(n.stop)
	n.wg.Wait()
	for _, r := range n.all() {
		if r.follower != nil {
			r.follower.Close()
		}
	}
}

// all returns every local copy, including those being torn down, once the Node is closed.
func (n *Node) all() []*replica {
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := make([]*replica, 0, len(n.replicas))
	for _, r := range n.replicas {
		rs = append(rs, r)
	}
	return rs
}

// onControl runs on the live connection's reader goroutine: it only queues (or hands a reply to
// its waiting request). A stop lost to a full queue still arrives, with the stream's close on its
// own channel; a request lost to one times out on its asker.
func (n *Node) onControl(c Control) {
	switch c.Kind {
	case ControlStop:
		select {
		case n.ctl <- c.StreamID:
		default:
			n.log.Warn("control queue full; the stop arrives with the stream's close", "stream_id", c.StreamID)
		}
	case ControlReply:
		n.onReply(c)
	default:
		select {
		case n.reqs <- c:
		default:
			n.log.Warn("control request queue full; dropped (the asker times out)", "request", c.Request, "from", c.From)
		}
	}
}

// controlLoop serves the stops other replicas send: the stream closed in Redis, so its local
// copy reads its last chunks and its close, which ends the upstream call feeding it. It starts
// the serving of their other requests.
func (n *Node) controlLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case c := <-n.reqs:
			n.startServing(c)
		case id := <-n.ctl:
			if r := n.readyReplica(id); r != nil {
				n.log.Debug("stop requested by another replica", "stream_id", id)
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				n.catchUp(ctx, r)
				cancel()
			}
		}
	}
}

// leaseLost runs on the Store's lease goroutine when this replica's lease lapsed: the other
// replicas are ending the streams it owned with 503 "replica <node> lost", so it ends its local
// copies the same way, which stops their producers. It must not block.
func (n *Node) leaseLost() {
	se := lostError(n.store.NodeID())
	n.mu.Lock()
	var owned []string
	for id, r := range n.replicas {
		if r.producing {
			owned = append(owned, id)
		}
	}
	n.mu.Unlock()
	for _, id := range owned {
		if err := n.m.HandleStreamError(context.Background(), id, se, true); err != nil && !manager.IsGone(err) {
			n.log.Warn("end of an owned stream after the lease lapsed", "stream_id", id, "error", err)
		}
	}
}

// janitor forgets the cached copies that outlived CacheTTL, keeps their orphan marks up to date
// (rewatch) and enforces the manager's InactivityTimeout on the streams this replica owns.
func (n *Node) janitor() {
	defer n.wg.Done()
	cache := time.NewTicker(max(n.cfg.CacheTTL/4, 10*time.Millisecond))
	defer cache.Stop()
	var idle <-chan time.Time
	timeout := n.m.Config().InactivityTimeout
	if timeout != manager.NoTimeout {
		t := time.NewTicker(max(timeout/idleTicks, time.Millisecond))
		defer t.Stop()
		idle = t.C
	}
	for {
		select {
		case <-n.stop:
			return
		case now := <-cache.C:
			n.expireCache(now)
			n.rewatch()
		case <-idle:
			n.checkIdle(timeout)
		}
	}
}

// idleTicks is how many inactivity ticks make up the timeout, as in manager: a stream ends
// between the timeout and an eighth of it later.
const idleTicks = 8

// checkIdle ends, with 504 DEADLINE_EXCEEDED, an owned stream whose last chunk did not change for
// idleTicks ticks in a row, whichever replica appended it.
func (n *Node) checkIdle(timeout time.Duration) {
	n.mu.Lock()
	var owned []*replica
	for _, r := range n.replicas {
		if r.producing {
			owned = append(owned, r)
		}
	}
	n.mu.Unlock()
	for _, r := range owned {
		_, last, err := n.m.HistoryBounds(context.Background(), r.id)
		if err != nil {
			continue
		}
		if last != r.seenLast {
			r.seenLast, r.quiet = last, 0
			continue
		}
		if r.quiet++; r.quiet < idleTicks {
			continue
		}
		n.log.Warn("stream inactive; terminating", "stream_id", r.id, "timeout", timeout)
		se := &manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: fmt.Sprintf("no chunk for %s", timeout)}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		if _, err := r.w.close(ctx, manager.ReasonTerminatedPrefix+se.Message, se); err != nil && !manager.IsGone(err) {
			n.log.Warn("terminate inactive stream", "stream_id", r.id, "error", err)
		}
		cancel()
	}
}
