package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// newStream creates a stream with the given ID ("" for a new one) and labels, and hands it to the
// plugins before anything is pushed to it, so that attached transports get it from its first
// chunk. A failed attachment is logged: the stream serves its callers without it.
func (s *Server) newStream(ctx context.Context, id string, labels map[string]string) (string, error) {
	id, err := s.cfg.Streams.CreateStreamWith(ctx, manager.StreamOptions{ID: id, Labels: labels})
	if err != nil {
		return "", err
	}
	noteStream(ctx, id)
	if err := s.cfg.Plugins.Attach(ctx, id, labels); err != nil {
		s.logFor(ctx).Warn("attach to new stream failed", "stream_id", id, "error", err)
	}
	s.streamCreated(ctx, id)
	return id, nil
}

// startGeneration feeds a stream from upstream in a goroutine the server owns, past the end of
// the request that started it (its context is detached: the runner's spans are children of the
// request's). The runner reports every failure into the stream; its error means there was no
// stream left to feed. A stopping server closes the stream instead.
func (s *Server) startGeneration(ctx context.Context, streamID string, req upstream.Request) {
	ctx = detached(ctx)
	started := s.goBackground(func() {
		if err := s.cfg.Generator.Run(ctx, streamID, req); err != nil {
			s.logFor(ctx).Debug("upstream generation not started: the stream is gone", "stream_id", streamID, "error", err)
		}
		s.streamEnded(ctx, streamID)
	})
	if !started {
		s.closeStream(ctx, streamID, manager.ReasonShuttingDown)
	}
}

// sseSink writes a stream to one SSE response: geminiSink or eventsSink.
type sseSink interface {
	manager.Sink
	// slowClient ends the response of a subscriber whose queue overflowed.
	slowClient()
	// route is the subscriber route the sink serves, for Metrics.SubscriberJoined.
	route() string
	// finish stops every further write.
	finish()
}

// subscriber is an SSE response registered on a stream as a manager.QueuedClient. Its Run is the
// HTTP handler itself: there is no goroutine per subscriber beyond net/http's own.
type subscriber struct {
	s        *Server
	log      *slog.Logger // the request's
	qc       *manager.QueuedClient
	sink     sseSink
	streamID string
	source   string // the stream's LabelSource: a Gemini-route stream orphans
	counted  func() // ends the subscriber's count in Metrics
	closed   bool   // run ended with the stream's close
}

// register makes sink a subscriber of the stream from the chunk after `after` on (the retained
// ones are replayed first) and returns the registration. The handler then calls run, and leave,
// the registration's undo, before it returns.
func (s *Server) register(ctx context.Context, streamID, source string, sink sseSink, after uint64) (*subscriber, error) {
	log := s.logFor(ctx)
	qc, err := manager.NewQueuedClient(s.newClientID(), sink, manager.QueueConfig{
		Size: s.cfg.ClientQueueSize, MaxBytes: s.cfg.ClientQueueBytes, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Streams.RegisterClientFrom(ctx, streamID, qc, after); err != nil {
		return nil, err
	}
	counted := s.cfg.Metrics.SubscriberJoined(sink.route())
	return &subscriber{s: s, log: log, qc: qc, sink: sink, streamID: streamID, source: source, counted: counted}, nil
}

// run writes the stream to the response until the stream closes, the response ends (an error
// frame, a write that failed) or ctx does.
func (sub *subscriber) run(ctx context.Context) {
	sub.ended(sub.qc.Run(ctx))
}

// ended handles how run ended. It is apart, and not inlined, so that its frame is not on the
// handler's stack under Run's writes (gateway/doc.go, Performance).
//
//go:noinline
func (sub *subscriber) ended(err error) {
	switch {
	case err == nil:
		sub.closed = true
	case errors.Is(err, errResponseEnded):
	case errors.Is(err, manager.ErrSlowClient): // the queued client logged it
		sub.s.cfg.Metrics.SlowClient()
		sub.sink.slowClient()
	default:
		sub.log.Debug("subscriber left", "stream_id", sub.streamID, "client_id", sub.qc.ID(), "error", err)
	}
}

// leave ends the writing and deregisters the subscriber; ctx is the request's.
func (sub *subscriber) leave(ctx context.Context) {
	sub.sink.finish()
	// In one process a closed stream has released its clients and is no orphan: deregister
	// would be told so (ErrClosed) and do nothing. Cluster mode's stream layer is told always.
	if !sub.closed || !sub.s.local {
		sub.s.deregister(ctx, sub.streamID, sub.qc.ID(), sub.source)
	}
	sub.counted()
}

// exitCallTimeout bounds each stream-layer call a subscriber's way out makes (deregistering,
// asking whether the stream is orphaned): in cluster mode they reach Redis, and a stalled Redis
// must not hold a handler's exit, nor an orphan check forever.
const exitCallTimeout = 2 * time.Second

// exitCall is ctx bounded by exitCallTimeout, for a stream-layer call of a subscriber's way out;
// the manager's calls never wait, and get no timer.
func (s *Server) exitCall(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.local {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, exitCallTimeout)
}

// deregister removes a subscriber whose handler is ending and, on a Gemini- or OpenAI-route
// stream, closes the stream if nobody else is left (after Config.OrphanGrace). ctx is the
// request's, whose end it outlives.
func (s *Server) deregister(ctx context.Context, streamID, clientID, source string) {
	ctx = context.WithoutCancel(ctx)
	dctx, cancel := s.exitCall(ctx)
	err := s.cfg.Streams.DeregisterClient(dctx, streamID, clientID)
	cancel()
	if errors.Is(err, manager.ErrClosed) || errors.Is(err, manager.ErrShutdown) {
		return // the stream ended and released its clients
	}
	if source != SourceGemini && source != SourceOpenAI {
		return
	}
	state := s.orphaned(ctx, streamID)
	switch {
	case state == notOrphaned:
		return
	case state == isOrphaned && s.cfg.OrphanGrace == 0:
		s.closeStream(ctx, streamID, ReasonClientDisconnected)
		return
	}
	// In cluster mode the local copy's Done also closes when this replica lets go of the copy
	// while the stream goes on elsewhere: the timer then runs out and asks the cluster.
	var done <-chan struct{}
	if _, cluster := s.cfg.Streams.(watchedAnywhere); !cluster {
		if done, err = s.cfg.Streams.Done(ctx, streamID); err != nil {
			return
		}
	}
	s.goBackground(func() { s.awaitOrphan(ctx, streamID, done) })
}

// awaitOrphan closes the stream with ReasonClientDisconnected if it is still orphaned when the
// grace runs out. An unknown answer (Redis failed) is asked again every orphanRetry while the
// stream stays active, so that one failed call cannot leave an unwatched upstream call running
// to its end; done or the server's stop ends the wait.
func (s *Server) awaitOrphan(ctx context.Context, streamID string, done <-chan struct{}) {
	wait := s.cfg.OrphanGrace
	if wait == 0 { // only an unknown answer waits without a grace
		wait = s.orphanRetry()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-done:
			return
		case <-s.stop:
			return
		}
		switch s.orphaned(ctx, streamID) {
		case isOrphaned:
			s.closeStream(ctx, streamID, ReasonClientDisconnected)
			return
		case notOrphaned:
			return
		}
		t.Reset(s.orphanRetry())
	}
}

// orphanRetry is how long an orphan check whose answer was unknown waits to ask again: the grace,
// but no more often than once a second.
func (s *Server) orphanRetry() time.Duration { return max(s.cfg.OrphanGrace, time.Second) }

// orphanState is an orphan check's answer: a check that reaches Redis may have none.
type orphanState int

const (
	notOrphaned orphanState = iota
	isOrphaned
	orphanUnknown
)

// orphaned tells whether an active stream has no client left but passive ones (transports
// attached by rule): nobody asked for it any more. In cluster mode that is asked of every
// replica; a failure to ask is orphanUnknown, not an answer.
func (s *Server) orphaned(ctx context.Context, streamID string) orphanState {
	ctx, cancel := s.exitCall(ctx)
	defer cancel()
	info, err := s.cfg.Streams.Info(ctx, streamID)
	switch {
	case manager.IsGone(err):
		return notOrphaned
	case err != nil:
		s.logFor(ctx).Debug("orphan check failed; asking again later", "stream_id", streamID, "error", err)
		return orphanUnknown
	case info.Status != manager.StatusActive:
		return notOrphaned
	}
	watched := info.Clients > info.Passive
	if w, ok := s.cfg.Streams.(watchedAnywhere); ok {
		watched, err = w.Watched(ctx, streamID)
		if manager.IsGone(err) {
			return notOrphaned
		}
		if err != nil {
			s.logFor(ctx).Debug("orphan check failed; asking again later", "stream_id", streamID, "error", err)
			return orphanUnknown
		}
	}
	if watched {
		return notOrphaned
	}
	return isOrphaned
}

// closeStream closes a stream, logging a failure other than the stream being gone. ctx says whose
// request the close is done for; its cancellation does not stop the close.
func (s *Server) closeStream(ctx context.Context, streamID, reason string) {
	log := s.logFor(ctx)
	if err := s.cfg.Streams.CloseStream(context.WithoutCancel(ctx), streamID, reason); err != nil && !manager.IsGone(err) {
		log.Error("close stream", "stream_id", streamID, "reason", reason, "error", err)
		return
	}
	log.Debug("stream closed", "stream_id", streamID, "reason", reason)
}
