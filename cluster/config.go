package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid cluster config")

// Defaults applied by New to zero fields.
const (
	DefaultLease = 2 * time.Second
	// DefaultHistoryBytes bounds the bytes of chunk data kept per stream in Redis.
	DefaultHistoryBytes = 16 << 20
	// MinLease is the shortest lease accepted: a lease is refreshed every third of it, and Redis
	// expires keys with millisecond resolution.
	MinLease = 100 * time.Millisecond
	// MaxNodeIDLen bounds a node ID; it is part of Redis key names.
	MaxNodeIDLen = 128
)

// Config configures a Store. Zero fields take the defaults; negative values are invalid.
type Config struct {
	// RedisURL is redis://[user:password@]host:port[/db] or rediss:// for TLS. Required.
	RedisURL string
	// NodeID names this replica; it must be unique among the replicas sharing the Redis. Zero means
	// hostname-pid. Letters, digits and ".", "_", ":", "-" only.
	NodeID string
	// Lease is how long this replica may stay silent before the others treat it as dead and end
	// the streams it owns. It is refreshed every Lease/3, each refresh retried while time is left
	// on the lease, so a stall of Redis or of this process shorter than 2/3 of it is ridden out;
	// on a loaded host use at least 1.5 times the longest stall. Zero means DefaultLease.
	Lease time.Duration
	// HistorySize is the number of chunks kept per stream; zero means manager.DefaultHistorySize.
	HistorySize int
	// HistoryBytes bounds the chunk data kept per stream (the newest chunk is always kept); zero
	// means DefaultHistoryBytes.
	HistoryBytes int64
	// RetainClosed is how long a closed stream stays in Redis; zero means
	// manager.DefaultRetainClosed.
	RetainClosed time.Duration
	// MaxStreams bounds the active streams of the whole cluster; zero means
	// manager.DefaultMaxConcurrentStreams.
	MaxStreams int
	// OnLeaseLost, when set, is called from the Store's lease goroutine when this replica finds
	// that its lease lapsed (Redis was unreachable for longer than Lease, or lost its data): the
	// streams it owned are being ended by the other replicas, so the caller should stop producing
	// them. The Store then takes a new lease. It must not block.
	OnLeaseLost func()
	// Observer receives the lease and sweep events, for metrics; nil records nothing.
	Observer Observer
	// Logger receives the Store's logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if err := checkURL(c.RedisURL); err != nil {
		return c, bad("%v", err)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Lease", int64(c.Lease)},
		{"HistorySize", int64(c.HistorySize)},
		{"HistoryBytes", c.HistoryBytes},
		{"RetainClosed", int64(c.RetainClosed)},
		{"MaxStreams", int64(c.MaxStreams)},
	} {
		if f.v < 0 {
			return c, bad("%s must not be negative (got %d)", f.name, f.v)
		}
	}
	if c.NodeID == "" {
		host, err := os.Hostname()
		if err != nil {
			return c, bad("NodeID is empty and the hostname is unknown: %v", err)
		}
		c.NodeID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if err := checkNodeID(c.NodeID); err != nil {
		return c, bad("%v", err)
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.Lease < MinLease {
		return c, bad("Lease must be at least %s (got %s)", MinLease, c.Lease)
	}
	if c.HistorySize == 0 {
		c.HistorySize = manager.DefaultHistorySize
	}
	if c.HistoryBytes == 0 {
		c.HistoryBytes = DefaultHistoryBytes
	}
	if c.RetainClosed == 0 {
		c.RetainClosed = manager.DefaultRetainClosed
	}
	if c.RetainClosed < time.Millisecond {
		return c, bad("RetainClosed must be at least 1ms (got %s)", c.RetainClosed)
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = manager.DefaultMaxConcurrentStreams
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

// checkURL accepts redis:// and rediss:// URLs with a host. Its errors never show a password.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("RedisURL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the input, password included.
		return errors.New("RedisURL is not a URL")
	}
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return fmt.Errorf("RedisURL %s: scheme must be redis or rediss", u.Redacted())
	case u.Host == "":
		return fmt.Errorf("RedisURL %s: host is missing", u.Redacted())
	}
	return nil
}

// redactedURL names the Redis server in messages without its password.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

func checkNodeID(id string) error {
	if len(id) > MaxNodeIDLen {
		return fmt.Errorf("NodeID must be at most %d bytes (got %d)", MaxNodeIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("NodeID %q: byte %d is %q; only letters, digits and . _ : - are allowed", id, i, c)
		}
	}
	return nil
}
