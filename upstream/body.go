package upstream

import (
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// watchedBody is a response body that reports activity to the watchdog, notes when bytes last
// arrived and, for the Gemini dialect, keeps the body's unparsed end in a tail: the SSE parser
// ignores the lines of a raw JSON error body, so the runner looks for one there when the body ends.
type watchedBody struct {
	rc   io.Reader
	wd   *watchdog
	tail *geminiwire.Tail // nil when not wanted
	// readAt is when the last read returned bytes. The parser reads only when it needs more
	// input, so when it returns an event this is when the event's last byte arrived.
	readAt time.Time
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.readAt = time.Now()
		b.wd.activity()
		if b.tail != nil {
			_, _ = b.tail.Write(p[:n])
		}
	}
	return n, err
}

// readers recycles the SSE readers of ended attempts, so that an attempt does not allocate a read
// buffer.
var readers = sync.Pool{New: func() any { return sse.NewReader(nil) }}

// newReader returns a pooled SSE reader reading from rd; freeReader gives it back.
func newReader(rd io.Reader) *sse.Reader {
	r := readers.Get().(*sse.Reader)
	r.Reset(rd)
	return r
}

// freeReader returns r to the pool: the events it returned are no longer valid.
func freeReader(r *sse.Reader) {
	r.Reset(nil)
	readers.Put(r)
}

// tailFailure checks what a Gemini body left after its last event: nothing, Gemini's JSON error
// (whose code, status and message the stream gets), or bytes that are not a complete event.
func tailFailure(t *geminiwire.Tail) *failure {
	rest, ok := t.Leftover()
	switch {
	case !ok:
		return truncatedFailure("upstream stream ended with more than " + strconv.Itoa(geminiwire.TailSize) + " bytes that are not a complete event")
	case len(rest) == 0:
		return nil
	}
	if se, ok := geminiwire.ParseError(rest); ok {
		return upstreamFailure(se)
	}
	return truncatedFailure("upstream stream ended with " + strconv.Itoa(len(rest)) + " bytes that are not a complete event")
}
