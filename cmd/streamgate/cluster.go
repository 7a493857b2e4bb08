package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/configs"
	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
)

var (
	_ gateway.Streams     = (*cluster.Node)(nil)
	_ upstream.Streams    = (*cluster.Node)(nil)
	_ plugins.Streams     = (*cluster.Node)(nil)
	_ gateway.RateLimiter = clusterLimiter{}
	_ cluster.Observer    = (*telemetry.Metrics)(nil)
)

// startError is a start the environment refused although the configuration is valid: Redis is
// unreachable, or another live replica holds this node ID. It exits with code 2, as a
// configuration that does not fit the machine it runs on.
type startError struct{ err error }

func (e startError) Error() string { return e.err.Error() }
func (e startError) Unwrap() error { return e.err }

// clusterParts are cluster mode's components: the Store (this replica's Redis handle and lease)
// and the Node (its view of every stream, over the manager).
type clusterParts struct {
	store *cluster.Store
	node  *cluster.Node
}

// startCluster connects to the configured Redis, takes this replica's lease and starts the Node
// over m. Redis's bounds of each stream are the manager's (history_size, history_bytes,
// retain_closed) and the cluster-wide stream limit is manager.max_streams. The lease and sweep
// events are recorded in metrics.
func startCluster(ctx context.Context, c configs.Cluster, mc configs.Manager, m *manager.Manager, metrics *telemetry.Metrics, log *slog.Logger) (*clusterParts, error) {
	store, err := cluster.New(ctx, cluster.Config{
		RedisURL:     string(c.RedisURL),
		NodeID:       c.NodeID,
		Lease:        c.Lease,
		HistorySize:  mc.HistorySize,
		HistoryBytes: mc.HistoryBytes,
		RetainClosed: mc.RetainClosed,
		MaxStreams:   mc.MaxStreams,
		Observer:     metrics,
		Logger:       log,
	})
	switch {
	case errors.Is(err, cluster.ErrInvalidConfig):
		return nil, configError{fmt.Errorf("cluster: %w", err)}
	case err != nil:
		// cluster's errors name the Redis by its URL without the password.
		return nil, startError{fmt.Errorf("cluster mode cannot start: %w", err)}
	}
	node, err := cluster.NewNode(ctx, cluster.NodeConfig{Store: store, Manager: m, Logger: log})
	if err != nil {
		return nil, errors.Join(startError{fmt.Errorf("cluster mode cannot start: %w", err)}, store.Close(context.WithoutCancel(ctx)))
	}
	log.Info("cluster mode", "node_id", store.NodeID(), "lease", store.Config().Lease)
	return &clusterParts{store: store, node: node}, nil
}

// close closes the Node (a no-op after the gateway's shutdown closed it) and then the Store,
// which releases the lease.
func (c *clusterParts) close(grace time.Duration) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(grace, time.Second))
	defer cancel()
	return errors.Join(c.node.Close(ctx), c.store.Close(ctx))
}

// clusterLimiter is the gateway's rate limiter in cluster mode: each key's budget lives in Redis
// (a GCRA limiter), shared by every replica, with the rate and burst the gateway asks.
type clusterLimiter struct{ store *cluster.Store }

func (l clusterLimiter) Allow(ctx context.Context, keyID string, perSecond float64, burst int) (time.Duration, error) {
	d, err := l.store.Allow(ctx, "key:"+keyID, cluster.Limit{PerSecond: perSecond, Burst: burst})
	switch {
	case err != nil:
		return 0, err
	case d.Allowed:
		return 0, nil
	}
	return max(d.RetryAfter, time.Microsecond), nil
}
