package main

import (
	"context"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
)

// Compile-time checks: the metrics are what each package records through.
var (
	_ upstream.Metrics = (*telemetry.Metrics)(nil)
	_ plugins.Metrics  = (*telemetry.Metrics)(nil)
)

// Stream statuses at close, the status label of streamgate_streams_total: a fixed set, never
// a close reason's free text.
const (
	statusCompleted = "completed"
	statusError     = "error"
	statusCancelled = "cancelled"
	statusTimeout   = "timeout"
	statusShutdown  = "shutdown"
)

// streamMetrics is the manager's Observer: it counts streams by the kind and source labels the
// gateway gives them, and their status at close.
type streamMetrics struct{ m *telemetry.Metrics }

var _ manager.Observer = streamMetrics{}

func (s streamMetrics) StreamOpened(info manager.StreamInfo) {
	s.m.StreamOpened(info.Labels[manager.LabelKind], info.Labels[manager.LabelSource])
}

func (s streamMetrics) StreamClosed(info manager.StreamInfo) {
	s.m.StreamClosed(info.Labels[manager.LabelKind], info.Labels[manager.LabelSource], closeStatus(info))
}

// closeStatus says how a stream ended: an error chunk's code tells a cancelled caller (499) and
// a timeout (504: the upstream's first event or idle timeout, the caller's deadline, the
// manager's inactivity timeout) from other errors; a close without an error is completed, but
// for a generation stopped before its end (its last subscriber left, or it was deleted) and a
// stream ended by a shutdown. A push stream ends by being deleted, so that completes it.
func closeStatus(info manager.StreamInfo) string {
	switch {
	case info.CloseReason == manager.ReasonShuttingDown:
		return statusShutdown
	case info.Status == manager.StatusError && info.Err != nil && info.Err.Code == 499:
		return statusCancelled
	case info.Status == manager.StatusError && info.Err != nil && info.Err.Code == 504:
		return statusTimeout
	case info.Status == manager.StatusError:
		return statusError
	case info.CloseReason == gateway.ReasonClientDisconnected,
		info.CloseReason == gateway.ReasonDeleted && info.Labels[manager.LabelKind] == gateway.KindGenerate:
		return statusCancelled
	}
	// Completed, and also a generation whose upstream error a Decider skipped: it chose to end
	// the stream quietly.
	return statusCompleted
}

// retained is what streamgate_retained_bytes and _streams report: the chunk bytes the manager
// holds and its streams, open and retained closed ones; nothing once it shut down.
func retained(m *manager.Manager) func() (int64, int) {
	return func() (int64, int) {
		u, err := m.Usage(context.Background())
		if err != nil {
			return 0, 0
		}
		return u.Bytes, u.Streams + u.Retained
	}
}
