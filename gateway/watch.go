package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/sse"
)

// The lifecycle feed, GET /v1/streams?watch=true: a server-sent event for every stream the
// gateway creates (created), every change of an active stream's clients or chunks seen by the
// feed's tick (updated), and every close (closed), per tenant, resumable within a bounded ring.
//
// The feed is built from what the gateway itself sees, not from a hook in the manager: newStream
// reports every stream it creates; a generation's goroutine reports its stream's close the
// moment its runner returns; and a tick every feedTick compares each active stream's info with
// what its last event said, which is how "updated" is made, how every other close (DELETE of a
// push stream, an inactivity timeout) is seen, and how a stream the gateway did not create (a
// cluster mirror) is found, within a tick. The tick runs only while there is an active stream
// the feed knows or a watcher, in a goroutine the Server owns. Nothing is done per chunk: the
// tick reads each stream's counters once a second.
const (
	// feedRingSize is how many lifecycle events are kept per tenant for watchers that resume.
	feedRingSize = 1024
	// feedTick is the interval of the feed's comparison of active streams: "updated" events are
	// coalesced to at most one per stream per tick, and chunks/s is counted per tick.
	feedTick = time.Second
	// rateWindow is the number of seconds of chunks/s history GET /v1/status gives.
	rateWindow = 60
)

// Lifecycle event types.
const (
	feedCreated = "created"
	feedUpdated = "updated"
	feedClosed  = "closed"
)

// feedStreamJSON is a stream as a lifecycle event describes it: its info as GET /v1/streams/{id}
// gives it (without subscriptions), and what the console's table shows besides.
type feedStreamJSON struct {
	streamJSON
	Kind         string     `json:"kind"`
	Source       string     `json:"source"`
	FirstChunkAt *time.Time `json:"first_chunk_at"`
}

func toFeedStreamJSON(info manager.StreamInfo) feedStreamJSON {
	out := feedStreamJSON{
		streamJSON: toStreamJSON(info),
		Kind:       info.Labels[manager.LabelKind],
		Source:     info.Labels[manager.LabelSource],
	}
	if !info.FirstChunkAt.IsZero() {
		t := info.FirstChunkAt.UTC()
		out.FirstChunkAt = &t
	}
	return out
}

// feedEvent is one lifecycle event of a tenant.
type feedEvent struct {
	id   uint64
	typ  string
	info manager.StreamInfo
}

// tenantFeed is the lifecycle events of one tenant: the last feedRingSize of them, event ID k at
// ring[(k-1) % feedRingSize], and the chunks its streams got per second.
type tenantFeed struct {
	ring    []feedEvent
	next    uint64 // the ID of the next event; IDs start at 1
	pending uint64 // chunks seen since the last tick
	rates   [rateWindow]rateBucket
}

// rateBucket counts the chunks of one second (Unix time).
type rateBucket struct {
	sec    int64
	chunks uint64
}

// oldest is the ID of the oldest event kept (next when none is).
func (tf *tenantFeed) oldest() uint64 { return tf.next - uint64(len(tf.ring)) }

func (tf *tenantFeed) append(typ string, info manager.StreamInfo) {
	ev := feedEvent{id: tf.next, typ: typ, info: info}
	tf.next++
	if len(tf.ring) < feedRingSize {
		tf.ring = append(tf.ring, ev)
		return
	}
	tf.ring[(ev.id-1)%feedRingSize] = ev
}

// after returns the events after ID pos.
func (tf *tenantFeed) after(pos uint64) []feedEvent {
	var out []feedEvent
	for id := pos + 1; id < tf.next; id++ {
		out = append(out, tf.ring[(id-1)%feedRingSize])
	}
	return out
}

// countChunks adds the chunks seen since the last tick to the second of now.
func (tf *tenantFeed) countChunks(now time.Time) {
	sec := now.Unix()
	b := &tf.rates[sec%rateWindow]
	if b.sec != sec {
		*b = rateBucket{sec: sec}
	}
	b.chunks += tf.pending
	tf.pending = 0
}

// chunkRates is the chunks of each of the rateWindow whole seconds before now, oldest first.
func (tf *tenantFeed) chunkRates(now time.Time) []uint64 {
	out := make([]uint64, rateWindow)
	if tf == nil {
		return out
	}
	last := now.Unix() - 1
	for i := range out {
		sec := last - int64(rateWindow-1-i)
		if b := tf.rates[sec%rateWindow]; b.sec == sec {
			out[i] = b.chunks
		}
	}
	return out
}

// feed is the lifecycle feed's state. Its zero value is ready to use.
type feed struct {
	mu       sync.Mutex
	tenants  map[string]*tenantFeed
	tracked  map[string]manager.StreamInfo // active streams by ID, as their last event described them
	wake     chan struct{}                 // closed at the next event; nil until a watcher waits
	watchers int
	ticking  bool // the tick's goroutine runs
}

func (f *feed) tenantLocked(tenant string) *tenantFeed {
	tf := f.tenants[tenant]
	if tf == nil {
		if f.tenants == nil {
			f.tenants = map[string]*tenantFeed{}
		}
		tf = &tenantFeed{next: 1}
		f.tenants[tenant] = tf
	}
	return tf
}

// publishLocked appends an event and wakes the watchers.
func (f *feed) publishLocked(typ string, info manager.StreamInfo) {
	f.tenantLocked(info.Labels[manager.LabelTenant]).append(typ, info)
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
}

// startTickLocked reports whether the caller must start the tick's goroutine, and marks it
// started.
func (f *feed) startTickLocked() bool {
	if f.ticking {
		return false
	}
	f.ticking = true
	return true
}

// created publishes a new stream, unless the tick found it first, and reports whether the tick
// must be started.
func (f *feed) created(info manager.StreamInfo) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createdLocked(info)
	return f.startTickLocked()
}

func (f *feed) createdLocked(info manager.StreamInfo) {
	old, ok := f.tracked[info.ID]
	switch {
	case ok && old.Instance == info.Instance:
		return
	case ok:
		// The ID's previous stream was forgotten before the feed saw it close.
		f.closedLocked(old)
	}
	if f.tracked == nil {
		f.tracked = map[string]manager.StreamInfo{}
	}
	f.tracked[info.ID] = info
	f.publishLocked(feedCreated, info)
}

// closed publishes the close of a stream, unless it was published already.
func (f *feed) closed(info manager.StreamInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.tracked[info.ID]; ok && old.Instance == info.Instance {
		f.closedLocked(info)
	}
}

func (f *feed) closedLocked(info manager.StreamInfo) {
	tenant := info.Labels[manager.LabelTenant]
	f.tenantLocked(tenant).pending += info.LastChunkID - f.tracked[info.ID].LastChunkID
	delete(f.tracked, info.ID)
	f.publishLocked(feedClosed, info)
}

// trackedIDs lists the active streams the feed knows.
func (f *feed) trackedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.tracked))
	for id := range f.tracked {
		ids = append(ids, id)
	}
	return ids
}

// tick compares the streams' current infos (gone: those the manager forgot) with their last
// events, publishes what changed, and counts the chunks of the tick. It reports false, and
// marks the tick stopped, when there is nothing left to watch.
func (f *feed) tick(now time.Time, infos []manager.StreamInfo, gone []string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, info := range infos {
		last, ok := f.tracked[info.ID]
		switch {
		case (!ok || last.Instance != info.Instance) && info.Status == manager.StatusActive:
			f.createdLocked(info) // a stream the gateway did not create, or not yet reported
		case !ok || last.Instance != info.Instance:
			// Closed and published meanwhile.
		case info.Status != manager.StatusActive:
			f.closedLocked(info)
		case info.Clients != last.Clients || info.LastChunkID != last.LastChunkID:
			f.tenantLocked(info.Labels[manager.LabelTenant]).pending += info.LastChunkID - last.LastChunkID
			f.tracked[info.ID] = info
			f.publishLocked(feedUpdated, info)
		}
	}
	for _, id := range gone {
		if last, ok := f.tracked[id]; ok {
			f.closedLocked(last)
		}
	}
	for _, tf := range f.tenants {
		tf.countChunks(now)
	}
	if len(f.tracked) == 0 && f.watchers == 0 {
		f.ticking = false
		return false
	}
	return true
}

// stopTicking marks the tick stopped (the server stops).
func (f *feed) stopTicking() {
	f.mu.Lock()
	f.ticking = false
	f.mu.Unlock()
}

// join registers a watcher of tenant and returns its position: with resume, after (checked
// against the events kept, an error when they no longer reach back to it); without, the
// tenant's latest event. It reports whether the tick must be started.
func (f *feed) join(tenant string, after uint64, resume bool) (pos uint64, start bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tf := f.tenantLocked(tenant)
	pos = tf.next - 1
	if resume {
		switch {
		case after > pos:
			return 0, false, reword(manager.ErrHistoryTrimmed, fmt.Sprintf(
				"lifecycle event %d is not one of this gateway's (the last is %d; it restarted?): list the streams and watch again without a resume point", after, pos))
		case after+1 < tf.oldest():
			return 0, false, reword(manager.ErrHistoryTrimmed, fmt.Sprintf(
				"lifecycle events after %d are no longer kept (the oldest is %d): list the streams and watch again without a resume point", after, tf.oldest()))
		}
		pos = after
	}
	f.watchers++
	return pos, f.startTickLocked(), nil
}

func (f *feed) leave() {
	f.mu.Lock()
	f.watchers--
	f.mu.Unlock()
}

// errFellBehind ends a watcher whose next event is no longer kept; it resumes (and is told 410).
var errFellBehind = errors.New("watcher fell behind the lifecycle events kept")

// since returns the tenant's events after pos, or, when there are none yet, a channel closed at
// the next event.
func (f *feed) since(tenant string, pos uint64) ([]feedEvent, <-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tf := f.tenantLocked(tenant)
	if pos+1 < tf.oldest() {
		return nil, nil, errFellBehind
	}
	if events := tf.after(pos); len(events) > 0 {
		return events, nil, nil
	}
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	return nil, f.wake, nil
}

// chunkRates is a tenant's chunks per second over the last rateWindow seconds, oldest first.
func (f *feed) chunkRates(tenant string, now time.Time) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tenants[tenant].chunkRates(now)
}

// streamCreated tells the feed about a stream newStream created.
func (s *Server) streamCreated(ctx context.Context, id string) {
	info, err := s.cfg.Streams.Info(ctx, id)
	if err != nil {
		return // closed and forgotten already, or shutting down
	}
	if s.feed.created(info) {
		s.startFeedTick()
	}
}

// streamEnded tells the feed that a stream's generation ended, which leaves the stream closed,
// so that watchers see the close at once rather than at the next tick.
func (s *Server) streamEnded(ctx context.Context, id string) {
	if done, err := s.cfg.Streams.Done(ctx, id); err == nil {
		select {
		case <-done:
		case <-s.stop:
			return
		}
	}
	if info, err := s.cfg.Streams.Info(ctx, id); err == nil {
		s.feed.closed(info)
	}
}

// startFeedTick runs the feed's tick in a goroutine the server owns until nothing is left to
// watch or the server stops.
func (s *Server) startFeedTick() {
	if !s.goBackground(s.runFeedTick) {
		s.feed.stopTicking()
	}
}

func (s *Server) runFeedTick() {
	t := time.NewTicker(feedTick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.feed.stopTicking()
			return
		case now := <-t.C:
			if !s.feedTick(now) {
				return
			}
		}
	}
}

// feedTick reads the info of every stream the feed tracks or the manager has active, and hands
// them to the feed.
func (s *Server) feedTick(now time.Time) bool {
	ctx := context.Background()
	ids := s.feed.trackedIDs()
	if active, err := s.cfg.Manager.ActiveStreamIDs(ctx); err == nil {
		ids = append(ids, active...)
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	infos := make([]manager.StreamInfo, 0, len(ids))
	var gone []string
	for _, id := range ids {
		info, err := s.cfg.Streams.Info(ctx, id)
		switch {
		case err == nil:
			infos = append(infos, info)
		case manager.IsGone(err):
			gone = append(gone, id)
		}
	}
	return s.feed.tick(now, infos, gone)
}

// watchStreams serves GET /v1/streams?watch=true: the caller's stream lifecycle events as
// server-sent events. Without a resume point it starts with the current state, a created event
// for every active stream (and with all=true a closed one for every retained stream), each with
// the ID of the tenant's latest event; then the events as they happen. With Last-Event-ID or
// ?after=N it resumes after event N, or answers 410 when that is no longer kept.
func (s *Server) watchStreams(c *gin.Context, all bool) error {
	tenant := identity(c).Tenant
	_, resume := c.GetQuery("after")
	resume = resume || c.GetHeader("Last-Event-ID") != ""
	after, err := resumePoint(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	pos, start, err := s.feed.join(tenant, after, resume)
	if err != nil {
		return err
	}
	defer s.feed.leave()
	if start {
		s.startFeedTick()
	}
	var snapshot []feedEvent
	if !resume {
		if snapshot, err = s.feedSnapshot(ctx, tenant, pos, all); err != nil {
			return err
		}
	}
	sw := s.sseWriterFor(c, "")
	defer sw.finish()
	if err := sw.writeEvents(snapshot); err != nil {
		return nil // the client left
	}
	sw.startHeartbeat(s.cfg.Heartbeat)
	for {
		events, wake, err := s.feed.since(tenant, pos)
		if err != nil {
			s.logFor(ctx).Debug("lifecycle watcher fell behind", "error", err)
			return nil
		}
		if len(events) > 0 {
			if sw.writeEvents(events) != nil {
				return nil
			}
			pos = events[len(events)-1].id
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		}
	}
}

// feedSnapshot is the current state of the tenant's streams as events with ID pos.
func (s *Server) feedSnapshot(ctx context.Context, tenant string, pos uint64, all bool) ([]feedEvent, error) {
	infos, err := s.cfg.Streams.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var out []feedEvent
	for _, info := range infos {
		switch {
		case info.Status == manager.StatusActive:
			out = append(out, feedEvent{id: pos, typ: feedCreated, info: info})
		case all:
			out = append(out, feedEvent{id: pos, typ: feedClosed, info: info})
		}
	}
	return out, nil
}

// writeEvents writes lifecycle events as "id", "event" and "data" (the stream's JSON) and
// flushes them; with none it sends the response headers.
func (sw *sseWriter) writeEvents(events []feedEvent) error {
	var buf []byte
	for _, ev := range events {
		data, err := json.Marshal(toFeedStreamJSON(ev.info))
		if err != nil {
			return err
		}
		buf = append(buf, "id: "...)
		buf = strconv.AppendUint(buf, ev.id, 10)
		buf = append(buf, '\n')
		// Compact JSON holds no line break, and the types are constants: this cannot fail.
		buf, _ = sse.AppendEvent(buf, sse.Event{Type: ev.typ, Data: data}, false, sse.LF)
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.writeLocked(buf)
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c *gin.Context, name string) (bool, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, newError(http.StatusBadRequest, name+" must be true or false, got "+strconv.Quote(v))
	}
	return b, nil
}
