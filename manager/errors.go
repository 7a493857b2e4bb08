package manager

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Sentinel errors. Match them with errors.Is; the manager wraps them with the stream or client ID.
var (
	ErrNotFound       = errors.New("stream not found")
	ErrExists         = errors.New("stream already exists")
	ErrTooManyStreams = errors.New("too many concurrent streams")
	ErrTooManyClients = errors.New("too many clients on stream")
	ErrClientExists   = errors.New("client already registered")
	ErrClosed         = errors.New("stream closed")
	ErrHistoryTrimmed = errors.New("requested chunks are no longer in the stream history")
	ErrShutdown       = errors.New("manager is shut down")
	ErrInvalidConfig  = errors.New("invalid manager config")
	ErrInvalidID      = errors.New("invalid stream id")
	// ErrInvalidAfterID is returned when a replay starts after a chunk the stream has not produced yet.
	ErrInvalidAfterID = errors.New("resume point is beyond the last chunk of the stream")
	// ErrQueueFull is returned by a QueuedClient or Subscription whose bounded queue overflowed; the
	// client has lost a chunk and turned inactive.
	ErrQueueFull = errors.New("client queue full")
	// ErrSlowClient ends a QueuedClient's Run and a Subscription's Next after a queue overflow. The
	// owner may register again from the last chunk ID it received.
	ErrSlowClient = errors.New(ReasonSlowClient)
)

// IsGone reports whether err says the stream is no longer there to act on: it closed
// (ErrClosed), is unknown or forgotten (ErrNotFound), or the manager shut down (ErrShutdown). A
// producer stops feeding such a stream and a subscriber leaving it has nothing to undo.
func IsGone(err error) bool {
	return errors.Is(err, ErrClosed) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrShutdown)
}

// ErrBudgetExhausted is returned, in a *LimitError, when what a push or a new stream would add to
// the retained chunk data does not fit in the byte budget (Config.MaxBytes).
var ErrBudgetExhausted = errors.New("memory budget exhausted")

// Close reasons the manager itself uses.
const (
	ReasonCompleted    = "completed"
	ReasonShuttingDown = "shutting down"
	ReasonSlowClient   = "slow client"
	// ReasonTerminatedPrefix starts the reason of a stream ended by HandleStreamError(terminate=true).
	ReasonTerminatedPrefix = "Stream terminated due to error: "
)

// StreamError is an error carried in a stream: an HTTP-like Code, a Google RPC Status name such as
// "UNAVAILABLE", and a Message. It encodes as Gemini's error body.
type StreamError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	// RetryAfter is how long the error's source asked callers to wait before trying again (an
	// upstream's Retry-After header); 0 when it did not say. It is not part of the JSON.
	RetryAfter time.Duration `json:"-"`
	// Raw is the error as its source wrote it in a dialect of its own (an OpenAI-compatible
	// upstream's error body), for a route that answers in that dialect to keep what Code, Status
	// and Message cannot say. The manager keeps it as it is and never reads it: it is not part of
	// the JSON, so error chunks and the events route stay Gemini's.
	Raw []byte `json:"-"`
}

// Error implements error.
func (e *StreamError) Error() string {
	return strconv.Itoa(e.Code) + " " + e.Status + ": " + e.Message
}

// Normalized returns a copy of e with a missing Code set to 500 and a missing Status set to the
// one Gemini pairs with the code.
func (e *StreamError) Normalized() *StreamError {
	out := *e
	if out.Code == 0 {
		out.Code = 500
	}
	if out.Status == "" {
		out.Status = StatusForCode(out.Code)
	}
	return &out
}

// JSON returns Gemini's error body for e: {"error":{"code":...,"message":...,"status":...}}.
func (e *StreamError) JSON() []byte {
	// Marshal cannot fail: the fields are an int and two strings.
	b, _ := json.Marshal(struct {
		Error *StreamError `json:"error"`
	}{e})
	return b
}

// AsStreamError returns err as a *StreamError: a *StreamError anywhere in err's chain keeps its
// fields, a *LimitError gives its StreamError (429), and any other error becomes Code 500, Status
// "INTERNAL" with err's text as the message.
func AsStreamError(err error) *StreamError {
	var se *StreamError
	if errors.As(err, &se) {
		return se
	}
	var le *LimitError
	if errors.As(err, &le) {
		return le.StreamError()
	}
	return &StreamError{Code: 500, Status: "INTERNAL", Message: err.Error()}
}

// canonicalCodes is Google's canonical mapping of the google.rpc.Code names to HTTP statuses
// (google/rpc/code.proto, and the table of https://cloud.google.com/apis/design/errors): the one
// table every error streamgate makes follows, so that an SDK branching on the pair of an answer
// (code and status) reads it as Google's. Several statuses share 400, 409 and 500; the first of
// each here is the one StatusForCode names for that code.
var canonicalCodes = []struct {
	status string
	code   int
}{
	{"INVALID_ARGUMENT", 400},
	{"FAILED_PRECONDITION", 400},
	{"OUT_OF_RANGE", 400},
	{"UNAUTHENTICATED", 401},
	{"PERMISSION_DENIED", 403},
	{"NOT_FOUND", 404},
	{"ALREADY_EXISTS", 409},
	{"ABORTED", 409},
	{"RESOURCE_EXHAUSTED", 429},
	{"CANCELLED", 499},
	{"INTERNAL", 500},
	{"UNKNOWN", 500},
	{"DATA_LOSS", 500},
	{"UNIMPLEMENTED", 501},
	{"UNAVAILABLE", 503},
	{"DEADLINE_EXCEEDED", 504},
}

// CodeForStatus returns the HTTP status Google pairs with a google.rpc.Code name, such as 503 for
// "UNAVAILABLE", and false for a name that is not one.
func CodeForStatus(status string) (int, bool) {
	for _, c := range canonicalCodes {
		if c.status == status {
			return c.code, true
		}
	}
	return 0, false
}

// StatusForCode returns the Google RPC status name Gemini pairs with an HTTP status code: the
// first of canonicalCodes with that code. A code the table does not have (an upstream's own, or
// one of the HTTP-layer answers 408, 410 and 413) is named by its nearest status: 408 and 504
// DEADLINE_EXCEEDED, 413 INVALID_ARGUMENT, any other 4xx FAILED_PRECONDITION, any other 5xx
// INTERNAL (502 included: Google's table has no status for it), anything else UNKNOWN.
func StatusForCode(code int) string {
	for _, c := range canonicalCodes {
		if c.code == code {
			return c.status
		}
	}
	switch {
	case code == 408:
		return "DEADLINE_EXCEEDED"
	case code == 413:
		return "INVALID_ARGUMENT"
	case code >= 500:
		return "INTERNAL"
	case code >= 400:
		return "FAILED_PRECONDITION"
	}
	return "UNKNOWN"
}

// ClientError reports a failed delivery to one client; PushChunk in Throw mode returns one per failure,
// joined with errors.Join.
type ClientError struct {
	ClientID string
	Err      error
}

func (e *ClientError) Error() string { return "client " + e.ClientID + ": " + e.Err.Error() }
func (e *ClientError) Unwrap() error { return e.Err }

// ClosedError is how a stream ended for one client: Subscription.Next returns it after the last
// chunk, and a Sink's Closed and a CloseReceiver receive it. errors.Is(err, ErrClosed) holds for it.
type ClosedError struct {
	StreamID string
	Reason   string
	// Status is the stream's status once closed. A client the manager dropped while the stream goes
	// on (a failed send, Config.OnClientSendError DeregisterClient) is told StatusError.
	Status Status
	Err    *StreamError // the error that ended the stream, when one did
}

func (e *ClosedError) Error() string {
	return "stream " + e.StreamID + " closed: " + e.Reason
}

// closedBy is the end of a stream known by its reason only.
func closedBy(reason string) ClosedError {
	if reason == ReasonCompleted {
		return ClosedError{Reason: reason, Status: StatusCompleted}
	}
	return ClosedError{Reason: reason, Status: StatusError}
}

// Is makes errors.Is(err, ErrClosed) true.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// LimitRetryAfter is the wait a *LimitError suggests: limits are held by streams that end, or by
// retained streams that expire, so the answer can change at any moment.
const LimitRetryAfter = time.Second

// LimitError is a refusal by one of the manager's capacity limits, global or the tenant's Quota:
// too many streams (ErrTooManyStreams) or no room in the byte budget (ErrBudgetExhausted).
// errors.Is matches its sentinel. Nothing was changed, the stream (if any) is still active, and the
// caller may try again after RetryAfter; StreamError is the answer for a client.
type LimitError struct {
	Op         string // the refused operation, e.g. "push to stream s1"
	Err        error  // ErrTooManyStreams or ErrBudgetExhausted
	Tenant     string // the tenant of the stream
	PerTenant  bool   // the tenant's Quota refused; otherwise the global limit did
	Limit      int64  // the value of the limit: streams, or bytes
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	limit := "limit "
	if e.PerTenant {
		limit = "tenant " + strconv.Quote(e.Tenant) + " limit "
	}
	unit := ""
	if errors.Is(e.Err, ErrBudgetExhausted) {
		unit = " bytes"
	}
	return e.Op + ": " + e.Err.Error() + " (" + limit + strconv.FormatInt(e.Limit, 10) + unit + ")"
}

func (e *LimitError) Unwrap() error { return e.Err }

// StreamError returns what a client is told: 429 RESOURCE_EXHAUSTED with RetryAfter.
func (e *LimitError) StreamError() *StreamError {
	return &StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: e.Error(), RetryAfter: e.RetryAfter}
}
