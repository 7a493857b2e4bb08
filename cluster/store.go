package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// minRedisMajor is the oldest Redis the scripts run on: they use SPUBLISH (Redis 7).
const minRedisMajor = 7

// Store is one replica's handle on the cluster's Redis: the stream scripts, the live-subscription
// multiplexer and this replica's lease. It is safe for concurrent use. Close stops its goroutines.
type Store struct {
	cfg    Config
	log    *slog.Logger
	client rueidis.Client
	sub    *subscriber

	epoch   atomic.Pointer[string] // this replica's lease epoch; nil while it holds none
	leaseOK atomic.Bool            // the lease is held: found so by the last refresh, and not run out since
	until   time.Time              // the lease holds at least until then; the lease goroutine's

	watchMu   sync.Mutex
	watchers  map[uint64]func() // WatchLeaseLost's, by registration
	nextWatch uint64

	cancel    context.CancelFunc // stops the lease and sweep loops
	loops     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New connects to Redis, takes this replica's lease and starts the lease loop and the live
// subscription connection. An unreachable Redis is an error wrapping ErrUnavailable; a NodeID
// whose lease another live replica keeps refreshing is ErrNodeIDInUse.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opt, err := rueidis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("%w: RedisURL %s: %v", ErrInvalidConfig, redactedURL(cfg.RedisURL), err)
	}
	// Retries would hold a caller for as long as Redis is down; the Store fails fast with
	// ErrUnavailable instead and lets the caller answer 503.
	opt.DisableRetry = true
	// The scripts that keep cluster-wide counters touch keys of several slots, so the Store talks
	// to one Redis primary (docs/cluster.md says what Redis Cluster would need).
	opt.ForceSingleClient = true
	opt.DisableCache = true
	// rueidis bounds a dial and the connection's handshake by Dialer.Timeout. It is not the lease:
	// a refused connection fails at once anyway, and a loaded host can take longer than a short
	// lease to finish a handshake, which would fail New or a reconnect for nothing.
	opt.Dialer.Timeout = connectTimeout
	opt.ConnWriteTimeout = max(cfg.Lease, time.Second)
	opt.ClientName = "streamgate:" + cfg.NodeID
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis at %s is unreachable: %w: %w", redactedURL(cfg.RedisURL), ErrUnavailable, err)
	}
	s := &Store{cfg: cfg, log: cfg.Logger.With("node_id", cfg.NodeID), client: client}
	if err := s.start(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) start(ctx context.Context) error {
	if err := s.checkVersion(ctx); err != nil {
		return err
	}
	if err := s.acquireFirst(ctx); err != nil {
		return err
	}
	sub, err := newSubscriber(ctx, s.client, s.log)
	if err != nil {
		return errors.Join(err, s.release(ctx))
	}
	s.sub = sub
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.loops.Go(func() { s.leaseLoop(loopCtx) })
	s.loops.Go(func() { s.sweepLoop(loopCtx) })
	return nil
}

// checkVersion refuses a Redis older than minRedisMajor with a message naming both versions.
func (s *Store) checkVersion(ctx context.Context) error {
	info, err := s.client.Do(ctx, s.client.B().Info().Section("server").Build()).ToString()
	if err != nil {
		return wrap("check the version of redis at "+redactedURL(s.cfg.RedisURL), err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		major, _, _ := strings.Cut(v, ".")
		if n, err := strconv.Atoi(major); err != nil || n < minRedisMajor {
			return fmt.Errorf("cluster: redis at %s is version %s; cluster mode needs Redis >= %d", redactedURL(s.cfg.RedisURL), v, minRedisMajor)
		}
		return nil
	}
	return fmt.Errorf("cluster: redis at %s did not report its version", redactedURL(s.cfg.RedisURL))
}

// epochNow is this replica's current lease epoch, "" while it holds none.
func (s *Store) epochNow() string {
	if e := s.epoch.Load(); e != nil {
		return *e
	}
	return ""
}

// NodeID is this replica's node ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// Config returns the effective configuration, defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// Ready reports whether this replica can serve cluster streams now: Redis answers, this
// replica's lease is held (found so by the last refresh and not run out since, and in Redis
// now: a Redis restarted empty holds none until the lease loop takes a new one), and the live connection every new stream
// subscribes on is up (it reconnects with backoff after Redis returns). The error wraps
// ErrUnavailable otherwise.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.client.Do(ctx, s.client.B().Ping().Build()).Error(); err != nil {
		return wrap("ping", err)
	}
	epoch := s.epoch.Load()
	if epoch == nil || !s.leaseOK.Load() {
		return fmt.Errorf("cluster: node %s: %w: no lease held", s.cfg.NodeID, ErrUnavailable)
	}
	held, err := s.leaseHeld(ctx, s.cfg.NodeID, *epoch)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("cluster: node %s: %w: lease lapsed", s.cfg.NodeID, ErrUnavailable)
	}
	if !s.sub.connected() {
		return fmt.Errorf("cluster: node %s: %w: live connection down", s.cfg.NodeID, ErrUnavailable)
	}
	return nil
}

// Close stops the lease loop and the live subscriptions, releases the lease and closes the
// connections. Streams this replica still owns are then ended by the other replicas' sweeps, as
// if it had died; a graceful shutdown closes them first.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.loops.Wait()
		s.sub.close()
		s.closeErr = s.release(ctx)
		s.client.Close()
	})
	return s.closeErr
}

// newEpoch returns a fresh lease epoch: it tells this process's lease apart from any earlier
// lease of the same node ID.
func newEpoch() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }
