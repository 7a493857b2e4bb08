package gateway

import (
	"cmp"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// sseWriter writes event-stream frames to one response. The subscriber's queued client delivers
// from the handler's goroutine and the heartbeat timer fires on its own, so every write happens
// under mu; finish ends the writing before the handler returns.
//
// The fields every write touches come first: at a chunk every 20 ms per stream they are cold
// each time, and each cache line costs.
type sseWriter struct {
	mu      sync.Mutex
	started bool // the response headers are sent
	done    bool // the handler is finishing: nothing may be written any more
	wrote   bool // a frame was written since the last heartbeat tick
	err     error
	body    http.ResponseWriter // where frames go: w, or net/http's response behind gin's (bypass)
	flusher http.Flusher        // body's, when the frames bypass gin's writer
	refresh time.Time           // when the write deadline is next moved forward
	sent    int                 // bytes written past gin's writer, for the access line

	w        http.ResponseWriter
	rc       http.ResponseController
	gw       gin.ResponseWriter // w, when the frames bypass it
	req      *request           // whose access line counts sent
	streamID string
	stall    time.Duration
	interval time.Duration
	beat     *time.Timer

	// contentType is the media type of the response; "" is text/event-stream. A Gemini stream
	// written as a JSON array (arraySink) is application/json.
	contentType string
}

// pingFrame is the heartbeat comment.
var pingFrame = []byte(": ping\n\n")

func newSSEWriter(w http.ResponseWriter, streamID string, stall time.Duration) *sseWriter {
	sw := new(sseWriter)
	sw.init(w, streamID, stall)
	return sw
}

// sseWriterFor is newSSEWriter for c's response, bypassing gin's writer.
func (s *Server) sseWriterFor(c *gin.Context, streamID string) *sseWriter {
	sw := newSSEWriter(c.Writer, streamID, s.cfg.StalledWriteTimeout)
	sw.bypass(requestFrom(c.Request.Context()))
	return sw
}

// init readies a zero sseWriter, for one that is a field of its sink.
func (sw *sseWriter) init(w http.ResponseWriter, streamID string, stall time.Duration) {
	sw.w, sw.body, sw.rc, sw.streamID, sw.stall = w, w, *http.NewResponseController(w), streamID, stall
}

// bypass makes sw write and flush its frames straight to net/http's response when w is gin's
// writer, as gin's Write and Flush would, without gin's hop and its cold cache line at every
// write: gin's writer holds the status, which is set before the first frame, and counts the
// bytes, which sw counts instead and hands to r's access line at finish. Without a request, or
// when w is not gin's, the frames go through w.
func (sw *sseWriter) bypass(r *request) {
	gw, ok := sw.w.(gin.ResponseWriter)
	inner, unwraps := sw.w.(interface{ Unwrap() http.ResponseWriter })
	if r == nil || !ok || !unwraps {
		return
	}
	sw.gw, sw.req, sw.body = gw, r, inner.Unwrap()
	sw.flusher, _ = sw.body.(http.Flusher) // gin's Flush flushes only a Flusher
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
	if sw.gw != nil {
		sw.gw.WriteHeaderNow() // gin's first Write would
	}
}

// writeLocked writes b (whole frames) and flushes them. mu must be held.
func (sw *sseWriter) writeLocked(b []byte) error {
	if sw.err != nil {
		return sw.err
	}
	sw.startLocked()
	sw.extendDeadlineLocked()
	if len(b) > 0 {
		n, err := sw.body.Write(b)
		sw.sent += n
		if err != nil {
			sw.err = err
			return err
		}
	}
	switch {
	case sw.flusher != nil:
		sw.flusher.Flush()
	case sw.gw == nil:
		if err := sw.rc.Flush(); err != nil {
			sw.err = err
			return err
		}
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
	if sw.req != nil {
		sw.req.bypassed += sw.sent
		sw.sent = 0
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
