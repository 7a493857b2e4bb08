package upstream

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/streamgate/streamgate/manager"
)

// sequence is the retry state of a run of attempts: it starts with the first attempt and, when an
// SSE stream is resumed, again at the last forwarded event.
type sequence struct {
	cfg     RetryConfig
	bo      *backoff.ExponentialBackOff // nil until the sequence's first backoff
	start   time.Time
	attempt int // the current attempt, 1-based
}

func newSequence(cfg RetryConfig, now time.Time) *sequence {
	s := &sequence{cfg: cfg}
	s.restart(now)
	return s
}

// restart begins a new sequence at now, counting the current attempt as its first.
func (s *sequence) restart(now time.Time) {
	s.bo = nil
	s.start = now
	s.attempt = 1
}

// nextBackOff returns the sequence's next backoff interval. The schedule is made at the first
// one, as most streams never retry.
func (s *sequence) nextBackOff() time.Duration {
	if s.bo == nil {
		s.bo = s.cfg.newBackOff()
	}
	return s.bo.NextBackOff()
}

// verdict is what happens after a failure.
type verdict struct {
	action    Action // ActionRetry, ActionSkip or ActionTerminate
	wait      time.Duration
	err       *manager.StreamError // the error to report
	rewritten bool                 // err is a Decider's rewritten error
}

// decide asks the Decider about a failure, falls back to the built-in policy on ActionDefault,
// and applies the limits no decision overrides: a retry that is not safe (info.Retryable false)
// is refused, and retries stay within RetryConfig.MaxAttempts and MaxElapsed. resumeWait, when
// set, replaces the backoff interval (an SSE stream's retry field).
func (r *Runner) decide(ctx context.Context, info ErrorInfo, f *failure, seq *sequence, resumeWait time.Duration) verdict {
	var dec Decision
	if r.decider != nil {
		dec = r.decider.Decide(ctx, info)
	}
	log := r.streamLog(ctx, info.StreamID).With("attempt", info.Attempt, "code", f.err.Code, "status", f.err.Status)
	switch dec.Action {
	case ActionDefault:
		dec = builtinDecision(info, f)
	case ActionRetry, ActionSkip, ActionTerminate:
		log.Debug("upstream error decided", "action", dec.Action.String())
	default:
		log.Warn("decider returned an unknown action; terminating", "action", int(dec.Action))
		dec = Decision{Action: ActionTerminate}
	}
	switch dec.Action {
	case ActionSkip:
		return verdict{action: ActionSkip, err: f.err}
	case ActionTerminate:
		if dec.Err != nil {
			return verdict{action: ActionTerminate, err: dec.Err.Normalized(), rewritten: true}
		}
		return verdict{action: ActionTerminate, err: f.err}
	}
	if !info.Retryable {
		log.Warn("retry refused: the upstream request cannot be re-sent without duplicating forwarded events; terminating")
		return verdict{action: ActionTerminate, err: f.err}
	}
	wait := resumeWait
	if wait == 0 {
		wait = seq.nextBackOff()
	}
	wait = max(wait, f.retryAfter, dec.RetryAfter)
	if seq.attempt >= seq.cfg.MaxAttempts {
		log.Debug("retry limit reached", "max_attempts", seq.cfg.MaxAttempts)
		return verdict{action: ActionTerminate, err: f.err}
	}
	if elapsed := time.Since(seq.start); seq.cfg.MaxElapsed > 0 && elapsed+wait > seq.cfg.MaxElapsed {
		log.Debug("retry time limit reached", "elapsed_ms", millis(elapsed), "wait_ms", millis(wait), "max_elapsed_ms", millis(seq.cfg.MaxElapsed))
		return verdict{action: ActionTerminate, err: f.err}
	}
	return verdict{action: ActionRetry, wait: wait}
}

// builtinDecision is the built-in policy: retry a transient failure (a connection error, a
// dropped or empty 200 body, an idle resumable stream, HTTP 408, 429, 500, 502, 503, 504, or a
// Gemini error with one of those codes) when a retry is safe; terminate on anything else.
func builtinDecision(info ErrorInfo, f *failure) Decision {
	if f.transient && info.Retryable {
		return Decision{Action: ActionRetry}
	}
	return Decision{Action: ActionTerminate}
}
