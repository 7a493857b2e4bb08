package upstream

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of RetryConfig.
const (
	DefaultMaxAttempts     = 4
	DefaultInitialInterval = 500 * time.Millisecond
	DefaultMaxInterval     = 10 * time.Second
	DefaultMultiplier      = 2.0
	DefaultJitter          = 0.5
	DefaultMaxElapsed      = 60 * time.Second
)

// RetryConfig bounds the retries of one request: exponential backoff with jitter
// (cenkalti/backoff/v4), raised to a Retry-After header or an SSE retry field when there is one.
// A zero MaxAttempts, InitialInterval, MaxInterval or Multiplier takes the default above; Jitter
// and MaxElapsed are used as given, so that they match the configs package (0 means no jitter and
// no time bound). DefaultRetryConfig returns every default.
type RetryConfig struct {
	// MaxAttempts bounds the attempts of one request, the first included: 1 disables retries. For a
	// resumed SSE stream the count restarts at every forwarded event.
	MaxAttempts int
	// InitialInterval is the first backoff interval.
	InitialInterval time.Duration
	// MaxInterval caps the backoff interval (before jitter).
	MaxInterval time.Duration
	// Multiplier grows the interval after each retry; at least 1.
	Multiplier float64
	// Jitter is the randomization factor in [0, 1]: each wait is the interval times a random value
	// in [1-Jitter, 1+Jitter]. 0 disables it.
	Jitter float64
	// MaxElapsed bounds the time from the first attempt (or, when resuming an SSE stream, from the
	// last forwarded event) to the start of the last retry: a retry that would have to wait past it
	// is not made, so a Retry-After beyond it ends the request at once. 0 sets no time bound.
	MaxElapsed time.Duration
}

// DefaultRetryConfig returns the recommended retry settings: every default above.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{
		MaxAttempts:     DefaultMaxAttempts,
		InitialInterval: DefaultInitialInterval,
		MaxInterval:     DefaultMaxInterval,
		Multiplier:      DefaultMultiplier,
		Jitter:          DefaultJitter,
		MaxElapsed:      DefaultMaxElapsed,
	}
}

func (c RetryConfig) withDefaults() (RetryConfig, error) {
	switch {
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("%w: retry MaxAttempts %d is negative", ErrInvalidConfig, c.MaxAttempts)
	case c.InitialInterval < 0, c.MaxInterval < 0, c.MaxElapsed < 0:
		return c, fmt.Errorf("%w: retry intervals must not be negative", ErrInvalidConfig)
	case c.Multiplier != 0 && (c.Multiplier < 1 || math.IsNaN(c.Multiplier) || math.IsInf(c.Multiplier, 0)):
		return c, fmt.Errorf("%w: retry Multiplier %v must be at least 1", ErrInvalidConfig, c.Multiplier)
	case !(c.Jitter >= 0 && c.Jitter <= 1):
		return c, fmt.Errorf("%w: retry Jitter %v must be in [0, 1]", ErrInvalidConfig, c.Jitter)
	}
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.InitialInterval = cmp.Or(c.InitialInterval, DefaultInitialInterval)
	c.MaxInterval = cmp.Or(c.MaxInterval, DefaultMaxInterval)
	c.Multiplier = cmp.Or(c.Multiplier, DefaultMultiplier)
	if c.MaxInterval < c.InitialInterval {
		return c, fmt.Errorf("%w: retry MaxInterval %s is below InitialInterval %s", ErrInvalidConfig, c.MaxInterval, c.InitialInterval)
	}
	return c, nil
}

// newBackOff returns the backoff schedule of one retry sequence. Elapsed time is checked by the
// runner, which also knows about Retry-After, so the schedule itself never stops.
func (c RetryConfig) newBackOff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.InitialInterval),
		backoff.WithMaxInterval(c.MaxInterval),
		backoff.WithMultiplier(c.Multiplier),
		backoff.WithRandomizationFactor(c.Jitter),
		backoff.WithMaxElapsedTime(0),
	)
}

// retryableStatus reports whether the built-in policy retries an HTTP status before the first event.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter returns the wait a Retry-After header value asks for: delay-seconds, or an
// HTTP-date relative to now. An invalid value, or a date in the past, gives 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return max(t.Sub(now), 0)
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
