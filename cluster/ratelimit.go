package cluster

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Limit is a rate: PerSecond sustained, Burst at once, as golang.org/x/time/rate means them.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Decision is one rate-limit answer.
type Decision struct {
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long until a request would be allowed; zero when Allowed.
	RetryAfter time.Duration
}

// Allow takes one request from key's budget, shared by every replica: a GCRA limiter on Redis's
// clock, one key per limiter, which expires once the budget is full again.
func (s *Store) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	if lim.PerSecond <= 0 || lim.Burst < 1 {
		return Decision{}, fmt.Errorf("rate limit %q: PerSecond must be positive and Burst at least 1 (got %g, %d)", key, lim.PerSecond, lim.Burst)
	}
	interval := max(int64(1e6/lim.PerSecond), 1) // µs between two requests
	r, err := gcraScript.Exec(ctx, s.client, []string{rateKey(key)},
		[]string{strconv.FormatInt(interval, 10), strconv.Itoa(lim.Burst)}).AsIntSlice()
	if err != nil {
		return Decision{}, wrap("rate limit", err)
	}
	if len(r) != 3 {
		return Decision{}, fmt.Errorf("cluster: rate limit: reply has %d elements, want 3", len(r))
	}
	return Decision{Allowed: r[0] == 1, RetryAfter: time.Duration(r[1]) * time.Microsecond, Remaining: int(r[2])}, nil
}

// gcraScript is a generic cell rate limiter on Redis's clock, so replicas with skewed clocks agree.
// It returns {allowed (0 or 1), retry after µs, remaining}. KEYS: limiter. ARGV: emission interval
// µs, burst.
var gcraScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local newtat = tat + interval
local allowat = newtat - burst * interval
if now < allowat then return {0, allowat - now, 0} end
redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', string.format('%d', math.ceil((newtat - now) / 1000)))
return {1, 0, math.floor((now - allowat) / interval)}
`)
