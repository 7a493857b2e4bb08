package gateway

import (
	"cmp"
	"net/http"
	"sync"
	"time"
)

// sseWriter writes event-stream frames to one response. The subscriber's queued client delivers
// from the handler's goroutine and the heartbeat timer fires on its own, so every write happens
// under mu; finish ends the writing before the handler returns.
type sseWriter struct {
	mu       sync.Mutex
	w        http.ResponseWriter
	rc       http.ResponseController
	streamID string
	stall    time.Duration
	refresh  time.Time // when the write deadline is next moved forward
	started  bool      // the response headers are sent
	done     bool      // the handler is finishing: nothing may be written any more
	wrote    bool      // a frame was written since the last heartbeat tick
	err      error
	interval time.Duration
	beat     *time.Timer

	// contentType is the media type of the response; "" is text/event-stream. A Gemini stream
	// written as a JSON array (arraySink) is application/json.
	contentType string
}

// pingFrame is the heartbeat comment.
var pingFrame = []byte(": ping\n\n")

func newSSEWriter(w http.ResponseWriter, streamID string, stall time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: *http.NewResponseController(w), streamID: streamID, stall: stall}
}

// startLocked sends the 200 response headers of an event stream. mu must be held.
func (sw *sseWriter) startLocked() {
	if sw.started {
		return
	}
	sw.started = true
	// The values share one array instead of a slice per Header.Set, each capped at its length so
	// that a later Add copies rather than writing into its neighbour; the keys are canonical.
	v := &[...]string{cmp.Or(sw.contentType, "text/event-stream"), "no-cache", "no", sw.streamID}
	h := sw.w.Header()
	h["Content-Type"] = v[0:1:1]
	h["Cache-Control"] = v[1:2:2]
	h["X-Accel-Buffering"] = v[2:3:3]
	if sw.streamID != "" { // the lifecycle feed is no one stream
		h["X-Stream-Id"] = v[3:4:4]
	}
	h.Del("Content-Length")
	sw.w.WriteHeader(http.StatusOK)
}

// writeLocked writes b (whole frames) and flushes them. mu must be held.
func (sw *sseWriter) writeLocked(b []byte) error {
	if sw.err != nil {
		return sw.err
	}
	sw.startLocked()
	sw.extendDeadlineLocked()
	if len(b) > 0 {
		if _, err := sw.w.Write(b); err != nil {
			sw.err = err
			return err
		}
	}
	if err := sw.rc.Flush(); err != nil {
		sw.err = err
		return err
	}
	sw.wrote = true
	return nil
}

// extendDeadlineLocked keeps a write deadline between half the stalled-write timeout and the whole
// of it ahead, so that a client that stops reading cannot pin the handler, while moving the
// deadline (a runtime timer update) at most once per half timeout rather than at every write.
// The check reads the monotonic clock only (time.Until of a time that carries it), half the
// clock reads of time.Now, which showed in the fan-out's profile at one check per write per
// subscriber. mu must be held.
func (sw *sseWriter) extendDeadlineLocked() {
	if time.Until(sw.refresh) > 0 {
		return
	}
	now := time.Now()
	// An error means the connection has no deadlines; the write then goes on without one.
	_ = sw.rc.SetWriteDeadline(now.Add(sw.stall))
	sw.refresh = now.Add(sw.stall / 2)
}

// startHeartbeat writes a ": ping" comment every interval in which nothing else was written.
func (sw *sseWriter) startHeartbeat(interval time.Duration) {
	if interval <= 0 {
		return
	}
	sw.mu.Lock()
	sw.interval = interval
	sw.beat = time.AfterFunc(interval, sw.ping)
	sw.mu.Unlock()
}

func (sw *sseWriter) ping() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.done {
		return
	}
	if !sw.wrote {
		// A failed ping is remembered in sw.err and ends the next delivery.
		_ = sw.writeLocked(pingFrame)
	}
	sw.wrote = false
	sw.beat.Reset(sw.interval)
}

// finish stops the heartbeat and any further write. It leaves one more stalled-write window for
// net/http to end the response.
func (sw *sseWriter) finish() {
	sw.mu.Lock()
	sw.done = true
	if sw.beat != nil {
		sw.beat.Stop()
	}
	if sw.started {
		sw.refresh = time.Time{}
		sw.extendDeadlineLocked()
	}
	sw.mu.Unlock()
}

// frameBuffers recycles the buffers a batch of frames is built in, so that an idle subscriber
// holds none.
var frameBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledFrameBuffer is the largest buffer returned to frameBuffers.
const maxPooledFrameBuffer = 64 << 10

func getFrameBuffer() *[]byte { return frameBuffers.Get().(*[]byte) }

func putFrameBuffer(b *[]byte) {
	if cap(*b) > maxPooledFrameBuffer {
		return
	}
	*b = (*b)[:0]
	frameBuffers.Put(b)
}
