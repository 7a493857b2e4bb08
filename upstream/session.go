package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/streamgate/streamgate/internal/ctxwait"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// outcome is how a Run ends.
type outcome int

const (
	outcomeCompleted outcome = iota + 1 // close with reason "completed"
	outcomeClosed                       // someone else closed the stream: nothing to do
	outcomeFailed                       // terminate with err
	outcomeSkipped                      // a Decider skipped err: close without an error chunk
	outcomeCancelled                    // the caller's context ended: terminate with err
)

// String names the outcome in the stream-end log line: completed, closed (by someone else),
// error, skipped or cancelled.
func (o outcome) String() string {
	switch o {
	case outcomeCompleted:
		return "completed"
	case outcomeClosed:
		return "closed"
	case outcomeFailed:
		return "error"
	case outcomeSkipped:
		return "skipped"
	case outcomeCancelled:
		return "cancelled"
	}
	return "unknown"
}

// result ends an attempt or a whole Run. The zero result (outcome 0) ends nothing: an attempt
// that failed returns it beside its failure, and failed returns it when a retry is to follow.
type result struct {
	outcome outcome
	err     *manager.StreamError
}

// maxErrorBody bounds how much of an error response's body is read.
const maxErrorBody = 64 << 10

// session is one Run: the attempts of one stream and their retry state.
type session struct {
	r         *Runner
	streamID  string
	handle    manager.Handle // the stream, when held: pushed to without a lookup by ID
	held      bool
	source    string // the stream's manager.LabelSource, the label of its chunks' metric
	req       Request
	seq       *sequence
	start     time.Time     // when Run started: the first attempt's start
	attempts  int           // attempts so far, the current one included
	at        *attemptTrace // the current attempt
	forwarded bool          // an event was pushed into the stream
	chunks    int           // events pushed into the stream
	ttfc      time.Duration // from start to the first event pushed
	lastID    string        // DialectSSE: the last event ID, sent as Last-Event-ID
	retry     time.Duration // DialectSSE: the stream's retry field
}

func (r *Runner) newSession(streamID, source string, req Request, start time.Time) *session {
	return &session{
		r:        r,
		streamID: streamID,
		source:   source,
		req:      req,
		seq:      newSequence(r.retry, start),
		start:    start,
	}
}

// run makes attempts until one ends the stream or a failure is not retried. first is the
// already-built request of the first attempt, or buildErr why it could not be built. Each attempt
// is a client span, a child of ctx's.
func (s *session) run(ctx context.Context, first *http.Request, buildErr error) result {
	hreq := first
	for {
		s.attempts++
		actx, at := s.r.startAttempt(ctx, s.req.operation(), s.req.Model, s.streamID, s.attempts)
		s.at = at
		var res result
		var f *failure
		if buildErr != nil {
			f, buildErr = credentialFailure(buildErr), nil
		} else {
			res, f = s.attempt(actx, hreq)
		}
		if f == nil {
			s.r.endAttempt(at, res, nil, 0)
			return res
		}
		if res := s.failed(ctx, f); res.outcome != 0 {
			return res
		}
		hreq = nil
	}
}

// failed asks the Decider and the built-in policy about f, once its upstream text is scrubbed,
// and ends the attempt's span. It returns a final result, or waits for the retry and returns the
// zero result.
func (s *session) failed(ctx context.Context, f *failure) result {
	s.r.scrub(f)
	v := s.r.decide(ctx, s.info(f), f, s.seq, s.resumeWait())
	next := 0
	if v.action == ActionRetry {
		next = s.attempts + 1
	}
	s.r.endAttempt(s.at, result{}, f, next)
	switch v.action {
	case ActionRetry:
		s.r.streamLog(ctx, s.streamID).Info("upstream attempt failed; retrying", "attempt", s.seq.attempt, "http_status", f.status,
			"code", f.err.Code, "status", f.err.Status, "error", f.err.Message, "wait_ms", millis(v.wait))
		if !sleep(ctx, v.wait) {
			return interrupted(ctx)
		}
		s.seq.attempt++
		return result{}
	case ActionSkip:
		return result{outcome: outcomeSkipped, err: v.err}
	}
	return result{outcome: outcomeFailed, err: v.err}
}

// info describes f for a Decider.
func (s *session) info(f *failure) ErrorInfo {
	se := *f.err
	return ErrorInfo{
		Phase:      PhaseUpstream,
		StreamID:   s.streamID,
		Attempt:    s.seq.attempt,
		Elapsed:    time.Since(s.seq.start),
		Err:        &se,
		HTTPStatus: f.status,
		Retryable:  s.retryable(),
	}
}

// retryable reports whether another attempt is safe: nothing was forwarded yet, or the upstream
// is a plain event stream that gave an ID to resume from.
func (s *session) retryable() bool {
	return !s.forwarded || (s.r.provider.Dialect() == DialectSSE && s.lastID != "")
}

// resumeWait is the stream's own reconnection time when resuming an SSE stream, else 0.
func (s *session) resumeWait() time.Duration {
	if s.forwarded {
		return s.retry
	}
	return 0
}

// attempt makes one request and reads its stream. It returns either a final result or a failure.
func (s *session) attempt(ctx context.Context, hreq *http.Request) (result, *failure) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(s.r.timeouts, cancel)
	defer wd.stop()
	if hreq == nil {
		var err error
		if hreq, err = s.r.provider.StreamRequest(actx, s.req); err != nil {
			return s.stopped(actx, credentialFailure(err))
		}
	} else {
		hreq = hreq.WithContext(actx)
	}
	s.r.prepare(actx, hreq)
	if s.lastID != "" {
		hreq.Header.Set("Last-Event-ID", s.lastID)
	}
	resp, err := s.r.send(hreq)
	if err != nil {
		return s.stopped(actx, connectFailure(hreq.URL, err))
	}
	defer resp.Body.Close()
	s.at.code = resp.StatusCode
	switch {
	case resp.StatusCode == http.StatusNoContent && s.r.provider.Dialect() == DialectSSE:
		// An event stream server answers 204 to say there is nothing more.
		return result{outcome: outcomeCompleted}, nil
	case resp.StatusCode != http.StatusOK:
		// A timeout while reading the error body does not hide the status: only a closed stream or
		// the caller's context win over it.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if res, intr, ok := s.interruption(actx); ok && intr == nil {
			return res, nil
		}
		return result{}, statusFailure(resp, body, time.Now())
	}
	if f := s.r.checkStream(resp.Header); f != nil {
		return s.stopped(actx, f)
	}
	return s.read(ctx, actx, wd, resp.Body)
}

// read pushes the events of a 200 response body into the stream until it ends. What depends on
// the dialect is left to its bodyDialect.
func (s *session) read(ctx, actx context.Context, wd *watchdog, rc io.Reader) (result, *failure) {
	d := s.bodyDialect()
	rd := newReader(wd.watch(rc, d.tee()))
	defer freeReader(rd)
	rd.SetMaxEventSize(s.r.maxEvent)
	if s.lastID != "" {
		rd.SetLastEventID(s.lastID)
	}
	started := false
	var lastEvent time.Time
	for {
		ev, err := rd.Next()
		if err != nil {
			if started {
				s.seq.restart(lastEvent)
				// Yield so that the last chunk goes out before the end of the body is examined
				// (which parses the final chunk and closes the stream). The push woke the chunk's
				// subscribers into this P's runnext slot, which an idle P steals only after a
				// usleep(3), about 75 us on a VM with timer slack: without the yield the last chunk
				// of every stream waited for that and the examination, and set the p99 of the
				// gateway's BenchmarkInterChunkGap (82 -> 69 us; git log -S Gosched).
				runtime.Gosched()
			}
			res, f := s.ended(actx, err, d, rd)
			if fin, ok := d.final(); ok {
				s.at.setFinal(fin)
			}
			return res, f
		}
		now := wd.lastRead()
		if !started {
			started = true
			wd.firstEvent()
		}
		if f := d.check(ev.Data, rd.Buffered()); f == skipEvent {
			continue
		} else if f != nil {
			return s.stopped(actx, f)
		}
		data := bytes.Clone(ev.Data)
		if ok, f := s.push(ctx, ev.Type, data, now); f != nil {
			return s.stopped(actx, f)
		} else if !ok {
			return result{outcome: outcomeClosed}, nil
		}
		d.pushed(data)
		s.pushed(len(data), now)
		lastEvent = now
	}
}

// pushed counts an event of n bytes read at t and pushed into the stream; the first one is the
// generation's first chunk.
func (s *session) pushed(n int, t time.Time) {
	if !s.forwarded {
		s.forwarded = true
		s.ttfc = t.Sub(s.start)
		s.r.metrics.FirstChunk(s.r.name, s.req.Model, s.ttfc)
		s.at.firstChunk(t)
	}
	s.chunks++
	s.r.metrics.ChunkPushed(s.source, n)
}

// push pushes one event into the stream, as a chunk with Event "" for the default type. It
// reports false when the stream is gone, and a failure when the manager refused the chunk for
// want of memory: the generation cannot go on without a gap, so it ends with that error (issue
// 10). Any other error (a subscriber's failed delivery) is logged, and reading goes on.
func (s *session) push(ctx context.Context, typ string, data []byte, at time.Time) (bool, *failure) {
	if typ == sse.DefaultType {
		typ = ""
	}
	ch := manager.Chunk{Event: typ, Data: data, Time: at}
	var err error
	if s.held {
		err = s.handle.PushChunk(ctx, ch)
	} else {
		err = s.r.streams.PushChunk(ctx, s.streamID, ch)
	}
	switch {
	case err == nil:
		return true, nil
	case manager.IsGone(err):
		return false, nil
	case errors.Is(err, manager.ErrBudgetExhausted):
		return false, refusedFailure(err)
	}
	s.r.streamLog(ctx, s.streamID).Warn("deliver chunk", "error", err)
	return true, nil
}

// ended classifies the end of a 200 response body read by rd: err is io.EOF for a clean end. Unless
// the stream was closed or the caller's context ended, the dialect is asked about the end: an error
// the body itself reported (Gemini's error tail) wins over how the connection then ended, and a
// clean end may still be incomplete.
func (s *session) ended(actx context.Context, err error, d bodyDialect, rd *sse.Reader) (result, *failure) {
	res, intr, interrupted := s.interruption(actx)
	if interrupted && intr == nil {
		return res, nil
	}
	reported, incomplete := d.end(rd)
	switch {
	case reported != nil:
		return result{}, reported
	case interrupted:
		return result{}, intr
	case errors.Is(err, sse.ErrEventTooLarge):
		return result{}, tooLargeFailure(s.r.maxEvent)
	case err != io.EOF: //nolint:errorlint // sse.Reader returns a clean end as io.EOF itself
		return result{}, dropFailure(err, s.forwarded)
	case incomplete != nil:
		return result{}, incomplete
	}
	return result{outcome: outcomeCompleted}, nil
}

// stopped returns f, unless the attempt was interrupted: then the interruption explains the
// error better (a cancelled request fails with a plain context error).
func (s *session) stopped(actx context.Context, f *failure) (result, *failure) {
	if res, intr, ok := s.interruption(actx); ok {
		return res, intr
	}
	return result{}, f
}

// interruption reports why actx was cancelled, if it was: the stream closed by someone else, the
// caller's context, or a watchdog timeout (as a failure).
func (s *session) interruption(actx context.Context) (result, *failure, bool) {
	cause := context.Cause(actx)
	switch {
	case cause == nil:
		return result{}, nil, false
	case errors.Is(cause, errStreamClosed):
		return result{outcome: outcomeClosed}, nil, true
	case errors.Is(cause, errIdle):
		return result{}, idleFailure(s.r.timeouts.Idle), true
	case errors.Is(cause, errFirstEvent):
		return result{}, firstEventFailure(s.r.timeouts.FirstEvent), true
	}
	return interrupted(actx), nil, true
}

// interrupted is the result of a Run whose context ended.
func interrupted(ctx context.Context) result {
	if errors.Is(context.Cause(ctx), errStreamClosed) {
		return result{outcome: outcomeClosed}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return result{outcome: outcomeCancelled, err: streamError(http.StatusGatewayTimeout, statusDeadlineExceeded, "request deadline exceeded")}
	}
	return result{outcome: outcomeCancelled, err: streamError(499, statusCancelled, "request cancelled")}
}

// sleep waits d or until ctx ends; it reports whether the wait ran to its end.
var sleep = ctxwait.Sleep

// report records the generation once its stream is closed: its duration, time to first chunk
// and tokens (when an attempt was made), and the stream-end log line at info, with durations in
// milliseconds.
func (s *session) report(ctx context.Context, res result) {
	total := time.Since(s.start)
	var fin geminiwire.Final
	if s.at != nil && s.at.hasFinal {
		fin = s.at.final
	}
	if s.attempts > 0 {
		s.r.metrics.UpstreamDone(s.r.name, s.req.Model, s.ttfc, total, s.chunks)
		if fin.HasUsage {
			s.r.metrics.Tokens(s.r.name, s.req.Model, fin.InputTokens, fin.OutputTokens)
		}
	}
	if !s.r.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	args := []any{"model", s.req.Model, "status", res.outcome.String(), "attempts", s.attempts, "chunks", s.chunks, "duration_ms", millis(total)}
	if s.forwarded {
		args = append(args, "ttfc_ms", millis(s.ttfc))
	}
	if res.err != nil {
		args = append(args, "code", res.err.Code)
	}
	if fin.HasUsage {
		args = append(args, "input_tokens", fin.InputTokens, "output_tokens", fin.OutputTokens)
	}
	s.r.streamLog(ctx, s.streamID).Info("upstream stream ended", args...)
}
