package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// newQueuedClient wraps a subscriber's sink in a queued client; its Run is the handler itself.
func (s *Server) newQueuedClient(sink manager.Sink) (*manager.QueuedClient, error) {
	return manager.NewQueuedClient(s.newClientID(), sink, manager.QueueConfig{Size: s.cfg.ClientQueueSize, Logger: s.log})
}

// attach hands a new stream to the plugins. A failure is logged: the stream serves its callers
// without the attachments.
func (s *Server) attach(ctx context.Context, streamID string, labels map[string]string) {
	if s.cfg.Plugins == nil {
		return
	}
	if err := s.cfg.Plugins.Attach(ctx, streamID, labels); err != nil {
		s.log.Warn("attach to new stream failed", "stream_id", streamID, "error", err)
	}
}

// startRunner starts the upstream generation of a stream in a goroutine the server owns. It
// reports false when the server is stopping.
func (s *Server) startRunner(ctx context.Context, streamID string, req upstream.Request) bool {
	ctx = context.WithoutCancel(ctx)
	return s.goBackground(func() { s.run(ctx, streamID, req) })
}

// run feeds a stream from upstream until it ends. The runner reports every failure into the
// stream; its error means there was no stream left to feed.
func (s *Server) run(ctx context.Context, streamID string, req upstream.Request) {
	if err := s.cfg.Generator.Run(ctx, streamID, req); err != nil {
		s.log.Debug("upstream generation not started: the stream is gone", "stream_id", streamID, "error", err)
	}
}

// leave deregisters a subscriber whose handler is ending and, on a Gemini-route stream, closes
// the stream if nobody else is left (after Config.OrphanGrace).
func (s *Server) leave(streamID, clientID, source string) {
	ctx := context.Background()
	err := s.cfg.Manager.DeregisterClient(ctx, streamID, clientID)
	if errors.Is(err, manager.ErrClosed) || errors.Is(err, manager.ErrShutdown) {
		return // the stream ended and released its clients
	}
	if source != SourceGemini || !s.orphaned(streamID) {
		return
	}
	if s.cfg.OrphanGrace == 0 {
		s.closeStream(streamID, ReasonClientDisconnected)
		return
	}
	done, err := s.cfg.Manager.Done(ctx, streamID)
	if err != nil {
		return
	}
	s.goBackground(func() {
		t := time.NewTimer(s.cfg.OrphanGrace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
			return
		case <-s.stop:
			return
		}
		if s.orphaned(streamID) {
			s.closeStream(streamID, ReasonClientDisconnected)
		}
	})
}

// orphaned reports whether an active stream has no client left but passive ones (transports
// attached by rule): nobody asked for it any more.
func (s *Server) orphaned(streamID string) bool {
	info, err := s.cfg.Manager.Info(context.Background(), streamID)
	return err == nil && info.Status == manager.StatusActive && info.Clients == info.Passive
}

// closeStream closes a stream, logging a failure other than the stream being gone.
func (s *Server) closeStream(streamID, reason string) {
	if err := s.cfg.Manager.CloseStream(context.Background(), streamID, reason); err != nil && !streamGone(err) {
		s.log.Error("close stream", "stream_id", streamID, "reason", reason, "error", err)
		return
	}
	s.log.Debug("stream closed", "stream_id", streamID, "reason", reason)
}

// streamGone reports whether a manager error means the stream is closed, forgotten or shut down.
func streamGone(err error) bool {
	return errors.Is(err, manager.ErrClosed) || errors.Is(err, manager.ErrNotFound) || errors.Is(err, manager.ErrShutdown)
}
