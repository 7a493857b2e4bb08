package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/sse"
)

// errResponseEnded ends a Gemini-route subscriber's Run once an error was written: Gemini ends a
// response at its first error.
var errResponseEnded = errors.New("response ended with an error")

// geminiSink writes a stream to a Gemini-route caller exactly as Gemini does: data-only frames,
// `data: <json>\r\n\r\n`, and errors as Gemini's error body. The response headers wait for the
// first chunk, so that an error before any data is answered with its own HTTP status.
//
// The sseWriter is part of the sink, so that a chunk's delivery touches one object, not two.
type geminiSink struct {
	frames uint64 // data frames written: the ?after=N that resumes after them
	ended  bool   // an error was written; the response is over
	sseWriter
}

var _ sseSink = (*geminiSink)(nil)

// Deliver implements manager.Sink. The frames are encoded in a call of their own, whose frame
// (a Chunk and an sse.Event) is gone before the write: the caller's first write goes deepest,
// through net/http's header writing, and the handler's stack must not outgrow 8 KiB there
// (gateway/doc.go, Performance).
func (g *geminiSink) Deliver(_ context.Context, chunks []manager.Chunk) error {
	g.mu.Lock()
	bp := getFrameBuffer()
	defer g.release(bp)
	if se := g.encode(bp, chunks); se != nil {
		return g.failLocked(*bp, se)
	}
	return g.writeLocked(*bp)
}

// release ends a Deliver: it gives its frame buffer back and unlocks.
func (g *geminiSink) release(bp *[]byte) {
	putFrameBuffer(bp)
	g.mu.Unlock()
}

// encode appends the frames of chunks to *bp, up to the first that is an error or cannot be
// encoded, whose error it returns.
//
//go:noinline
func (g *geminiSink) encode(bp *[]byte, chunks []manager.Chunk) *manager.StreamError {
	buf := *bp
	defer func() { *bp = buf }()
	for i := range chunks {
		ch := &chunks[i]
		if ch.Err != nil {
			return ch.Err
		}
		next, err := sse.AppendEvent(buf, sse.Event{Data: ch.Data}, false, sse.CRLF)
		if err != nil {
			return unencodable(ch.ID, err)
		}
		buf = next
		g.frames++
	}
	return nil
}

// Closed implements manager.Sink. Only a stream that completed ends the response cleanly; any
// other close is written as an error, never as a silent end.
func (g *geminiSink) Closed(_ context.Context, end manager.ClosedError) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if end.Reason == manager.ReasonCompleted {
		return g.writeLocked(nil)
	}
	err := g.failLocked(nil, closeError(end))
	if errors.Is(err, errResponseEnded) {
		return nil
	}
	return err
}

// closeError is the error a Gemini-route caller receives when the stream closed without
// completing. A stream that ended with an error chunk ended the response with it already; the
// close is then not written.
func closeError(end manager.ClosedError) *manager.StreamError {
	switch {
	case end.Reason == manager.ReasonShuttingDown:
		return &manager.StreamError{Code: http.StatusServiceUnavailable, Status: "UNAVAILABLE", Message: end.Reason}
	case end.Err != nil:
		return end.Err
	}
	return &manager.StreamError{Code: 499, Status: "CANCELLED", Message: "stream stopped: " + end.Reason}
}

// failLocked writes the frames in buf and then the error se. Before anything was sent the error
// is the whole response, with se's HTTP status. It returns errResponseEnded when all was written.
func (g *geminiSink) failLocked(buf []byte, se *manager.StreamError) error {
	if g.ended {
		return errResponseEnded
	}
	g.ended = true
	if !g.started && len(buf) == 0 {
		g.started = true
		g.w.Header().Set("X-Stream-Id", g.streamID)
		writeStreamError(g.w, se)
		return errResponseEnded
	}
	buf = append(buf, "data: "...)
	buf = append(buf, se.JSON()...)
	buf = append(buf, "\r\n\r\n"...)
	if err := g.writeLocked(buf); err != nil {
		return err
	}
	return errResponseEnded
}

// slowClient implements sseSink: it tells the caller where to resume.
func (g *geminiSink) slowClient() {
	g.mu.Lock()
	defer g.mu.Unlock()
	// The client may be gone already; there is nobody else to tell.
	_ = g.failLocked(nil, slowClientError(g.streamID, g.frames))
}

// route implements sseSink.
func (g *geminiSink) route() string { return subscriberGemini }

// slowClientError is what a Gemini-route caller dropped as a slow client is told: where to
// resume, after the frames it got.
func slowClientError(streamID string, frames uint64) *manager.StreamError {
	resume := streamPath(streamID) + "/events?after=" + strconv.FormatUint(frames, 10)
	return &manager.StreamError{Code: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED",
		Message: "client too slow: it fell more than the queue size behind the stream; resume from " + resume}
}

// unencodable is the error written in place of a chunk the event-stream format cannot carry.
func unencodable(id uint64, err error) *manager.StreamError {
	return &manager.StreamError{Code: http.StatusInternalServerError, Status: "INTERNAL",
		Message: "chunk " + strconv.FormatUint(id, 10) + " cannot be sent as an SSE frame: " + err.Error()}
}
