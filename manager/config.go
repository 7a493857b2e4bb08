package manager

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
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
)

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
	// RetainClosed is how long a closed stream stays readable for replay before it is forgotten.
	RetainClosed time.Duration
	// SubscriptionQueue bounds the chunks a Subscription buffers before it drops out as a slow client.
	SubscriptionQueue int
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
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
		{"SubscriptionQueue", int64(c.SubscriptionQueue)},
	} {
		if f.v < 0 {
			return c, fmt.Errorf("%w: %s must not be negative (got %d)", ErrInvalidConfig, f.name, f.v)
		}
	}
	if c.OnClientSendError < LogAndContinue || c.OnClientSendError > Throw {
		return c, fmt.Errorf("%w: OnClientSendError has unknown mode %d", ErrInvalidConfig, int(c.OnClientSendError))
	}
	c.MaxConcurrentStreams = cmp.Or(c.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	c.MaxClientsPerStream = cmp.Or(c.MaxClientsPerStream, DefaultMaxClientsPerStream)
	c.InactivityTimeout = cmp.Or(c.InactivityTimeout, DefaultInactivityTimeout)
	c.HistorySize = cmp.Or(c.HistorySize, DefaultHistorySize)
	c.RetainClosed = cmp.Or(c.RetainClosed, DefaultRetainClosed)
	c.SubscriptionQueue = cmp.Or(c.SubscriptionQueue, DefaultSubscriptionQueue)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
