package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyBuckets is the default RateLimiter: a token bucket per key in this process. Keys come from
// the configured keyring, so the map is bounded by its size.
type keyBuckets struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

var _ RateLimiter = (*keyBuckets)(nil)

func newKeyBuckets() *keyBuckets { return &keyBuckets{limiters: make(map[string]*rate.Limiter)} }

// Allow implements RateLimiter.
func (l *keyBuckets) Allow(_ context.Context, keyID string, perSecond float64, burst int) (time.Duration, error) {
	l.mu.Lock()
	lim := l.limiters[keyID]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(perSecond), burst)
		l.limiters[keyID] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay > 0 {
		r.CancelAt(now)
	}
	return delay, nil
}

// allow takes a request from keyID's budget, or returns a 429 telling when to come back. Rate
// limiting is off when the rate is zero, and in open mode (no key ID).
func (s *Server) allow(ctx context.Context, keyID string) error {
	if s.cfg.RatePerKey == 0 || keyID == "" {
		return nil
	}
	delay, err := s.cfg.RateLimiter.Allow(ctx, keyID, s.cfg.RatePerKey, s.cfg.Burst)
	if err != nil || delay == 0 {
		return err
	}
	e := newError(http.StatusTooManyRequests, "rate limit exceeded for API key "+keyID)
	e.RetryAfter = max(time.Second, delay)
	return e
}
