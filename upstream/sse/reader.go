package sse

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// DefaultMaxEventSize is the maximum event size of a new Reader.
const DefaultMaxEventSize = 32 << 20

const (
	// firstBufferSize is the size of a Reader's first read buffer. An upstream stream's reads
	// are usually one event of a few hundred bytes each, and every open stream holds its buffer
	// while it waits for the next read: 1 KiB rather than 4 saves 3 KiB per open stream (issue
	// 15; it was 16 KiB before that). The buffer doubles when an event does not fit, and, up to
	// burstBufferSize, when the last read filled the room it was given and that room was at
	// least half the buffer: a source with more at hand (a file, a replay, a fast upstream) is
	// then read in large reads, as before, while small reads that do not end on an event's end
	// (the room left at the buffer's end shrinks until the unread bytes move to the front) do
	// not make it grow.
	firstBufferSize = 1 << 10
	burstBufferSize = 16 << 10
	// initialBufferSize bounds the data, event type and ID buffers Reset keeps for reuse.
	initialBufferSize = 4 << 10
	// maxEmptyReads is how many (0, nil) reads in a row a Reader accepts before giving up.
	maxEmptyReads = 100
	// maxRetryMillis is the largest retry value, in milliseconds, a time.Duration can hold.
	maxRetryMillis = int64(1<<63-1) / int64(time.Millisecond)
)

// bom is the UTF-8 encoding of U+FEFF BYTE ORDER MARK.
var bom = []byte{0xEF, 0xBB, 0xBF}

// discardMode says what a Reader drops after an over-limit event.
type discardMode uint8

const (
	keepAll       discardMode = iota
	skipLine                  // the rest of the line that went over the limit
	skipEventData             // the data fields up to the end of the event
)

// Reader reads events from an event stream following the WHATWG HTML "event stream
// interpretation". It reads incrementally, buffers one event and one read at most, and takes time
// linear in its input. A Reader is not safe for concurrent use.
type Reader struct {
	rd  io.Reader
	err error // sticky: io.EOF or the wrapped read error

	buf        []byte
	start, end int        // buf[start:end] has been read but not consumed
	filled     bool       // the last read filled a room of half buf or more: makeRoom grows buf up to burstBufferSize
	lf, cr     byteSearch // progress of the searches for line terminators
	skipLF     bool       // the last line ended with a CR at the end of buf; a LF that follows is part of it
	bomDone    bool       // the start of the stream has been checked for a BOM

	maxEventSize int
	discard      discardMode

	// The data buffer: while alias is set it is buf[aliasOff:aliasEnd] followed by a LF, otherwise
	// data, each value followed by a LF.
	data               []byte
	alias              bool
	aliasOff, aliasEnd int

	eventType []byte // the event type buffer
	id        []byte // the last event ID buffer
	lastID    string // the last event ID string, set at every blank line
	typeStr   string // the last non-default Type returned, reused while the type repeats

	retry   time.Duration
	ignored func(line []byte)
}

// NewReader returns a Reader that reads the event stream from r.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{}
	rd.Reset(r)
	return rd
}

// Reset makes the Reader read a new event stream from r, as a Reader from NewReader(r) would. It
// keeps its buffers for reuse unless they grew past firstBufferSize (the read buffer) or
// initialBufferSize (the data, event type and ID buffers), so that a pooled Reader holds little
// memory and starts every stream on a 1 KiB read buffer. Event.Data returned before is no
// longer valid.
func (r *Reader) Reset(rd io.Reader) {
	buf := r.buf
	if len(buf) > firstBufferSize {
		buf = nil
	}
	*r = Reader{
		rd:           rd,
		buf:          buf,
		lf:           byteSearch{at: -1},
		cr:           byteSearch{at: -1},
		maxEventSize: DefaultMaxEventSize,
		data:         reusable(r.data),
		eventType:    reusable(r.eventType),
		id:           reusable(r.id),
	}
}

// reusable returns b emptied, or nil when it grew past the initial buffer size.
func reusable(b []byte) []byte {
	if cap(b) > initialBufferSize {
		return nil
	}
	return b[:0]
}

// SetMaxEventSize sets the largest event Next accepts; n <= 0 restores DefaultMaxEventSize.
//
// An event is over the limit when, for any of its lines, the bytes of its data buffer so far
// (each earlier data value plus one LF) plus the length of that line (field name, colon and
// value, without the line terminator) exceed n. A one-line event written as "data: " + value thus
// carries at most n-6 data bytes. Comments and other fields inside an event count as lines too.
func (r *Reader) SetMaxEventSize(n int) {
	if n <= 0 {
		n = DefaultMaxEventSize
	}
	r.maxEventSize = n
}

// SetLastEventID seeds the last event ID buffer and string, as when resuming a stream with a
// Last-Event-ID header: events without an id field report id until one arrives.
func (r *Reader) SetLastEventID(id string) {
	r.id = append(r.id[:0], id...)
	r.lastID = id
}

// LastEventID returns the stream's last event ID string: the last event ID buffer as of the most
// recent blank line, whether or not that blank line dispatched an event. This is the value to send
// as Last-Event-ID when reconnecting; an id field of an unfinished event is not in it yet.
func (r *Reader) LastEventID() string {
	return r.lastID
}

// Retry returns the reconnection time of the last valid retry field, or 0 if there was none.
// Values too large for a time.Duration are ignored like invalid ones.
func (r *Reader) Retry() time.Duration {
	return r.retry
}

// Buffered returns how many bytes the Reader has read from its source but not parsed yet. After
// Next returns an event, they are the bytes that followed the blank line ending it.
func (r *Reader) Buffered() int {
	return r.end - r.start
}

// SetIgnoredLineFunc sets a function that Next calls with each line the format ignores: comments
// (lines starting with a colon) and fields other than data, event, id and retry. Lines that are not
// SSE at all, such as a JSON error body sent in place of events, arrive here too. The line excludes
// its terminator and is valid only during the call. A nil fn removes the function.
func (r *Reader) SetIgnoredLineFunc(fn func(line []byte)) {
	r.ignored = fn
}

// Next returns the next event. At the end of the stream it returns io.EOF, dropping an unfinished
// event; a failed read returns the reader's error wrapped, and every later call returns it again.
// An event over the maximum event size returns an error matching ErrEventTooLarge; the event is
// dropped, and the next call continues after it.
func (r *Reader) Next() (Event, error) {
	for {
		off, n, err := r.readLine()
		if err != nil {
			return Event{}, err
		}
		if r.processLine(off, n) {
			return r.dispatch()
		}
	}
}

// readLine returns the offset and length in buf of the next line that is within the size limit,
// reading more input as needed.
func (r *Reader) readLine() (off, n int, err error) {
	for {
		ready := r.prepare()
		if ready {
			if eol := r.findEOL(); eol >= 0 {
				off, n = r.start, eol-r.start
				r.consumeEOL(eol)
				switch {
				case r.discard == skipLine:
					r.discard = skipEventData
				case r.dataLen()+n > r.maxEventSize:
					if err := r.tooLarge(skipEventData); err != nil {
						return 0, 0, err
					}
				default:
					return off, n, nil
				}
				continue
			}
			if err := r.checkPartialLine(); err != nil {
				return 0, 0, err
			}
		}
		if err := r.fill(); err != nil {
			if !ready {
				continue // the stream ended inside what could have been a BOM: look at it as a line
			}
			return 0, 0, err
		}
	}
}

// prepare strips a leading BOM and the LF of a CRLF split across reads. It returns false when it
// needs more input to decide.
func (r *Reader) prepare() bool {
	if !r.bomDone {
		head := r.buf[r.start:r.end]
		if len(head) < len(bom) && r.err == nil && bytes.HasPrefix(bom, head) {
			return false
		}
		if bytes.HasPrefix(head, bom) {
			r.start += len(bom)
		}
		r.bomDone = true
	}
	if r.skipLF && r.start < r.end {
		if r.buf[r.start] == '\n' {
			r.start++
		}
		r.skipLF = false
	}
	return true
}

// findEOL returns the index in buf of the CR or LF that ends the current line, or -1.
func (r *Reader) findEOL() int {
	lf := r.lf.find(r.buf, r.start, r.end, '\n')
	cr := r.cr.find(r.buf, r.start, r.end, '\r')
	if cr < 0 || (lf >= 0 && lf < cr) {
		return lf
	}
	return cr
}

// consumeEOL consumes the line ending at eol, including a LF following a CR.
func (r *Reader) consumeEOL(eol int) {
	r.start = eol + 1
	if r.buf[eol] != '\r' {
		return
	}
	if r.start == r.end {
		r.skipLF = true
	} else if r.buf[r.start] == '\n' {
		r.start++
	}
}

// checkPartialLine enforces the size limit on the unfinished line at the end of buf, and drops
// that line while skipping an over-limit one.
func (r *Reader) checkPartialLine() error {
	switch {
	case r.discard == skipLine:
		r.start = r.end
	case r.dataLen()+r.end-r.start > r.maxEventSize:
		r.start = r.end
		return r.tooLarge(skipLine)
	}
	return nil
}

// tooLarge drops the event being built and enters mode. It returns ErrEventTooLarge once per event.
func (r *Reader) tooLarge(mode discardMode) error {
	report := r.discard == keepAll
	r.discard = mode
	r.alias = false
	r.data = r.data[:0]
	if !report {
		return nil
	}
	return fmt.Errorf("sse: event over the %d-byte limit dropped: %w", r.maxEventSize, ErrEventTooLarge)
}

// dataLen returns the length of the data buffer, including the LF after each value.
func (r *Reader) dataLen() int {
	if r.alias {
		return r.aliasEnd - r.aliasOff + 1
	}
	return len(r.data)
}

// processLine interprets the line buf[off:off+n]. It reports whether the line is blank and
// completes an event to dispatch.
func (r *Reader) processLine(off, n int) bool {
	if n == 0 {
		return r.endEvent()
	}
	line := r.buf[off : off+n]
	colon := bytes.IndexByte(line, ':')
	if colon == 0 {
		r.ignore(line)
		return false
	}
	name, valueOff := line, off+n
	if colon > 0 {
		name, valueOff = line[:colon], off+colon+1
		if valueOff < off+n && r.buf[valueOff] == ' ' {
			valueOff++
		}
	}
	value := r.buf[valueOff : off+n]
	switch string(name) {
	case "data":
		r.appendData(valueOff, off+n)
	case "event":
		r.eventType = append(r.eventType[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = append(r.id[:0], value...)
		}
	case "retry":
		r.setRetry(value)
	default:
		r.ignore(line)
	}
	return false
}

// appendData appends buf[from:to] and a LF to the data buffer. The first value of an event is not
// copied: the data buffer aliases buf until a second value arrives or buf must move.
func (r *Reader) appendData(from, to int) {
	switch {
	case r.discard == skipEventData:
		return
	case !r.alias && len(r.data) == 0:
		r.alias, r.aliasOff, r.aliasEnd = true, from, to
		return
	case r.alias:
		r.unalias()
	}
	r.data = append(r.data, r.buf[from:to]...)
	r.data = append(r.data, '\n')
}

// unalias copies an aliased data buffer into data.
func (r *Reader) unalias() {
	r.data = append(r.data[:0], r.buf[r.aliasOff:r.aliasEnd]...)
	r.data = append(r.data, '\n')
	r.alias = false
}

// setRetry sets the reconnection time if value is a non-empty run of ASCII digits.
func (r *Reader) setRetry(value []byte) {
	if len(value) == 0 {
		return
	}
	var ms int64
	for _, c := range value {
		if c < '0' || c > '9' {
			return
		}
		ms = ms*10 + int64(c-'0')
		if ms > maxRetryMillis {
			return
		}
	}
	r.retry = time.Duration(ms) * time.Millisecond
}

func (r *Reader) ignore(line []byte) {
	if r.ignored != nil {
		r.ignored(line)
	}
}

// endEvent handles a blank line: it sets the last event ID string and reports whether there is an
// event to dispatch. If there is none, it empties the event type buffer.
func (r *Reader) endEvent() bool {
	if string(r.id) != r.lastID {
		r.lastID = string(r.id)
	}
	if r.discard == keepAll && (r.alias || len(r.data) > 0) {
		return true
	}
	r.discard = keepAll
	r.data = r.data[:0]
	r.eventType = r.eventType[:0]
	return false
}

// dispatch returns the event endEvent found and empties the data and event type buffers.
func (r *Reader) dispatch() (Event, error) {
	ev := Event{Type: r.typeString(), LastEventID: r.lastID}
	r.eventType = r.eventType[:0]
	if r.alias {
		ev.Data = r.buf[r.aliasOff:r.aliasEnd:r.aliasEnd]
		r.alias = false
	} else {
		n := len(r.data) - 1
		ev.Data = r.data[:n:n]
		r.data = r.data[:0]
	}
	return ev, nil
}

// typeString returns the event type buffer as an event's Type without allocating for a repeat.
func (r *Reader) typeString() string {
	switch {
	case len(r.eventType) == 0:
		return DefaultType
	case string(r.eventType) != r.typeStr:
		r.typeStr = string(r.eventType)
	}
	return r.typeStr
}

// fill reads more input into buf. After a failed read it returns the sticky error.
func (r *Reader) fill() error {
	if r.err != nil {
		return r.err
	}
	r.makeRoom()
	for range maxEmptyReads {
		room := len(r.buf) - r.end
		n, err := r.rd.Read(r.buf[r.end:])
		if n < 0 || n > room {
			r.err = fmt.Errorf("sse: read event stream: reader returned invalid count %d", n)
			return r.err
		}
		r.end += n
		r.filled = n == room && 2*room >= len(r.buf)
		if err != nil {
			if err != io.EOF { //nolint:errorlint // io.Reader returns io.EOF itself, unwrapped
				err = fmt.Errorf("sse: read event stream: %w", err)
			}
			r.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	r.err = fmt.Errorf("sse: read event stream: %w", io.ErrNoProgress)
	return r.err
}

// makeRoom makes space at the end of buf: it moves the unconsumed bytes to the front, or doubles
// buf when they fill it or, below burstBufferSize, when the last read filled it. An aliased data
// buffer is copied out first so buf never holds more than the event being built plus one read.
func (r *Reader) makeRoom() {
	if !r.alias && r.start == r.end {
		r.shift(r.start)
	}
	if r.end < len(r.buf) {
		return
	}
	if r.alias {
		r.unalias()
	}
	if r.start > 0 {
		r.shift(r.start)
		if !r.filled || len(r.buf) >= burstBufferSize {
			return
		}
	}
	grown := make([]byte, max(2*len(r.buf), firstBufferSize))
	copy(grown, r.buf[:r.end])
	r.buf = grown
}

// shift moves buf[k:end] to the front of buf.
func (r *Reader) shift(k int) {
	if k == 0 {
		return
	}
	copy(r.buf, r.buf[k:r.end])
	r.start -= k
	r.end -= k
	r.aliasOff -= k
	r.aliasEnd -= k
	r.lf.shift(k)
	r.cr.shift(k)
}
