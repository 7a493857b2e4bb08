package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Generate performs a non-streaming generateContent call and returns the upstream's response for
// passthrough: status, headers and body, which the caller must close. Like the streaming path it
// retries connection errors and HTTP 408, 429, 500, 502, 503 and 504 (honouring Retry-After)
// within the retry limits, asking the Decider first; the last response is returned whatever its
// status, so an upstream error reaches the caller as the upstream sent it.
//
// The error is a *manager.StreamError when no response is returned: the upstream could not be
// reached (502 UNAVAILABLE), the credential failed (500 INTERNAL), ctx ended (499 CANCELLED), or
// a Decider terminated with a rewritten error. It wraps ErrInvalidRequest or ErrUnsupported (the
// generic SSE provider) when the request could not be made at all. A Decider's ActionSkip counts
// as ActionTerminate: there is no stream to end quietly.
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
			closeBody(resp)
			return nil, interrupted(ctx).err
		}
		info := ErrorInfo{Phase: PhaseUpstream, Attempt: seq.attempt, Elapsed: time.Since(seq.start),
			Err: f.err.Normalized(), HTTPStatus: f.status, Retryable: true}
		v := r.decide(ctx, info, f, seq, 0)
		switch {
		case v.action == ActionRetry:
			closeBody(resp)
			r.log.Info("upstream generate attempt failed; retrying", "attempt", seq.attempt, "http_status", f.status,
				"code", f.err.Code, "status", f.err.Status, "error", f.err.Message, "wait", v.wait)
			if !sleep(ctx, v.wait) {
				return nil, interrupted(ctx).err
			}
			seq.attempt++
			hreq, err = r.provider.GenerateRequest(ctx, req)
		case resp != nil && !v.rewritten:
			return resp, nil
		default:
			closeBody(resp)
			return nil, v.err
		}
	}
}

// generateAttempt sends hreq (or reports buildErr, the error building it). A response with a
// status worth a decision comes back with a failure and its body restored for passthrough.
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && ctx.Err() == nil {
		resp.Body.Close()
		return nil, dropFailure(err, false)
	}
	resp.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(body), resp.Body), Closer: resp.Body}
	return resp, statusFailure(resp, body, time.Now())
}

// replayBody is a response body whose first bytes were read already and are served again.
type replayBody struct {
	io.Reader
	io.Closer
}

func closeBody(resp *http.Response) {
	if resp != nil {
		resp.Body.Close()
	}
}
