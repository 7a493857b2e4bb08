package upstream

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/streamgate/streamgate/upstream/sse"
)

// tailSize is how many of the last body bytes a Gemini attempt keeps to find an error tail.
const tailSize = 16 << 10

// watchedBody is a response body that reports activity to the watchdog, notes when bytes last
// arrived and, for the Gemini dialect, keeps the body's unparsed end in a tail: the SSE parser
// ignores the lines of a raw JSON error body, so the runner looks for one there when the body ends.
type watchedBody struct {
	rc   io.Reader
	wd   *watchdog
	tail *tail // nil when not wanted
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
			b.tail.write(p[:n])
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

// tail holds the last bytes written to it, at most tailSize of them. Only what follows the last
// blank line matters at the end of a body, so the runner drops the bytes of every event the
// parser returned (keepLast): the tail then stays as small as the bytes read past the last event,
// and becomes a ring of tailSize bytes only when more than that arrive without an event. Dropping
// only moves start; the kept bytes move to the front of buf when an append would pass tailSize.
type tail struct {
	buf   []byte // not ring: buf[start:] are the kept bytes; ring: tailSize bytes, oldest at pos
	start int    // not ring: where the kept bytes begin
	pos   int    // ring: the next write position, where the oldest byte is
	ring  bool   // buf is a full ring of tailSize bytes
}

func (t *tail) write(p []byte) {
	if !t.ring && len(t.buf)+len(p) > tailSize {
		t.buf = t.buf[:copy(t.buf, t.buf[t.start:])]
		t.start = 0
	}
	if !t.ring && len(t.buf)+len(p) <= tailSize {
		t.buf = append(t.buf, p...)
		return
	}
	if !t.ring {
		t.pos = len(t.buf)
		t.buf = slices.Grow(t.buf, tailSize-t.pos)[:tailSize]
		t.ring = true
	}
	if len(p) >= tailSize {
		copy(t.buf, p[len(p)-tailSize:])
		t.pos = 0
		return
	}
	n := copy(t.buf[t.pos:], p)
	copy(t.buf, p[n:])
	t.pos = (t.pos + len(p)) % tailSize
}

// keepLast drops all but the last n bytes written. The runner calls it with the bytes the parser
// read past the end of the event it just returned, which ended with a blank line, so the bytes
// dropped never hold what follows the body's last blank line.
func (t *tail) keepLast(n int) {
	if !t.ring {
		t.start = max(t.start, len(t.buf)-n)
		return
	}
	b, _ := t.bytes()
	if n >= len(b) {
		return
	}
	t.buf = append(t.buf[:0], b[len(b)-n:]...)
	t.start, t.ring = 0, false
}

// bytes returns the kept bytes, oldest first, and whether they are all the bytes written since
// the start of the body or the last keepLast.
func (t *tail) bytes() ([]byte, bool) {
	if !t.ring {
		return t.buf[t.start:], true
	}
	out := make([]byte, 0, tailSize)
	return append(append(out, t.buf[t.pos:]...), t.buf[:t.pos]...), false
}

// leftover returns what follows the last blank line (the end of the last complete event block)
// in the kept bytes, trimmed of white space. ok is false when the kept bytes hold no blank line
// but are not all the bytes since the start of the body or its last event either, so that the
// leftover is unknown.
func (t *tail) leftover() (rest []byte, ok bool) {
	b, whole := t.bytes()
	end, found := lastBlankLine(b)
	if !found && !whole {
		return nil, false
	}
	return bytes.TrimSpace(b[end:]), true
}

// lastBlankLine returns the offset just after the last empty line in b, with CR, LF and CRLF line
// endings, and whether there was one.
func lastBlankLine(b []byte) (int, bool) {
	after, found := 0, false
	lineStart := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\r' && c != '\n' {
			continue
		}
		next := i + 1
		if c == '\r' && next < len(b) && b[next] == '\n' {
			next++
		}
		if i == lineStart {
			after, found = next, true
		}
		lineStart = next
		i = next - 1
	}
	return after, found
}

// tailFailure checks what a Gemini body left after its last event: nothing, Gemini's JSON error
// (whose code, status and message the stream gets), or bytes that are not a complete event.
func tailFailure(t *tail) *failure {
	rest, ok := t.leftover()
	switch {
	case !ok:
		return truncatedFailure("upstream stream ended with more than " + strconv.Itoa(tailSize) + " bytes that are not a complete event")
	case len(rest) == 0:
		return nil
	}
	if se, ok := parseErrorBody(rest); ok {
		return upstreamFailure(se)
	}
	return truncatedFailure("upstream stream ended with " + strconv.Itoa(len(rest)) + " bytes that are not a complete event")
}
