package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"

	"github.com/streamgate/streamgate/internal/ctxwait"
	"github.com/streamgate/streamgate/manager"
)

// Reasons a subscription gives its plugin when the stream did not end by itself.
const (
	ReasonUnsubscribed = "unsubscribed"
	ReasonHostClosing  = "plugin host closing"
)

// subscription delivers one stream to one transport plugin. Its run goroutine owns it; each
// attachment (a plugin session plus a manager client) lasts until the stream ends, the plugin
// crashes, or the subscription is stopped, and a crash is followed by a new attachment from the
// last acknowledged chunk.
type subscription struct {
	h        *Host
	sup      *supervisor
	id       string
	streamID string
	instance string // the stream's manager.StreamInfo.Instance
	labels   map[string]string
	config   json.RawMessage
	passive  bool // attached by rule: an observer, see manager.Passive
	log      *slog.Logger
	acked    atomic.Uint64 // the last chunk the plugin acknowledged (or the chain skipped)
	gen      int           // attachments so far; names the manager clients
	// Owned by run: re-attaches that make no progress wait bo, which restarts after progress.
	bo         *backoff.ExponentialBackOff
	attachedAt uint64               // acked when the current attachment was made
	failure    *manager.StreamError // set when the subscription ended with an error
	failReason string               // why, with failure

	mu         sync.Mutex
	stopReason string
	cancel     context.CancelFunc // ends run's context
	done       chan struct{}      // closed when run returns
}

// attachment is one plugin session registered with the manager as a queued client.
type attachment struct {
	sess *session
	qc   *manager.QueuedClient
}

func (h *Host) newSubscription(sup *supervisor, stream manager.StreamInfo, config json.RawMessage, passive bool) *subscription {
	id := uuid.NewString()
	return &subscription{
		h: h, sup: sup, id: id, streamID: stream.ID, instance: stream.Instance, labels: stream.Labels, config: config, passive: passive,
		log:  h.cfg.Logger.With("plugin", sup.cfg.Name, "stream_id", stream.ID, "subscription_id", id),
		bo:   newBackOff(h.cfg.RestartMinBackoff, h.cfg.RestartMaxBackoff),
		done: make(chan struct{}),
	}
}

// open starts a session on the running plugin that delivers the chunks after after.
func (s *subscription) open(ctx context.Context, after uint64) (*session, error) {
	p, err := s.sup.wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", s.sup.cfg.Name, err)
	}
	req := openRequest{streamID: s.streamID, instance: s.instance, tenant: s.labels["tenant"], subID: s.id,
		labels: s.labels, config: s.config, after: after}
	return openSession(ctx, p.conn, s.sup.cfg.Name, req, &s.acked, s.h.sessionConfig(s.log))
}

// register registers a new queued client feeding sess with the chunks after after.
func (s *subscription) register(ctx context.Context, sess *session, after uint64) (*attachment, error) {
	s.gen++
	clientID := fmt.Sprintf("plugin/%s/%s/%d", s.sup.cfg.Name, s.id, s.gen)
	qc, err := manager.NewQueuedClient(clientID, sess, manager.QueueConfig{Size: s.h.cfg.QueueSize, MaxBatch: s.h.cfg.MaxBatch, Passive: s.passive, Logger: s.log})
	if err != nil {
		return nil, err
	}
	if err := s.h.cfg.Streams.RegisterClientFrom(ctx, s.streamID, qc, after); err != nil {
		return nil, err
	}
	return &attachment{sess: sess, qc: qc}, nil
}

// run delivers until the subscription is over, then removes it from the host.
func (s *subscription) run(ctx context.Context, a *attachment) {
	defer close(s.done)
	defer s.h.removeSubscription(s)
	for a != nil {
		a = s.next(ctx, a, a.deliver(ctx))
	}
}

// deliver runs the attachment's queued client until it returns, or until the plugin's session
// ends: an idle client would not notice that by itself.
func (a *attachment) deliver(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-a.sess.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := a.qc.Run(ctx)
	cancel()
	<-watched
	return err
}

// next handles the end of an attachment's Run and returns the attachment to go on with, or nil
// when the subscription is over.
func (s *subscription) next(ctx context.Context, a *attachment, err error) *attachment {
	var term *terminatedError
	switch {
	case err == nil:
		s.log.Debug("subscription ended with its stream")
		return nil
	case ctx.Err() != nil:
		s.deregister(a)
		s.finish(a.sess, s.reason(), nil)
		return nil
	case errors.As(err, &term):
		s.deregister(a)
		s.fail(a.sess, term.Reason, term.Err)
		return nil
	case errors.Is(err, manager.ErrSlowClient):
		s.h.cfg.Metrics.SlowClient()
		// The session is intact: go on after the last chunk it was handed.
		next, rerr := s.register(ctx, a.sess, a.qc.LastID())
		if rerr != nil {
			s.fail(a.sess, "subscription fell behind and could not catch up: "+rerr.Error(), errorFor(rerr))
			return nil
		}
		return next
	}
	s.log.Warn("plugin session lost; re-attaching after the restart", "error", err, "last_acked", s.acked.Load())
	s.deregister(a)
	a.sess.abort()
	return s.reattach(ctx)
}

// reattach waits for the plugin to run again and registers a new attachment from the last
// acknowledged chunk. When the stream's history no longer holds what follows, or the stream is
// gone, the subscription is closed with a reason saying so.
//
// After an attachment that made progress the first try is at once; otherwise every try waits the
// subscription's backoff, so that a session that breaks again at once, with its plugin running,
// is not re-attached in a tight loop.
func (s *subscription) reattach(ctx context.Context) *attachment {
	var wait time.Duration
	if s.acked.Load() > s.attachedAt {
		s.bo.Reset()
	} else {
		wait = s.bo.NextBackOff()
	}
	for {
		if wait > 0 {
			s.log.Warn("re-attaching after a backoff: the last attachment made no progress", "wait_ms", millis(wait))
			if !ctxwait.Sleep(ctx, wait) {
				return nil
			}
		}
		wait = s.bo.NextBackOff()
		after := s.acked.Load()
		sess, err := s.open(ctx, after)
		switch {
		case ctx.Err() != nil || errors.Is(err, ErrClosed):
			return nil
		case errors.Is(err, ErrBadConfig):
			s.fail(nil, "plugin refused the subscription after its restart: "+err.Error(),
				&manager.StreamError{Code: 400, Status: manager.StatusForCode(400), Message: err.Error()})
			return nil
		case err != nil:
			s.log.Warn("re-attaching failed; trying again", "error", err)
			continue
		}
		a, err := s.register(ctx, sess, after)
		if err == nil && !s.sameStream(ctx) {
			s.deregister(a) // its client has not run: nothing of the other stream was delivered
			err = fmt.Errorf("%w: its ID names another stream now", manager.ErrNotFound)
		}
		if err == nil {
			s.attachedAt = after
			s.log.Info("subscription re-attached", "after", after)
			return a
		}
		s.fail(sess, fmt.Sprintf("plugin restarted; the stream can no longer be resumed after chunk %d: %v", after, err), errorFor(err))
		return nil
	}
}

// fail ends the subscription with an error: it is logged, kept for the stream's
// Host.StreamSubscriptions, and sent to the plugin when a session is open.
func (s *subscription) fail(sess *session, reason string, serr *manager.StreamError) {
	s.log.Error("subscription ended with an error", "reason", reason, "code", serr.Code)
	s.failReason, s.failure = reason, serr
	if sess != nil {
		s.finish(sess, reason, serr)
	}
}

// sameStream reports whether the subscription's stream ID still names its stream: once a stream
// is forgotten its ID can be used again, and a re-attach must not follow the ID to the new one.
// When Info fails (the stream was forgotten just now, or the manager is shutting down), the
// manager closes the new client by itself.
func (s *subscription) sameStream(ctx context.Context) bool {
	info, err := s.h.cfg.Streams.Info(ctx, s.streamID)
	return err != nil || info.Instance == s.instance
}

// errorFor is the stream error a subscription closes with when the manager refused it.
func errorFor(err error) *manager.StreamError {
	switch {
	case errors.Is(err, manager.ErrHistoryTrimmed):
		return &manager.StreamError{Code: 410, Status: "FAILED_PRECONDITION", Message: err.Error()}
	case errors.Is(err, manager.ErrNotFound):
		return &manager.StreamError{Code: 404, Status: manager.StatusForCode(404), Message: err.Error()}
	}
	return manager.AsStreamError(err)
}

// deregister removes a's client from its stream; the manager may have released it already.
func (s *subscription) deregister(a *attachment) {
	err := s.h.cfg.Streams.DeregisterClient(context.Background(), s.streamID, a.qc.ID())
	if err != nil && !manager.IsGone(err) {
		s.log.Warn("deregister plugin client", "error", err)
	}
}

// finish tells the plugin the session is over, within the call timeout.
func (s *subscription) finish(sess *session, reason string, serr *manager.StreamError) {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.cfg.CallTimeout)
	defer cancel()
	if err := sess.finish(ctx, reason, serr); err != nil {
		s.log.Warn("closing the plugin session failed", "reason", reason, "error", err)
	}
}

// stop ends the subscription with reason; the first reason given wins.
func (s *subscription) stop(reason string) {
	s.mu.Lock()
	if s.stopReason == "" {
		s.stopReason = reason
	}
	cancel := s.cancel
	s.mu.Unlock()
	cancel()
}

func (s *subscription) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopReason
}
