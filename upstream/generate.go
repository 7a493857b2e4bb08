package upstream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
)

// Generate performs a non-streaming generateContent call and returns the upstream's response for
// passthrough: status, headers and body, which the caller must close. Like the streaming path it
// retries connection errors and HTTP 408, 429, 500, 502, 503 and 504 (honouring Retry-After)
// within the retry limits, asking the Decider first. The last response is returned whatever its
// status when its body is Gemini's error JSON, so an upstream error reaches the caller as the
// upstream sent it, but with the gateway's own credentials scrubbed from it (Redacted) and its
// Content-Length set to match.
//
// The error is a *manager.StreamError when no response is returned: the upstream could not be
// reached (503 UNAVAILABLE), the credential failed (500 INTERNAL), ctx ended (499 CANCELLED), a
// Decider terminated with a rewritten error, or the last error response's body was not Gemini's
// error JSON: the error then has the response's status and a message naming it and the body's
// size and media type, as on the streaming route, since such a body may echo anything. It wraps
// ErrInvalidRequest or ErrUnsupported (the generic SSE provider) when the request could not be
// made at all. A Decider's ActionSkip counts as ActionTerminate: there is no stream to end
// quietly.
//
// Timeouts apply as on the streaming route: Connect to dialling, FirstEvent to the response's
// headers (which arrive once the answer is generated, so it bounds the generation) and Idle
// to every silence while the body is read; each timeout fails the attempt with 504
// DEADLINE_EXCEEDED naming it, and only Idle is retried by the built-in policy, like a dropped
// body. The body is read whole before Generate returns, up to MaxEventSize (a larger one fails
// with 500 INTERNAL), so that a failure while reading it becomes an error the caller can still
// answer with, rather than a passed-through response cut short after its status went out.
//
// Each attempt is a client span, a child of ctx's span, and its request carries the span's
// traceparent and ctx's request ID (WithRequestID). Its metrics are the streaming route's, a
// successful answer counting as the generation's one chunk, its time to first chunk the time to
// the whole answer.
func (r *Runner) Generate(ctx context.Context, req Request) (*http.Response, error) {
	return r.Call(ctx, Call{Model: req.Model, Method: geminiwire.MethodGenerate, APIVersion: req.APIVersion, Body: req.Body})
}

// Call performs one unary call of the models collection (countTokens, embedContent,
// batchEmbedContents, generateContent or any other method of a model, a model's GET, the models
// list) and returns the upstream's response for passthrough, as Generate does for
// generateContent: the same retries, decisions, timeouts, size limit and scrubbing, and the same
// errors. A call the provider cannot make (the generic SSE provider has no models collection)
// wraps ErrUnsupported.
//
// Each attempt is a client span named after Call.operation; only generateContent records the
// generation metrics (time to first chunk, duration, tokens). Every call's attempts and retries
// count in the attempt metrics.
func (r *Runner) Call(ctx context.Context, req Call) (*http.Response, error) {
	start := time.Now()
	hreq, err := r.callRequest(ctx, req)
	if errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUnsupported) {
		return nil, fmt.Errorf("%s: %w", req.op(), err)
	}
	var ttfc time.Duration
	chunks := 0
	generation := req.Method == geminiwire.MethodGenerate
	if generation {
		defer func() { r.metrics.UpstreamDone(r.name, req.Model, ttfc, time.Since(start), chunks) }()
	}
	seq := newSequence(r.retry, start)
	for attempt := 1; ; attempt++ {
		actx, at := r.startAttempt(ctx, req.operation(), req.Model, "", attempt)
		resp, f := r.generateAttempt(actx, at, hreq, err)
		if f == nil {
			r.endAttempt(at, result{}, nil, 0)
			if generation {
				ttfc, chunks = time.Since(start), 1
				r.metrics.FirstChunk(r.name, req.Model, ttfc)
				if at.final.HasUsage {
					r.metrics.Tokens(r.name, req.Model, at.final.InputTokens, at.final.OutputTokens)
				}
			}
			return resp, nil
		}
		if ctx.Err() != nil {
			res := interrupted(ctx)
			r.endAttempt(at, res, nil, 0)
			return nil, res.err
		}
		r.scrub(f)
		info := ErrorInfo{Phase: PhaseUpstream, Attempt: seq.attempt, Elapsed: time.Since(seq.start),
			Err: f.err.Normalized(), HTTPStatus: f.status, Retryable: true}
		v := r.decide(ctx, info, f, seq, 0)
		next := 0
		if v.action == ActionRetry {
			next = attempt + 1
		}
		r.endAttempt(at, result{}, f, next)
		switch {
		case v.action == ActionRetry:
			r.streamLog(ctx, "").Info("upstream generate attempt failed; retrying", "attempt", seq.attempt, "http_status", f.status,
				"code", f.err.Code, "status", f.err.Status, "error", f.err.Message, "wait_ms", millis(v.wait))
			if !sleep(ctx, v.wait) {
				return nil, interrupted(ctx).err
			}
			seq.attempt++
			hreq, err = r.callRequest(ctx, req)
		case f.body != nil && !v.rewritten:
			return passthrough(resp, f.body), nil
		default:
			return nil, v.err
		}
	}
}

// generateAttempt sends hreq (or reports buildErr, the error building it) and reads the response's
// body under the watchdog, noting on at what it got. A response below 400 comes back with its
// body in memory; one with a status worth a decision comes back with a failure that holds the
// body when it is Gemini's error JSON.
func (r *Runner) generateAttempt(ctx context.Context, at *attemptTrace, hreq *http.Request, buildErr error) (*http.Response, *failure) {
	if buildErr != nil {
		return nil, credentialFailure(buildErr)
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(r.timeouts, cancel)
	defer wd.stop()
	hreq = hreq.WithContext(actx)
	r.prepare(actx, hreq)
	resp, err := r.send(hreq)
	if err != nil {
		return nil, cmp.Or(r.generateTimeout(actx), connectFailure(hreq.URL, err))
	}
	defer resp.Body.Close()
	at.code = resp.StatusCode
	// The headers end the wait for the first byte; from here on Idle bounds each silence.
	wd.firstEvent()
	limit := int64(r.maxEvent) + 1
	if resp.StatusCode >= 400 {
		limit = maxErrorBody
	}
	body, err := io.ReadAll(io.LimitReader(wd.watch(resp.Body, nil), limit))
	timeout := r.generateTimeout(actx)
	switch {
	case resp.StatusCode >= 400 && (err == nil || timeout != nil):
		// A timeout while reading the error body does not hide the status, as on the streaming
		// route. A cancelled ctx wins over both in Generate.
		return resp, statusFailure(resp, body, time.Now())
	case timeout != nil:
		return nil, timeout
	case err != nil:
		return nil, dropFailure(err, false)
	case len(body) > r.maxEvent:
		return nil, responseTooLargeFailure(r.maxEvent)
	}
	if fin, _ := geminiwire.ParseFinal(body); fin.HasUsage || fin.ResponseID != "" || len(fin.FinishReasons) > 0 {
		at.setFinal(fin)
	}
	return withBody(resp, body), nil
}

// generateTimeout returns the failure of the watchdog timeout that cancelled actx, or nil.
func (r *Runner) generateTimeout(actx context.Context) *failure {
	switch cause := context.Cause(actx); {
	case errors.Is(cause, errFirstEvent):
		return firstByteFailure(r.timeouts.FirstEvent)
	case errors.Is(cause, errIdle):
		return idleFailure(r.timeouts.Idle)
	}
	return nil
}

// withBody returns resp, whose body was read, with body as its body.
func withBody(resp *http.Response, body []byte) *http.Response {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp
}

// passthrough returns the error response resp, whose body was read, with body (Gemini's error
// JSON, scrubbed) as its body.
func passthrough(resp *http.Response, body []byte) *http.Response {
	// The body was parsed as JSON, so it is not encoded, whatever the header said.
	resp.Header.Del("Content-Encoding")
	return withBody(resp, body)
}
