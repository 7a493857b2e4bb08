package cluster_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
)

// The limiter's budget is shared by every replica. A rate of one a minute makes the sequence exact
// however long the test takes; rewinding the stored arrival time by one interval stands for a
// minute passing.
func TestRateLimitGCRA(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	c := inspect(t, srv)
	a, _ := newStore(t, srv, "a", cluster.Config{})
	b, _ := newStore(t, srv, "b", cluster.Config{})
	lim := cluster.Limit{PerSecond: 1.0 / 60, Burst: 3}

	var seq []bool
	var remaining []int
	for i, s := range []*cluster.Store{a, b, a, b, a} {
		d, err := s.Allow(ctx, "key1", lim)
		require.NoError(t, err, "request %d", i)
		seq, remaining = append(seq, d.Allowed), append(remaining, d.Remaining)
		if d.Allowed {
			assert.Zero(t, d.RetryAfter)
			continue
		}
		assert.True(t, d.RetryAfter > 59*time.Second && d.RetryAfter <= time.Minute, "retry after %s", d.RetryAfter)
	}
	assert.Equal(t, []bool{true, true, true, false, false}, seq, "a burst of 3 across replicas, then refusals")
	assert.Equal(t, []int{2, 1, 0, 0, 0}, remaining)

	other, err := b.Allow(ctx, "key2", lim)
	require.NoError(t, err)
	assert.True(t, other.Allowed, "each key has its own budget")

	ttl := doInt(t, c, "PTTL", cluster.RateKey("key1"))
	assert.True(t, ttl > 179_000 && ttl <= 180_000, "the key lives until the burst is back, PTTL %d", ttl)
	tat, err := do(t, c, "GET", cluster.RateKey("key1")).AsInt64()
	require.NoError(t, err)
	require.NoError(t, do(t, c, "SET", cluster.RateKey("key1"), strconv.FormatInt(tat-60_000_000, 10)).Error())
	d, err := a.Allow(ctx, "key1", lim)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "one interval later, one more request")
	d, err = a.Allow(ctx, "key1", lim)
	require.NoError(t, err)
	assert.False(t, d.Allowed)

	_, err = a.Allow(ctx, "key1", cluster.Limit{PerSecond: 0, Burst: 1})
	require.ErrorContains(t, err, "PerSecond must be positive")
}
