package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
)

// maxEventNameLen bounds a pushed chunk's event name.
const maxEventNameLen = 128

// Event names the gateway writes itself, which pushed chunks may not use.
const (
	eventError = "error"
	eventDone  = "done"
)

// validateEventName checks a pushed chunk's event name: empty (the default), or 1 to 128 bytes
// of printable ASCII, and not one of the names the gateway reserves.
func validateEventName(name string) error {
	if len(name) > maxEventNameLen {
		return fmt.Errorf("event must be at most %d bytes, got %d", maxEventNameLen, len(name))
	}
	for i := range len(name) {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("event has %q at byte %d: only printable ASCII is allowed", c, i)
		}
	}
	if name == eventError || name == eventDone {
		return fmt.Errorf("event %q is reserved: errors go to POST /v1/streams/{id}/error, and %q ends every stream", name, eventDone)
	}
	return nil
}

// events serves GET /v1/streams/{id}/events: the stream as server-sent events from the resume
// point on (replay, then live), then `event: done`.
func (s *Server) events(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	after, err := resumePoint(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	frames := s.frames.acquire(info.ID)
	defer s.frames.release(info.ID, frames)
	sink := &eventsSink{sseWriter: s.sseWriterFor(c, info.ID), frames: frames, handOff: s.handsOff(info.ID)}
	sub, err := s.register(ctx, info.ID, info.Labels[manager.LabelSource], sink, after)
	if errors.Is(err, manager.ErrHistoryTrimmed) {
		return reword(err, fmt.Sprintf("chunks after %d of stream %q are no longer kept; resume from a later chunk", after, info.ID))
	}
	if err != nil {
		return err
	}
	defer sub.leave(ctx)
	sink.open(s.cfg.Heartbeat)
	sub.run(ctx)
	return nil
}

// resumePoint reads where a subscriber resumes: the Last-Event-ID header (a reconnecting
// EventSource) or ?after=N. 0 replays everything kept. With both, the header wins when it is at
// least N: an EventSource opened with ?after=N reconnects to the same URL with the last ID it got.
// A header below N contradicts the query and is refused.
func resumePoint(c *gin.Context) (uint64, error) {
	if n := len(c.Request.Header.Values("Last-Event-ID")); n > 1 {
		return 0, newError(http.StatusBadRequest, fmt.Sprintf("Last-Event-ID is given %d times: give one resume point", n))
	}
	header := c.GetHeader("Last-Event-ID")
	query, hasQuery := c.GetQuery("after")
	var after uint64
	if header != "" {
		n, err := strconv.ParseUint(header, 10, 64)
		if err != nil {
			return 0, newError(http.StatusBadRequest, "Last-Event-ID must be a chunk ID (a decimal number), got "+strconv.Quote(header))
		}
		after = n
	}
	if hasQuery {
		n, err := strconv.ParseUint(query, 10, 64)
		if err != nil {
			return 0, newError(http.StatusBadRequest, "after must be a chunk ID (a decimal number), got "+strconv.Quote(query))
		}
		if header != "" && after < n {
			return 0, newError(http.StatusBadRequest, fmt.Sprintf("Last-Event-ID %d is before after=%d: give one resume point", after, n))
		}
		after = max(after, n)
	}
	return after, nil
}

// handsOff is the eventsSink's handOff for a stream: an end "shutting down" while this server
// shuts down, of a stream another replica owns.
func (s *Server) handsOff(id string) func(manager.ClosedError) bool {
	return func(end manager.ClosedError) bool {
		return end.Reason == manager.ReasonShuttingDown && !s.ready.Load() && !s.owns(id)
	}
}
