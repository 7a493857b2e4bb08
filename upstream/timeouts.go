package upstream

import (
	"cmp"
	"fmt"
	"math"
	"time"
)

// Defaults of Timeouts.
const (
	DefaultConnectTimeout    = 10 * time.Second
	DefaultFirstEventTimeout = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// NoTimeout set as a Timeouts field disables that timeout.
const NoTimeout time.Duration = math.MaxInt64

// Timeouts bound the phases of one upstream attempt. There is deliberately no total timeout: a
// long generation that keeps sending is fine. Zero fields take the defaults above.
type Timeouts struct {
	// Connect bounds dialling and the TLS handshake.
	Connect time.Duration
	// FirstEvent bounds the time from sending the request to the first event of the stream
	// (response headers included).
	FirstEvent time.Duration
	// Idle bounds a silence after the first event: the stream fails when no byte at all arrived for
	// this long (a keep-alive comment counts as activity).
	Idle time.Duration
}

func (t Timeouts) withDefaults() (Timeouts, error) {
	if t.Connect < 0 || t.FirstEvent < 0 || t.Idle < 0 {
		return t, fmt.Errorf("%w: timeouts must not be negative", ErrInvalidConfig)
	}
	t.Connect = cmp.Or(t.Connect, DefaultConnectTimeout)
	t.FirstEvent = cmp.Or(t.FirstEvent, DefaultFirstEventTimeout)
	t.Idle = cmp.Or(t.Idle, DefaultIdleTimeout)
	return t, nil
}

// millis is d in milliseconds, as logs give durations: a float, never nanoseconds as an integer.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
