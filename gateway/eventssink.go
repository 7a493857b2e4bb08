package gateway

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/sse"
)

// eventsSink writes a stream to a /v1/streams/{id}/events subscriber: every chunk as `id: N`,
// `event:` when set and `data:`, error chunks as `event: error` with Gemini's error JSON, and the
// end as `event: done` with {"status","reason"}.
type eventsSink struct {
	*sseWriter
	frames *frameCache // the stream's frames, shared with its other subscribers
	// handOff reports whether an end is this replica letting go of a stream it does not own
	// while it shuts down (cluster mode): the stream goes on elsewhere, so the response ends
	// without `event: done` and an EventSource reconnects, to another replica, with
	// Last-Event-ID.
	handOff func(manager.ClosedError) bool
}

var _ sseSink = (*eventsSink)(nil)

// open sends the response headers at once, before any chunk, and starts the heartbeat.
func (e *eventsSink) open(heartbeat time.Duration) {
	e.mu.Lock()
	// A failed first write shows again in the first delivery.
	_ = e.writeLocked(nil)
	e.mu.Unlock()
	e.startHeartbeat(heartbeat)
}

// slowClient implements sseSink: the subscriber is cut and resumes with Last-Event-ID, which
// the events route is made for.
func (e *eventsSink) slowClient() {}

// route implements sseSink.
func (e *eventsSink) route() string { return subscriberEvents }

// Deliver implements manager.Sink: it writes the whole batch, then flushes once. A live
// subscriber usually gets one chunk at a time: its frame, encoded once for every subscriber of
// the stream, is written as it is; a batch is copied into one buffer so that it is one write,
// the frames of a long one (a replay) encoded there rather than cached.
func (e *eventsSink) Deliver(_ context.Context, chunks []manager.Chunk) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(chunks) == 1 {
		if f := e.frames.frame(chunks[0], true); f != nil {
			return e.writeLocked(f)
		}
	}
	bp := getFrameBuffer()
	defer putFrameBuffer(bp)
	buf := *bp
	store := len(chunks) <= maxCachedBatch
	for _, ch := range chunks {
		if f := e.frames.frame(ch, store); f != nil {
			buf = append(buf, f...)
		} else {
			buf = appendChunkFrame(buf, ch)
		}
	}
	*bp = buf
	return e.writeLocked(buf)
}

// appendChunkFrame appends one chunk's frame; a chunk the format cannot carry becomes an error
// frame with the same ID, so the subscriber's position still advances.
func appendChunkFrame(buf []byte, ch manager.Chunk) []byte {
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, ch.ID, 10)
	buf = append(buf, '\n')
	ev := sse.Event{Type: ch.Event, Data: ch.Data}
	if ch.Err != nil {
		ev.Type = "error"
	}
	out, err := sse.AppendEvent(buf, ev, false, sse.LF)
	if err != nil {
		out, _ = sse.AppendEvent(buf, sse.Event{Type: "error", Data: unencodable(ch.ID, err).JSON()}, false, sse.LF)
	}
	return out
}

// doneEvent is the data of the final `event: done`.
type doneEvent struct {
	Status manager.Status `json:"status"`
	Reason string         `json:"reason"`
}

// Closed implements manager.Sink.
func (e *eventsSink) Closed(_ context.Context, end manager.ClosedError) error {
	if e.handOff(end) {
		return nil
	}
	data, err := json.Marshal(doneEvent{Status: end.Status, Reason: end.Reason})
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	frame, err := sse.AppendEvent(nil, sse.Event{Type: "done", Data: data}, false, sse.LF)
	if err != nil {
		return err
	}
	return e.writeLocked(frame)
}
