package manager

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"time"
)

// SendErrorMode says what PushChunk does when a client's SendChunk fails.
type SendErrorMode int

// Send-error modes.
const (
	// LogAndContinue logs the failure and keeps the client registered.
	LogAndContinue SendErrorMode = iota
	// DeregisterClient logs the failure, deregisters the client and notifies it closed.
	DeregisterClient
	// Throw delivers to every other client, then returns an error joining one *ClientError per
	// failure; the clients stay registered.
	Throw
)

func (m SendErrorMode) String() string {
	switch m {
	case LogAndContinue:
		return "log-and-continue"
	case DeregisterClient:
		return "deregister-client"
	case Throw:
		return "throw"
	}
	return fmt.Sprintf("SendErrorMode(%d)", int(m))
}

// NoTimeout disables InactivityTimeout when set as its value.
const NoTimeout time.Duration = math.MaxInt64

// Defaults applied by New to zero fields.
const (
	DefaultMaxConcurrentStreams = 1000
	DefaultMaxClientsPerStream  = 10000
	DefaultInactivityTimeout    = 5 * time.Minute
	DefaultHistorySize          = 4096
	DefaultRetainClosed         = 5 * time.Minute
	DefaultSubscriptionQueue    = 8192
	DefaultHistoryBytes         = 16 << 20
	DefaultMaxBytes             = 1 << 30
	DefaultMaxRetained          = 10000
)

// Quota bounds what one tenant's streams may hold. Both limits apply on top of the global ones.
type Quota struct {
	// MaxStreams bounds the tenant's active streams.
	MaxStreams int
	// MaxBytes bounds the chunk data of the tenant's streams, active and retained closed ones. It
	// must be at least Config.HistoryBytes, so that a stream can be created.
	MaxBytes int64
}

// QuotaFor returns the quota of a tenant: its entry in Quotas, else DefaultQuota. On a Config
// returned by Manager.Config every field is filled in.
func (c Config) QuotaFor(tenant string) Quota {
	if q, ok := c.Quotas[tenant]; ok {
		return q
	}
	return c.DefaultQuota
}

// Config configures a Manager. Zero fields take the defaults above; negative values are invalid.
type Config struct {
	// MaxConcurrentStreams bounds the active streams (retained closed streams do not count).
	MaxConcurrentStreams int
	// MaxClientsPerStream bounds the clients registered on one stream.
	MaxClientsPerStream int
	// OnClientSendError says what to do when a client's SendChunk fails.
	OnClientSendError SendErrorMode
	// InactivityTimeout terminates a stream that had no push for this long, with Code 504 and
	// Status "DEADLINE_EXCEEDED". The check ticks every eighth of the timeout, so a stream ends
	// between the timeout and 1.125 times it after its last push. Zero means
	// DefaultInactivityTimeout; NoTimeout disables it.
	InactivityTimeout time.Duration
	// HistorySize is the number of chunks kept per stream for replay.
	HistorySize int
	// HistoryBytes bounds the chunk data (len(Data)) kept per stream for replay: the oldest chunks
	// go first, as with HistorySize. The newest chunk is always kept, whatever its size.
	HistoryBytes int64
	// MaxBytes bounds the chunk data kept by all streams together, active and retained closed ones.
	// It must be at least HistoryBytes. See the package documentation for what happens at the
	// bound.
	MaxBytes int64
	// RetainClosed is how long a closed stream stays readable for replay before it is forgotten.
	RetainClosed time.Duration
	// MaxRetained bounds the closed streams kept for RetainClosed: beyond it the oldest closed is
	// forgotten at once.
	MaxRetained int
	// SubscriptionQueue bounds the chunks a Subscription buffers before it drops out as a slow client.
	SubscriptionQueue int
	// DefaultQuota bounds what each tenant's streams may hold, for every tenant not in Quotas. A
	// stream's tenant is its LabelTenant label ("" when it has none). Zero fields mean the global
	// limit (MaxConcurrentStreams, MaxBytes), which stays the ceiling whatever the quotas say.
	DefaultQuota Quota
	// Quotas overrides DefaultQuota by tenant name; zero fields take DefaultQuota's.
	Quotas map[string]Quota
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
	// Observer is told about every stream opened and closed; nil tells no one.
	Observer Observer
}

func (c Config) withDefaults() (Config, error) {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxConcurrentStreams", int64(c.MaxConcurrentStreams)},
		{"MaxClientsPerStream", int64(c.MaxClientsPerStream)},
		{"InactivityTimeout", int64(c.InactivityTimeout)},
		{"HistorySize", int64(c.HistorySize)},
		{"RetainClosed", int64(c.RetainClosed)},
		{"MaxRetained", int64(c.MaxRetained)},
		{"SubscriptionQueue", int64(c.SubscriptionQueue)},
		{"HistoryBytes", c.HistoryBytes},
		{"MaxBytes", c.MaxBytes},
	} {
		if f.v < 0 {
			return c, fmt.Errorf("%w: %s must not be negative (got %d)", ErrInvalidConfig, f.name, f.v)
		}
	}
	if err := c.quotasNotNegative(); err != nil {
		return c, err
	}
	if c.OnClientSendError < LogAndContinue || c.OnClientSendError > Throw {
		return c, fmt.Errorf("%w: OnClientSendError has unknown mode %d", ErrInvalidConfig, int(c.OnClientSendError))
	}
	c.MaxConcurrentStreams = cmp.Or(c.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	c.MaxClientsPerStream = cmp.Or(c.MaxClientsPerStream, DefaultMaxClientsPerStream)
	c.InactivityTimeout = cmp.Or(c.InactivityTimeout, DefaultInactivityTimeout)
	c.HistorySize = cmp.Or(c.HistorySize, DefaultHistorySize)
	c.RetainClosed = cmp.Or(c.RetainClosed, DefaultRetainClosed)
	c.MaxRetained = cmp.Or(c.MaxRetained, DefaultMaxRetained)
	c.SubscriptionQueue = cmp.Or(c.SubscriptionQueue, DefaultSubscriptionQueue)
	c.HistoryBytes = cmp.Or(c.HistoryBytes, DefaultHistoryBytes)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	if c.HistoryBytes > c.MaxBytes {
		return c, fmt.Errorf("%w: HistoryBytes (%d) must not exceed MaxBytes (%d)", ErrInvalidConfig, c.HistoryBytes, c.MaxBytes)
	}
	c.DefaultQuota = c.DefaultQuota.or(Quota{MaxStreams: c.MaxConcurrentStreams, MaxBytes: c.MaxBytes})
	quotas := make(map[string]Quota, len(c.Quotas))
	for tenant, q := range c.Quotas {
		quotas[tenant] = q.or(c.DefaultQuota)
	}
	c.Quotas = quotas
	for _, tenant := range slices.Sorted(maps.Keys(c.Quotas)) {
		if err := c.Quotas[tenant].check(fmt.Sprintf("Quotas[%q]", tenant), c.HistoryBytes); err != nil {
			return c, err
		}
	}
	if err := c.DefaultQuota.check("DefaultQuota", c.HistoryBytes); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// quotasNotNegative checks that no quota is negative; withDefaults then fills their zero fields.
func (c Config) quotasNotNegative() error {
	for name, q := range c.Quotas {
		if q.MaxStreams < 0 || q.MaxBytes < 0 {
			return fmt.Errorf("%w: Quotas[%q] must not be negative", ErrInvalidConfig, name)
		}
	}
	if c.DefaultQuota.MaxStreams < 0 || c.DefaultQuota.MaxBytes < 0 {
		return fmt.Errorf("%w: DefaultQuota must not be negative", ErrInvalidConfig)
	}
	return nil
}

// or returns q with its zero fields taken from def.
func (q Quota) or(def Quota) Quota {
	q.MaxStreams = cmp.Or(q.MaxStreams, def.MaxStreams)
	q.MaxBytes = cmp.Or(q.MaxBytes, def.MaxBytes)
	return q
}

// check reports a quota under which no stream could be created.
func (q Quota) check(name string, historyBytes int64) error {
	if q.MaxBytes < historyBytes {
		return fmt.Errorf("%w: %s.MaxBytes (%d) must be at least HistoryBytes (%d)", ErrInvalidConfig, name, q.MaxBytes, historyBytes)
	}
	return nil
}

// millis is d in milliseconds, as logs give durations: a float, never nanoseconds as an integer.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
