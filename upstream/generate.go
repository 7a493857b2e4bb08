package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
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
// reached (502 UNAVAILABLE), the credential failed (500 INTERNAL), ctx ended (499 CANCELLED), a
// Decider terminated with a rewritten error, or the last error response's body was not Gemini's
// error JSON: the error then has the response's status and a message naming it and the body's
// size and media type, as on the streaming route, since such a body may echo anything. It wraps
// ErrInvalidRequest or ErrUnsupported (the generic SSE provider) when the request could not be
// made at all. A Decider's ActionSkip counts as ActionTerminate: there is no stream to end
// quietly.
//
// Timeouts.Connect applies; FirstEvent and Idle do not, since a non-streaming answer arrives whole
// after the generation: ctx bounds the call.
func (r *Runner) Generate(ctx context.Context, req Request) (*http.Response, error) {
	hreq, err := r.provider.GenerateRequest(ctx, req)
	if errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUnsupported) {
		return nil, fmt.Errorf("generate: %w", err)
	}
	seq := newSequence(r.retry, time.Now())
	for {
		resp, f := r.generateAttempt(ctx, hreq, err)
		if f == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, interrupted(ctx).err
		}
		r.scrub(f)
		info := ErrorInfo{Phase: PhaseUpstream, Attempt: seq.attempt, Elapsed: time.Since(seq.start),
			Err: f.err.Normalized(), HTTPStatus: f.status, Retryable: true}
		v := r.decide(ctx, info, f, seq, 0)
		switch {
		case v.action == ActionRetry:
			r.log.Info("upstream generate attempt failed; retrying", "attempt", seq.attempt, "http_status", f.status,
				"code", f.err.Code, "status", f.err.Status, "error", f.err.Message, "wait", v.wait)
			if !sleep(ctx, v.wait) {
				return nil, interrupted(ctx).err
			}
			seq.attempt++
			hreq, err = r.provider.GenerateRequest(ctx, req)
		case f.body != nil && !v.rewritten:
			return passthrough(resp, f.body), nil
		default:
			return nil, v.err
		}
	}
}

// generateAttempt sends hreq (or reports buildErr, the error building it). A response with a
// status worth a decision comes back with its body read and closed, and a failure that holds the
// body when it is Gemini's error JSON.
func (r *Runner) generateAttempt(ctx context.Context, hreq *http.Request, buildErr error) (*http.Response, *failure) {
	if buildErr != nil {
		return nil, credentialFailure(buildErr)
	}
	resp, err := r.client.Do(hreq)
	if err != nil {
		return nil, connectFailure(hreq.URL, err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && ctx.Err() == nil {
		return nil, dropFailure(err, false)
	}
	return resp, statusFailure(resp, body, time.Now())
}

// passthrough returns resp, whose body was read, with body as its body.
func passthrough(resp *http.Response, body []byte) *http.Response {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	// The body was parsed as JSON, so it is not encoded, whatever the header said.
	resp.Header.Del("Content-Encoding")
	return resp
}
