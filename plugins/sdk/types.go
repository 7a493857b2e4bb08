package sdk

import (
	"encoding/json"
	"strconv"
	"time"
)

// Kind is one role a plugin plays.
type Kind int

// Plugin kinds.
const (
	KindTransport Kind = iota + 1
	KindErrorHandler
)

func (k Kind) String() string {
	switch k {
	case KindTransport:
		return "transport"
	case KindErrorHandler:
		return "error_handler"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler, so that kinds read as names in JSON and logs.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Info describes a plugin to its host.
type Info struct {
	Name    string // required; the host's config may name the plugin differently
	Version string
	// Description says what the plugin does and which configuration it accepts.
	Description string
	// ConfigSchema is an optional JSON Schema of the accepted configuration.
	ConfigSchema string
	// Kinds is filled by Serve from the options it is given.
	Kinds []Kind
}

// Error is a stream error: an HTTP-like Code, a Google RPC Status name such as "UNAVAILABLE", and a
// Message. A Session returns one from Deliver to say how delivery failed; any other error is
// reported as Code 500, Status "INTERNAL", retryable.
type Error struct {
	Code    int
	Status  string
	Message string
	// Retryable says trying again may succeed.
	Retryable bool
	// HTTPStatus is the upstream's HTTP status in an ErrorInfo; 0 when there was no response.
	HTTPStatus int
}

// Error implements error.
func (e *Error) Error() string {
	return strconv.Itoa(e.Code) + " " + e.Status + ": " + e.Message
}

// Chunk is one chunk of a stream. Data is the payload exactly as it was pushed (usually JSON);
// on error chunks Err is set, Event is "error" and Data holds Gemini's JSON error body.
type Chunk struct {
	ID    uint64
	Event string
	Data  []byte
	Time  time.Time
	Err   *Error
}

// OpenRequest starts a session: the plugin is attached to one stream.
type OpenRequest struct {
	StreamID string
	// Instance is unique per creation of the stream. A stream ID can be used again, by another
	// tenant too, once the stream that had it was forgotten: name anything that outlives a session
	// (a file, a key) by StreamID and Instance, never by StreamID alone. A session opened again
	// after a restart has the same Instance.
	Instance string
	// Tenant is the tenant that created the stream (its "tenant" label); empty in open mode.
	Tenant         string
	SubscriptionID string
	// Metadata holds the stream's labels, such as "model" and "tenant".
	Metadata map[string]string
	// Config is the subscription's own configuration as JSON; nil when it has none.
	Config json.RawMessage
	// ResumeAfter is the last chunk ID the host knows to be acknowledged: the session receives the
	// chunks after it. After a plugin restart it may be lower than the last chunk the plugin
	// handled; the SDK cannot know that, so a plugin that must not repeat work checks Chunk.ID
	// against its own record.
	ResumeAfter uint64
}

// CloseInfo says why a session ends.
type CloseInfo struct {
	// Reason is the stream's close reason (such as "completed") or why the subscription ended.
	Reason string
	// Err is set when the stream or the subscription ended with an error.
	Err *Error
}

// Phase says where an error happened.
type Phase int

// Error phases.
const (
	// PhaseUpstream: reaching or reading the upstream failed.
	PhaseUpstream Phase = iota + 1
	// PhaseDelivery: delivering chunks to a client or a transport plugin failed.
	PhaseDelivery
)

func (p Phase) String() string {
	switch p {
	case PhaseUpstream:
		return "upstream"
	case PhaseDelivery:
		return "delivery"
	}
	return "unknown"
}

// Action is what an error handler wants done about an error.
type Action int

// Actions. ActionDefer passes the error on to the next handler, and at the end of the chain to the
// gateway's built-in policy.
const (
	ActionDefer Action = iota
	// ActionRetry tries again after Decision.RetryAfter.
	ActionRetry
	// ActionSkip drops the error: an upstream stream ends without an error chunk; a failed
	// delivery's chunks are dropped for that subscription only.
	ActionSkip
	// ActionTerminate ends the stream (upstream phase) or the subscription (delivery phase) with
	// the error, or with Decision.Err when it is set.
	ActionTerminate
)

func (a Action) String() string {
	switch a {
	case ActionDefer:
		return "defer"
	case ActionRetry:
		return "retry"
	case ActionSkip:
		return "skip"
	case ActionTerminate:
		return "terminate"
	}
	return "unknown"
}

// ErrorInfo describes one error for an ErrorHandler.
type ErrorInfo struct {
	Phase    Phase
	StreamID string
	// Subscription is the client or subscription whose delivery failed (PhaseDelivery).
	Subscription string
	// Attempt is 1 for the first attempt.
	Attempt int
	// Elapsed is the time since the first attempt.
	Elapsed time.Duration
	// Err is the error; Err.HTTPStatus is the upstream's HTTP status, 0 when there was none.
	Err Error
}

// Decision is an ErrorHandler's answer.
type Decision struct {
	Action Action
	// RetryAfter is how long to wait before a retry; 0 lets the host's backoff choose.
	RetryAfter time.Duration
	// Err optionally replaces the error a terminated stream or subscription reports.
	Err *Error
}
