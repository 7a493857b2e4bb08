package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/streamgate/streamgate/plugins/sdk"
)

// poster POSTs JSON bodies with retries.
type poster struct {
	client         *http.Client
	url            string
	headers        map[string]string
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
}

// statusError is a non-2xx answer.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("answered HTTP %d", e.code) }

// post sends body until a 2xx answer, a status that is not worth retrying, the last attempt, or
// the end of ctx. Its error is an *sdk.Error naming the URL's host, never the headers.
func (p *poster) post(ctx context.Context, body any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode webhook body: %w", err)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.initialBackoff
	b.MaxInterval = p.maxBackoff
	b.MaxElapsedTime = 0
	b.Reset()
	attempts := 0
	op := func() error {
		attempts++
		err := p.once(ctx, payload)
		var se *statusError
		if errors.As(err, &se) && se.code != http.StatusTooManyRequests && se.code < 500 {
			return backoff.Permanent(err)
		}
		return err
	}
	err = backoff.Retry(op, backoff.WithContext(backoff.WithMaxRetries(b, uint64(p.maxAttempts-1)), ctx))
	if err == nil {
		return nil
	}
	host := p.url
	if u, perr := url.Parse(p.url); perr == nil {
		host = u.Host
	}
	msg := fmt.Sprintf("webhook %s: %v after %d attempt(s)", host, err, attempts)
	var se *statusError
	if errors.As(err, &se) && se.code < 500 && se.code != http.StatusTooManyRequests {
		return &sdk.Error{Code: se.code, Status: statusName(se.code), Message: msg}
	}
	return &sdk.Error{Code: 503, Status: "UNAVAILABLE", Message: msg, Retryable: true}
}

func (p *poster) once(ctx context.Context, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(payload))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err // without the URL, which may carry a secret in its query
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drain so the connection is reused
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

func statusName(code int) string {
	switch code {
	case 400, 413:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	}
	return "FAILED_PRECONDITION"
}
