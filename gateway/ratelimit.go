package gateway

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyLimits is the per-key token bucket. Keys come from the configured keyring, so the map is
// bounded by its size.
type keyLimits struct {
	rate  rate.Limit
	burst int

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

func newKeyLimits(perSecond float64, burst int) *keyLimits {
	return &keyLimits{rate: rate.Limit(perSecond), burst: burst, limiters: make(map[string]*rate.Limiter)}
}

// allow takes a token for keyID, or returns a 429 telling when to come back. Rate limiting is off
// when the rate is zero, and in open mode (no key ID).
func (l *keyLimits) allow(keyID string) error {
	if l.rate == 0 || keyID == "" {
		return nil
	}
	l.mu.Lock()
	lim := l.limiters[keyID]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.limiters[keyID] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	r.CancelAt(now)
	e := newError(http.StatusTooManyRequests, "rate limit exceeded for API key "+keyID)
	e.RetryAfter = max(time.Second, delay)
	return e
}
