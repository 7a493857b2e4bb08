// Package sse reads and writes server-sent event streams (text/event-stream).
//
// It owns streamgate's event stream parser, Reader, and its encoder, AppendEvent and Encoder.
// Package sse imports nothing else from streamgate and must never do so: upstream uses it to read
// providers, the gateway to write to clients.
//
// # Reading
//
// Reader follows the WHATWG HTML "event stream interpretation" exactly:
//
//   - Lines end with CR, LF or CRLF, mixed freely; a CRLF split across two reads is one line
//     ending, and an event ending in a CR is returned without waiting for the next byte.
//   - One UTF-8 byte order mark at the very start of the stream is skipped; a later one is data.
//   - A line starting with a colon is a comment. Otherwise the field name runs to the first colon
//     and the value follows it, with one leading space removed; a line without a colon is a field
//     name with an empty value. Unknown field names (they are case-sensitive) are ignored.
//   - data appends its value and a LF to the data buffer; event sets the event type; id sets the
//     last event ID buffer unless the value contains NUL, and an empty id resets it; retry sets
//     the reconnection time if its value is only ASCII digits.
//   - A blank line dispatches: the last event ID string takes the value of the buffer, and if the
//     data buffer is not empty an event is returned with the buffer's final LF removed and the
//     type "message" unless an event field set another. The data and type buffers are then
//     emptied; the last event ID buffer is kept across events.
//   - At the end of the stream an unfinished event, or line, is dropped.
//
// Choices where the specification leaves room, or where streamgate departs from a browser:
//
//   - Bytes are not decoded: data, types and IDs are passed through unchanged, invalid UTF-8
//     included, where a browser would substitute U+FFFD. Only the byte sequence EF BB BF counts as a
//     byte order mark.
//   - Event.Data is valid until the next call to Next: a one-line event aliases the read buffer, a
//     multi-line one a reused data buffer. Repeated types and IDs reuse the previous string, so in
//     steady state Next allocates only when the ID changes.
//   - Reader.LastEventID reports the last event ID string (set at each blank line, with or without
//     an event), the value to send as Last-Event-ID on reconnection; Event.LastEventID is the same
//     value at dispatch. SetLastEventID seeds both for a resumed connection.
//   - A retry value too large for a time.Duration is ignored. Retry returns 0 both before any retry
//     field and after "retry: 0".
//   - Comments and unknown fields reach an optional function (SetIgnoredLineFunc), for keep-alive
//     tracking or to capture a body that is not an event stream, such as a JSON error.
//   - The maximum event size (SetMaxEventSize, default 32 MiB) bounds, for every line of an event,
//     the data buffer so far (each earlier data value plus one LF) plus that line without its
//     ending. An over-limit event yields an error matching ErrEventTooLarge once; its data is
//     dropped, the over-limit line is skipped without being buffered, the event's other fields
//     still apply (as in the specification, an id sets the last event ID buffer), and the next
//     call to Next continues with the following event. Lines are otherwise unlimited.
//   - A failed read is returned wrapped, and again on every later call; only a clean io.EOF from
//     the underlying reader is the end of the stream.
//
// The Reader searches for line endings with bytes.IndexByte and remembers how far it searched, so
// each input byte is examined a bounded number of times whatever the read sizes: time is linear in
// the input. Its buffer starts at 1 KiB and doubles for a line that does not fit and, up to 16
// KiB, while reads fill rooms of half the buffer or more (a source with more at hand than the
// buffer), so memory stays within a small multiple of the largest event or read. Reset reuses a Reader for another
// stream, keeping its buffers unless they grew.
//
// # Writing
//
// AppendEvent and Encoder write an event as an optional "id: " line, an "event: " line unless the
// type is empty or "message", one "data: " line per LF-separated line of the data, and a blank
// line, with LF, CRLF or CR line endings; an empty value is written as "name:" alone. They never
// write any other field. Reading the output back gives the same event: the same data bytes, the
// same type ("message" for an empty one) and, when the ID is written, the same ID. What the format
// cannot carry unchanged is rejected with an error matching ErrInvalidField instead of altered:
// a CR or LF in the type, a CR, LF or NUL in a written ID, and a CR in the data (a reader turns
// CR and CRLF into LF, so "a\r\nb" would come back as "a\nb"). Comments and retry fields have their
// own methods.
package sse
