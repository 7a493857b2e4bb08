package manager

import (
	"context"
	"time"
)

// Chunk is one unit of a stream. The manager sets ID (1, 2, 3, ... per stream, in push order).
// Time is when the chunk was produced: pushers stamp it on arrival, and the manager stamps a zero
// Time at push. Data is shared by every client and must be treated as read-only.
type Chunk struct {
	ID    uint64
	Event string // SSE event name; "" means the default
	Data  []byte
	Err   *StreamError // non-nil on error chunks; Data then holds Err.JSON() and Event is "error"
	Time  time.Time
}

// Client receives the chunks of one stream.
//
// SendChunk is called with the stream's lock held so that every client sees chunks in push order;
// it must not block on I/O (enqueue and return) and must not call back into the Manager.
//
// NotifyStreamClosed is never called with the stream's lock held. A close detaches the clients
// under the lock and notifies them after releasing it, so a client's NotifyStreamClosed comes after
// the SendChunk of every chunk pushed before the close, and no SendChunk follows it; the same holds
// for a client dropped by a failed send (DeregisterClient mode) and for one registered with replay
// on a closed stream. It should not block either: the caller that closed, pushed or registered
// (CloseStream, HandleStreamError, Shutdown, the inactivity timer, PushChunk, RegisterClientFrom)
// waits for it. Use a QueuedClient to adapt a blocking consumer.
type Client interface {
	ID() string
	SendChunk(ctx context.Context, ch Chunk) error
	NotifyStreamClosed(ctx context.Context, reason string) error
	Active() bool
}

// Drainer is implemented by clients that deliver asynchronously. Shutdown waits for Done to close
// (or for its context to end) before it returns.
type Drainer interface {
	Done() <-chan struct{}
}

// CloseReceiver is implemented by clients that want the close details, not only the reason: the
// manager calls StreamClosed on them instead of NotifyStreamClosed, outside the stream's lock; it
// must not block either. QueuedClient implements it and passes the details on to its Sink.
type CloseReceiver interface {
	StreamClosed(ctx context.Context, end ClosedError) error
}

// Passive is implemented by clients that only observe a stream (a transport attached to every
// stream by configuration, say): StreamInfo.Passive counts those that return true, so that an owner
// can tell whether anyone still wants the stream.
type Passive interface {
	Passive() bool
}

// Status is the lifecycle state of a stream.
type Status string

// Stream statuses.
const (
	StatusActive    Status = "active"
	StatusCompleted Status = "completed"
	StatusError     Status = "error"
)

// StreamInfo describes a stream at one moment.
type StreamInfo struct {
	ID          string
	Instance    string // unique per creation: an ID is used again once its stream was forgotten
	Status      Status
	CreatedAt   time.Time
	ClosedAt    time.Time // zero while active
	Clients     int       // registered clients
	Passive     int       // those of Clients that implement Passive and return true
	LastChunkID uint64
	Bytes       int64 // chunk data retained in the stream's history
	CloseReason string
	Err         *StreamError // the error that ended the stream when Status is StatusError
	// Labels are the stream's, as it was created with them (copied then). Every StreamInfo of the
	// stream shares this one map, which never changes: read it, and copy it to change it.
	Labels map[string]string

	// FirstChunkAt is the Time of the stream's first chunk, zero before it: with CreatedAt, the
	// stream's time to first chunk.
	FirstChunkAt time.Time
}
