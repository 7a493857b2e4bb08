package upstream

import (
	"bytes"
	"io"
	"strconv"
	"time"
)

// tailSize is how many of the last body bytes a Gemini attempt keeps to find an error tail.
const tailSize = 16 << 10

// watchedBody is a response body that reports activity to the watchdog, notes when bytes last
// arrived and, for the Gemini dialect, keeps the last tailSize bytes read: the SSE parser ignores
// the lines of a raw JSON error body, so the runner looks for one there when the body ends.
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

// tail is a ring buffer holding the last tailSize bytes written to it.
type tail struct {
	buf  []byte
	pos  int  // next write position
	full bool // buf has wrapped: the oldest byte is at pos
}

func (t *tail) write(p []byte) {
	if t.buf == nil {
		t.buf = make([]byte, tailSize)
	}
	if len(p) >= len(t.buf) {
		copy(t.buf, p[len(p)-len(t.buf):])
		t.pos, t.full = 0, true
		return
	}
	n := copy(t.buf[t.pos:], p)
	if n < len(p) {
		copy(t.buf, p[n:])
		t.full = true
	}
	t.pos = (t.pos + len(p)) % len(t.buf)
	if t.pos == 0 && len(p) > 0 {
		t.full = true
	}
}

// bytes returns the kept bytes, oldest first, and whether they are the whole body.
func (t *tail) bytes() ([]byte, bool) {
	if !t.full {
		return t.buf[:t.pos], true
	}
	out := make([]byte, 0, len(t.buf))
	return append(append(out, t.buf[t.pos:]...), t.buf[:t.pos]...), false
}

// leftover returns what follows the last blank line (the end of the last complete event block)
// in the kept bytes, trimmed of white space. ok is false when the kept bytes hold no blank line
// but are not the whole body either, so that the leftover is unknown.
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
