package sse

import "errors"

// DefaultType is the type of an event that had no event field.
const DefaultType = "message"

// Event is one dispatched event of an event stream.
type Event struct {
	// Type is the value of the event's last event field, or DefaultType when it had none or an
	// empty one.
	Type string
	// Data is the event's data buffer: the values of its data fields joined with LF. A Reader
	// returns it in memory it reuses, so it is valid only until the next call to Next.
	Data []byte
	// LastEventID is the stream's last event ID buffer at dispatch time: the value of the latest
	// id field seen on the stream, not necessarily one in this event.
	LastEventID string
}

// Sentinel errors. Match them with errors.Is; they are returned wrapped with context.
var (
	// ErrEventTooLarge is returned by Reader.Next for an event over the reader's maximum event size.
	// The event is dropped and the next call to Next continues with the following event.
	ErrEventTooLarge = errors.New("sse: event too large")
	// ErrInvalidField is returned by the encoder for an event or comment the event stream format
	// cannot carry unchanged: a CR or LF in a type, ID or comment, a NUL in an ID, or a CR in data.
	ErrInvalidField = errors.New("sse: field cannot be encoded")
)
