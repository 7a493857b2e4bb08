package upstream

import (
	"context"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// Phase says where an error happened.
type Phase int

// Error phases.
const (
	// PhaseUpstream: an attempt to reach or read the upstream failed.
	PhaseUpstream Phase = iota + 1
	// PhaseDelivery: delivering chunks to a client or plugin transport failed.
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

// Action is what a Decider wants done about an error.
type Action int

// Actions. ActionDefault defers to the next decider, and at the end of a chain to the built-in policy.
const (
	ActionDefault Action = iota
	// ActionRetry tries again after Decision.RetryAfter. In PhaseUpstream a retry that could
	// duplicate deltas (a Gemini request after an event was forwarded) is refused and becomes
	// ActionTerminate.
	ActionRetry
	// ActionSkip drops the error. In PhaseUpstream the stream ends without an error chunk, closed
	// with reason "upstream error skipped: <message>"; in PhaseDelivery the failed chunks are
	// dropped for that client only and delivery goes on.
	ActionSkip
	// ActionTerminate ends the stream (PhaseUpstream) or the subscription (PhaseDelivery) with the
	// error, rewritten when Decision.Err is set.
	ActionTerminate
)

func (a Action) String() string {
	switch a {
	case ActionDefault:
		return "default"
	case ActionRetry:
		return "retry"
	case ActionSkip:
		return "skip"
	case ActionTerminate:
		return "terminate"
	}
	return "unknown"
}

// ErrorInfo describes one error for a Decider.
type ErrorInfo struct {
	Phase        Phase
	StreamID     string
	Subscription string // PhaseDelivery: the client or subscription ID
	Attempt      int    // 1 for the first attempt
	Elapsed      time.Duration
	Err          *manager.StreamError
	HTTPStatus   int  // the upstream's HTTP status, 0 when there was no response
	Retryable    bool // a retry is safe: nothing was forwarded yet, or the upstream can resume
}

// Decision is a Decider's answer.
type Decision struct {
	Action     Action
	RetryAfter time.Duration        // ActionRetry: wait at least this long; 0 lets backoff choose
	Err        *manager.StreamError // optional rewritten error for ActionTerminate
}

// Decider decides what an error means. Implementations must be safe for concurrent use and return
// promptly; error-handler plugins implement it.
type Decider interface {
	Decide(ctx context.Context, info ErrorInfo) Decision
}

// Chain asks each Decider in order and returns the first decision that is not ActionDefault.
// An empty chain, or one where every link defers, returns ActionDefault: the built-in policy.
type Chain []Decider

// Decide implements Decider.
func (c Chain) Decide(ctx context.Context, info ErrorInfo) Decision {
	for _, d := range c {
		if dec := d.Decide(ctx, info); dec.Action != ActionDefault {
			return dec
		}
	}
	return Decision{}
}
