package sse

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Newline is the line terminator an encoder writes.
type Newline uint8

// Line terminators. All three are valid event stream line endings.
const (
	// LF ends lines with "\n".
	LF Newline = iota
	// CRLF ends lines with "\r\n", as the Gemini API does.
	CRLF
	// CR ends lines with "\r".
	CR
)

// maxRetainedBuffer is the largest buffer an Encoder keeps between writes.
const maxRetainedBuffer = 1 << 20

// AppendEvent appends the encoding of ev to dst and returns the extended buffer: an id field if
// withID is set, an event field unless ev.Type is empty or DefaultType, one data field per line of
// ev.Data, each "name: value", and a blank line. It never writes any other field.
//
// Reading the result back gives ev again: the same Data bytes and Type (DefaultType for an empty
// Type) and, with withID, the same LastEventID. Events the format cannot carry unchanged are
// rejected with an error matching ErrInvalidField and dst is returned as it was: a CR or LF in
// ev.Type, a CR, LF or NUL in ev.LastEventID when withID is set, and a CR in ev.Data (a reader turns
// CR and CRLF into a LF, so such data would not read back as the same bytes).
func AppendEvent(dst []byte, ev Event, withID bool, nl Newline) ([]byte, error) {
	if err := checkEvent(ev, withID, nl); err != nil {
		return dst, err
	}
	if withID {
		dst = appendField(dst, "id", ev.LastEventID, nl)
	}
	if ev.Type != "" && ev.Type != DefaultType {
		dst = appendField(dst, "event", ev.Type, nl)
	}
	data := ev.Data
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		dst = appendField(dst, "data", data[:i], nl)
		data = data[i+1:]
	}
	dst = appendField(dst, "data", data, nl)
	return appendNewline(dst, nl), nil
}

// AppendComment appends a comment block, ":" + " " + text and a blank line, to dst. A text with a
// CR or LF is rejected with an error matching ErrInvalidField. Readers ignore comments; they keep
// idle connections and proxies alive.
func AppendComment(dst []byte, text string, nl Newline) ([]byte, error) {
	if err := checkNewline(nl); err != nil {
		return dst, err
	}
	if i := indexLineBreak(text, false); i >= 0 {
		return dst, fmt.Errorf("sse: comment has a line break at byte %d: %w", i, ErrInvalidField)
	}
	dst = append(dst, ':')
	if text != "" {
		dst = append(dst, ' ')
		dst = append(dst, text...)
	}
	dst = appendNewline(dst, nl)
	return appendNewline(dst, nl), nil
}

// AppendRetry appends a retry field telling readers to wait d, in whole milliseconds (truncated),
// before reconnecting, followed by a blank line. A negative d is rejected.
func AppendRetry(dst []byte, d time.Duration, nl Newline) ([]byte, error) {
	if err := checkNewline(nl); err != nil {
		return dst, err
	}
	if d < 0 {
		return dst, fmt.Errorf("sse: negative retry %v: %w", d, ErrInvalidField)
	}
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, d.Milliseconds(), 10)
	dst = appendNewline(dst, nl)
	return appendNewline(dst, nl), nil
}

// WriteEvent writes ev to w with LF line endings; see AppendEvent for the encoding and its errors.
// An Encoder writes without allocating.
func WriteEvent(w io.Writer, ev Event, withID bool) error {
	return NewEncoder(w, LF).Encode(ev, withID)
}

// Encoder writes events, comments and retry fields to an io.Writer, one Write call per block,
// reusing one buffer so that steady-state writes do not allocate. It is not safe for concurrent use.
type Encoder struct {
	w   io.Writer
	nl  Newline
	buf []byte
}

// NewEncoder returns an Encoder that writes to w, ending lines with nl.
func NewEncoder(w io.Writer, nl Newline) *Encoder {
	return &Encoder{w: w, nl: nl}
}

// Encode writes ev as AppendEvent encodes it.
func (e *Encoder) Encode(ev Event, withID bool) error {
	b, err := AppendEvent(e.buf[:0], ev, withID, e.nl)
	if err != nil {
		return err
	}
	return e.write(b)
}

// Comment writes a comment block as AppendComment encodes it.
func (e *Encoder) Comment(text string) error {
	b, err := AppendComment(e.buf[:0], text, e.nl)
	if err != nil {
		return err
	}
	return e.write(b)
}

// Retry writes a retry field as AppendRetry encodes it.
func (e *Encoder) Retry(d time.Duration) error {
	b, err := AppendRetry(e.buf[:0], d, e.nl)
	if err != nil {
		return err
	}
	return e.write(b)
}

func (e *Encoder) write(b []byte) error {
	_, err := e.w.Write(b)
	if cap(b) <= maxRetainedBuffer {
		e.buf = b[:0]
	} else {
		e.buf = nil
	}
	if err != nil {
		return fmt.Errorf("sse: write event stream: %w", err)
	}
	return nil
}

// checkEvent rejects an event AppendEvent could not encode so that it reads back unchanged.
func checkEvent(ev Event, withID bool, nl Newline) error {
	if err := checkNewline(nl); err != nil {
		return err
	}
	if i := indexLineBreak(ev.Type, false); i >= 0 {
		return fmt.Errorf("sse: event type has a line break at byte %d: %w", i, ErrInvalidField)
	}
	if withID {
		if i := indexLineBreak(ev.LastEventID, true); i >= 0 && ev.LastEventID[i] == 0 {
			return fmt.Errorf("sse: event ID has a NUL at byte %d, which readers ignore: %w", i, ErrInvalidField)
		} else if i >= 0 {
			return fmt.Errorf("sse: event ID has a line break at byte %d: %w", i, ErrInvalidField)
		}
	}
	if i := bytes.IndexByte(ev.Data, '\r'); i >= 0 {
		return fmt.Errorf("sse: event data has a CR at byte %d, which would read back as LF: %w", i, ErrInvalidField)
	}
	return nil
}

// indexLineBreak returns the index of the first CR or LF in s, or NUL if nul is set, or -1. Types,
// IDs and comments are short: a plain loop beats strings.IndexAny on them.
func indexLineBreak(s string, nul bool) int {
	for i := range len(s) {
		if c := s[i]; c == '\r' || c == '\n' || (nul && c == 0) {
			return i
		}
	}
	return -1
}

func checkNewline(nl Newline) error {
	if nl > CR {
		return fmt.Errorf("sse: invalid Newline value %d", nl)
	}
	return nil
}

// appendField appends "name: value" and a line terminator, or "name:" for an empty value.
func appendField[V string | []byte](dst []byte, name string, value V, nl Newline) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	if len(value) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, value...)
	}
	return appendNewline(dst, nl)
}

func appendNewline(dst []byte, nl Newline) []byte {
	switch nl {
	case CRLF:
		return append(dst, '\r', '\n')
	case CR:
		return append(dst, '\r')
	}
	return append(dst, '\n')
}
