package plugins

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// newBackOff returns an exponential backoff from minWait to maxWait that never stops by itself: its
// callers decide when to give up.
func newBackOff(minWait, maxWait time.Duration) *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(minWait),
		backoff.WithMaxInterval(maxWait),
		backoff.WithMaxElapsedTime(0),
	)
}

// millis is d in milliseconds, as logs give durations: a float, never nanoseconds as an integer.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
