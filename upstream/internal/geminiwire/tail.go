package geminiwire

import (
	"bytes"
	"slices"
)

// TailSize is how many of the last bytes of a stream a Tail keeps at most.
const TailSize = 16 << 10

// Tail keeps the end of a streamed body that follows its last event. Gemini may end a stream with
// a raw, often pretty-printed, {"error":{...}} body after the events, whose lines an SSE parser
// skips: a reader writes the body's bytes to a Tail as they arrive and reads what follows the last
// event with Leftover when the body ends.
//
// Only what follows the last blank line matters there, so the reader drops the bytes of every
// event its parser returned (KeepLast): the Tail then stays as small as the bytes read past the
// last event, and becomes a ring of TailSize bytes only when more than that arrive without an
// event. Dropping only moves start; a Write moves the kept bytes to the front of buf before it
// appends past buf's capacity (or TailSize), so that buf stays as large as the kept bytes plus
// one read instead of growing to TailSize on every stream. The zero Tail is empty and ready for
// use.
type Tail struct {
	buf   []byte // not ring: buf[start:] are the kept bytes; ring: TailSize bytes, oldest at pos
	start int    // not ring: where the kept bytes begin
	pos   int    // ring: the next write position, where the oldest byte is
	ring  bool   // buf is a full ring of TailSize bytes
}

// Write keeps p as the newest bytes, dropping the oldest beyond TailSize. It never fails.
func (t *Tail) Write(p []byte) (int, error) {
	if !t.ring && t.start > 0 && len(t.buf)+len(p) > min(cap(t.buf), TailSize) {
		t.buf = t.buf[:copy(t.buf, t.buf[t.start:])]
		t.start = 0
	}
	if !t.ring && len(t.buf)+len(p) <= TailSize {
		t.buf = append(t.buf, p...)
		return len(p), nil
	}
	if !t.ring {
		t.pos = len(t.buf)
		t.buf = slices.Grow(t.buf, TailSize-t.pos)[:TailSize]
		t.ring = true
	}
	if len(p) >= TailSize {
		copy(t.buf, p[len(p)-TailSize:])
		t.pos = 0
		return len(p), nil
	}
	n := copy(t.buf[t.pos:], p)
	copy(t.buf, p[n:])
	t.pos = (t.pos + len(p)) % TailSize
	return len(p), nil
}

// KeepLast drops all but the last n bytes written. A reader calls it with the bytes its parser
// read past the end of the event it just returned, which ended with a blank line, so the bytes
// dropped never hold what follows the body's last blank line.
func (t *Tail) KeepLast(n int) {
	if !t.ring {
		t.start = max(t.start, len(t.buf)-n)
		return
	}
	t.keepLastRing(n)
}

// keepLastRing is KeepLast of a ring. It is kept out of KeepLast, which runs on every event:
// bytes' TailSize scratch buffer lives on its stack, and inlined there it made every call need
// 16 KiB of stack, so that the runner's goroutine grew (and copied) its stack on its first event.
//
//go:noinline
func (t *Tail) keepLastRing(n int) {
	b, _ := t.bytes()
	if n >= len(b) {
		return
	}
	t.buf = append(t.buf[:0], b[len(b)-n:]...)
	t.start, t.ring = 0, false
}

// bytes returns the kept bytes, oldest first, and whether they are all the bytes written since
// the start of the body or the last KeepLast.
func (t *Tail) bytes() ([]byte, bool) {
	if !t.ring {
		return t.buf[t.start:], true
	}
	out := make([]byte, 0, TailSize)
	return append(append(out, t.buf[t.pos:]...), t.buf[:t.pos]...), false
}

// Leftover returns what follows the last blank line (the end of the last complete event block)
// in the kept bytes, trimmed of white space. ok is false when the kept bytes hold no blank line
// but are not all the bytes since the start of the body or its last event either, so that the
// leftover is unknown.
func (t *Tail) Leftover() (rest []byte, ok bool) {
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
