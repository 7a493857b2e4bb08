package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/manager"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid gateway config")

// Defaults applied by New to zero fields that document one.
const (
	DefaultMaxBodyBytes        = 10 << 20
	DefaultShutdownGrace       = 10 * time.Second
	DefaultReadHeaderTimeout   = 10 * time.Second
	DefaultStalledWriteTimeout = 30 * time.Second
	DefaultIdleTimeout         = 120 * time.Second
	DefaultReadTimeout         = 60 * time.Second
	DefaultMaxConnections      = 10000
)

// Config configures a Server. Fields whose zero value means something other than a default say so.
type Config struct {
	// Manager owns this process's streams. Required. The Server shuts it down when Serve returns.
	Manager *manager.Manager
	// Streams, when set, serves every stream call instead of Manager: cluster mode's replica
	// view (cluster.Node), which keeps its local copies in Manager. The server's shutdown closes
	// it (when it has a Close method) before it shuts Manager down. Nil means Manager itself.
	Streams Streams
	// RateLimiter, when set, holds the per-key rate limit (RatePerKey and Burst): cluster mode's
	// is shared by every replica. Nil means an in-process token bucket per key.
	RateLimiter RateLimiter
	// Generator runs generations upstream (normally an *upstream.Runner). Required.
	Generator Generator
	// Plugins, when set, is told about every stream the gateway creates, before its generation
	// starts, and serves the subscription routes; *plugins.Host implements it. Without it those
	// routes know no transport.
	Plugins Plugins
	// Metrics, when set, records the requests, subscribers and pushes; *telemetry.Metrics
	// implements it. Nil records nothing.
	Metrics Metrics
	// TracerProvider, when set, makes a server span of every request; nil makes none.
	TracerProvider trace.TracerProvider
	// Propagator reads the caller's trace context (traceparent) from the request headers, which
	// the server span continues; nil reads none.
	Propagator propagation.TextMapPropagator
	// Keyring holds the client keys. Nil or empty runs the gateway open (tenant ""), which Serve
	// allows on a loopback listener only.
	Keyring *auth.Keyring
	// Tokens mints and verifies stream tokens (POST /v1/streams/{id}/tokens, and ?token= or
	// Authorization: Bearer on a stream's events and info). Nil turns them off: the token route
	// answers 501. An open gateway (no keys) has no use for them and answers 501 as well.
	Tokens *auth.Tokens

	// Heartbeat is the interval of ": ping" comments on /v1/streams/{id}/events. Zero disables them.
	Heartbeat time.Duration
	// OrphanGrace is how long a Gemini-route stream keeps running upstream after its last
	// subscriber left. Zero closes it at once. Streams made by POST /v1/streams never orphan.
	OrphanGrace time.Duration
	// ClientQueueSize bounds the chunks queued per SSE subscriber; a subscriber that falls further
	// behind is disconnected (it can resume). Zero means the manager's HistorySize, or
	// manager.DefaultQueueSize if that is larger; a smaller value than HistorySize is invalid, since a
	// full replay must fit.
	ClientQueueSize int
	// ClientQueueBytes bounds the chunk data queued per SSE subscriber the same way: a subscriber
	// that stopped reading pins what is queued for it, which the history (and so the manager's
	// byte budget) may already have let go of. Zero means twice the manager's HistoryBytes, or no
	// bound when the manager has none; a value smaller than HistoryBytes is invalid.
	ClientQueueBytes int64
	// MaxBodyBytes bounds a request body (413 above it). Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RatePerKey is the sustained requests per second allowed per client key; zero disables rate
	// limiting. Open mode has no keys and is not rate limited.
	RatePerKey float64
	// Burst is the token bucket size of the rate limit. Zero means max(1, ceil(RatePerKey)).
	Burst int
	// CORSOrigins lists the origins browsers may call from ("https://app.example"), or "*" alone.
	CORSOrigins []string

	// ShutdownGrace bounds the graceful shutdown Serve performs when its context ends. Zero means
	// DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// ReadHeaderTimeout bounds reading a request's headers. Zero means DefaultReadHeaderTimeout.
	// There is no write timeout: streams may run for hours.
	ReadHeaderTimeout time.Duration
	// StalledWriteTimeout bounds one write to a subscriber; a client that stops reading for this
	// long is disconnected. Zero means DefaultStalledWriteTimeout.
	StalledWriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for its next request. Zero
	// means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ReadTimeout bounds reading a request body, from the moment its handler starts reading it; a
	// body still arriving then answers 408. Zero means DefaultReadTimeout. It is not
	// http.Server.ReadTimeout, whose deadline would also cancel long-running streams.
	ReadTimeout time.Duration
	// MaxConnections bounds the connections the listener holds open at once; further clients wait
	// in the kernel's accept queue. Zero means DefaultMaxConnections.
	MaxConnections int

	// Version and Upstream (the upstream provider's name) are what GET /v1/status and the
	// console tell about the gateway.
	Version  string
	Upstream string

	// Logger receives the gateway's logs; nil discards them. Every line logged while serving a
	// request carries its request_id.
	Logger *slog.Logger
	// WithRequestID, when set, returns ctx carrying the request's X-Request-Id for the upstream to
	// forward (upstream.WithRequestID). Every context the Generator is given descends from the
	// one it returns.
	WithRequestID func(ctx context.Context, id string) context.Context
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	bad := c.checkFields()
	if c.Manager != nil {
		c = c.withQueueBounds(&bad)
	}
	if len(bad) > 0 {
		return c, errors.Join(bad...)
	}
	return c.withFixedDefaults(), nil
}

// problems gathers every fault of a Config, each wrapping ErrInvalidConfig, so that New reports
// them all at once.
type problems []error

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
}

// checkFields returns the faults of the fields that need no defaults to be checked.
func (c Config) checkFields() problems {
	var bad problems
	if c.Manager == nil {
		bad.add("Manager is required")
	}
	if c.Generator == nil {
		bad.add("Generator is required")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Heartbeat", int64(c.Heartbeat)},
		{"OrphanGrace", int64(c.OrphanGrace)},
		{"ClientQueueSize", int64(c.ClientQueueSize)},
		{"ClientQueueBytes", c.ClientQueueBytes},
		{"MaxBodyBytes", c.MaxBodyBytes},
		{"Burst", int64(c.Burst)},
		{"ShutdownGrace", int64(c.ShutdownGrace)},
		{"ReadHeaderTimeout", int64(c.ReadHeaderTimeout)},
		{"StalledWriteTimeout", int64(c.StalledWriteTimeout)},
		{"IdleTimeout", int64(c.IdleTimeout)},
		{"ReadTimeout", int64(c.ReadTimeout)},
		{"MaxConnections", int64(c.MaxConnections)},
	} {
		if f.v < 0 {
			bad.add("%s must not be negative (got %d)", f.name, f.v)
		}
	}
	if c.RatePerKey < 0 || math.IsNaN(c.RatePerKey) || math.IsInf(c.RatePerKey, 0) {
		bad.add("RatePerKey must be a finite number >= 0 (got %v)", c.RatePerKey)
	}
	if err := validateOrigins(c.CORSOrigins); err != nil {
		bad = append(bad, err)
	}
	return bad
}

// withQueueBounds fills in the per-subscriber queue bounds from the manager's history, and adds
// to bad those too small for a full replay to fit.
func (c Config) withQueueBounds(bad *problems) Config {
	mc := c.Manager.Config()
	if c.ClientQueueSize == 0 {
		c.ClientQueueSize = max(mc.HistorySize, manager.DefaultQueueSize)
	}
	if c.ClientQueueSize < mc.HistorySize {
		bad.add("ClientQueueSize %d is smaller than the manager's HistorySize %d: a full replay must fit", c.ClientQueueSize, mc.HistorySize)
	}
	c.ClientQueueBytes = cmp.Or(c.ClientQueueBytes, 2*mc.HistoryBytes)
	if c.ClientQueueBytes < mc.HistoryBytes {
		bad.add("ClientQueueBytes %d is smaller than the manager's HistoryBytes %d: a full replay must fit", c.ClientQueueBytes, mc.HistoryBytes)
	}
	return c
}

// withFixedDefaults fills in the defaults that depend on no other part of the gateway.
func (c Config) withFixedDefaults() Config {
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.ShutdownGrace = cmp.Or(c.ShutdownGrace, DefaultShutdownGrace)
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.StalledWriteTimeout = cmp.Or(c.StalledWriteTimeout, DefaultStalledWriteTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.MaxConnections = cmp.Or(c.MaxConnections, DefaultMaxConnections)
	if c.Burst == 0 {
		c.Burst = max(1, int(math.Ceil(min(c.RatePerKey, math.MaxInt32))))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Streams == nil {
		c.Streams = managerStreams{c.Manager}
	}
	if c.RateLimiter == nil {
		c.RateLimiter = newKeyBuckets()
	}
	return c
}

// validateOrigins checks CORS origins: "*" alone, or scheme://host[:port] as browsers send them.
func validateOrigins(origins []string) error {
	for i, o := range origins {
		if o == "*" {
			if len(origins) != 1 {
				return fmt.Errorf("%w: CORSOrigins[%d]: \"*\" must be the only origin", ErrInvalidConfig, i)
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("%w: CORSOrigins[%d] %q is not an origin (want scheme://host[:port])", ErrInvalidConfig, i, o)
		}
	}
	return nil
}
