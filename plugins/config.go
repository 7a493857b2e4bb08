package plugins

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// Config configures a Host.
type Config struct {
	// Plugins are launched in order; error handlers are asked in this order too.
	Plugins []PluginConfig
	// Streams is the manager the transports' subscriptions are registered with; required when
	// any transport is configured.
	Streams Streams
	// Logger receives the host's records and every plugin's output, with attribute
	// plugin=<name>. nil discards them.
	Logger *slog.Logger
	// Metrics records whether each plugin is up, its restarts, the transport sessions open and
	// the subscriptions that overflowed their queue; *telemetry.Metrics implements it. nil
	// records nothing.
	Metrics Metrics

	// Window is the most chunks a subscription leaves unacknowledged by its plugin (default 1024).
	Window int
	// MaxBatch is the most chunks sent in one message (default 256). A message also carries at
	// most sdk.MaxMessageBytes less 64 KiB of chunks; a chunk larger than that alone ends its
	// subscription with a 413 error.
	MaxBatch int
	// QueueSize is each subscription's queue between the manager and the plugin; 0 takes the
	// manager's default (manager.DefaultQueueSize). Keep it at least the manager's HistorySize so
	// that a replay after a plugin restart fits.
	QueueSize int
	// StartTimeout bounds a launch, handshake to Configure (default 10s).
	StartTimeout time.Duration
	// CallTimeout bounds opening and closing a session (default 10s).
	CallTimeout time.Duration
	// DecisionTimeout bounds one error-handler call (default 1s); past it the handler defers.
	DecisionTimeout time.Duration
	// HealthInterval is how often a running plugin is health-checked (default 5s), and
	// HealthTimeout how long it has to answer (default 2s) before it is killed and restarted.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	// RestartMinBackoff and RestartMaxBackoff bound the exponential wait between restarts of a
	// crashed plugin (defaults 100ms and 30s).
	RestartMinBackoff time.Duration
	RestartMaxBackoff time.Duration
	// DeliveryAttempts is how often the built-in policy tries a batch a transport rejects before
	// it ends the subscription (default 5); DeliveryMinBackoff and DeliveryMaxBackoff bound its
	// waits (defaults 100ms and 5s).
	DeliveryAttempts   int
	DeliveryMinBackoff time.Duration
	DeliveryMaxBackoff time.Duration
}

// PluginConfig is one entry of the gateway's `plugins` list.
type PluginConfig struct {
	// Name identifies the plugin in logs, errors and subscriptions ("transport": "<name>").
	Name string
	// Path is the plugin executable.
	Path string
	// SHA256, when set, is the hex SHA-256 of the executable; a binary that differs is refused.
	SHA256 string
	// Args are passed to the executable.
	Args []string
	// Env is the plugin's environment beyond PATH, TMPDIR, TZ, LANG and LC_ALL, which are
	// passed through from the host. Nothing else of the host's environment (credentials
	// included) reaches a plugin.
	Env map[string]string
	// Config is handed to the plugin's Configure as JSON.
	Config json.RawMessage
	// Attach says which new streams a transport plugin joins by itself.
	Attach AttachRule
}

// AttachRule selects the streams a transport joins when Host.Attach is called for them. The zero
// rule joins none: the transport then serves explicit subscriptions only.
type AttachRule struct {
	// All joins every stream.
	All bool
	// Models and Tenants join the streams whose manager.LabelModel or manager.LabelTenant label is
	// listed. When both are set a stream must match both.
	Models  []string
	Tenants []string
}

// IsZero reports whether r joins no stream.
func (r AttachRule) IsZero() bool { return !r.All && len(r.Models) == 0 && len(r.Tenants) == 0 }

// Matches reports whether r joins a stream with these labels.
func (r AttachRule) Matches(labels map[string]string) bool {
	if r.All {
		return true
	}
	if r.IsZero() {
		return false
	}
	if len(r.Models) > 0 && !slices.Contains(r.Models, labels[manager.LabelModel]) {
		return false
	}
	return len(r.Tenants) == 0 || slices.Contains(r.Tenants, labels[manager.LabelTenant])
}

func (c *Config) validate() error {
	seen := make(map[string]bool, len(c.Plugins))
	for i, p := range c.Plugins {
		at := fmt.Sprintf("plugins[%d]", i)
		switch {
		case p.Name == "":
			return fmt.Errorf("%w: %s.name is required", ErrInvalidConfig, at)
		case seen[p.Name]:
			return fmt.Errorf("%w: %s.name %q is used twice", ErrInvalidConfig, at, p.Name)
		case p.Path == "":
			return fmt.Errorf("%w: %s.path is required", ErrInvalidConfig, at)
		case p.Attach.All && (len(p.Attach.Models) > 0 || len(p.Attach.Tenants) > 0):
			return fmt.Errorf("%w: %s.attach: all excludes models and tenants", ErrInvalidConfig, at)
		}
		seen[p.Name] = true
		if p.SHA256 != "" {
			if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
				return fmt.Errorf("%w: %s.sha256 must be 64 hex digits", ErrInvalidConfig, at)
			}
		}
		if len(p.Config) > 0 && !json.Valid(p.Config) {
			return fmt.Errorf("%w: %s.config is not valid JSON", ErrInvalidConfig, at)
		}
	}
	// A list, not a map, so that a config with several negative fields always reports the first.
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Window", int64(c.Window)},
		{"MaxBatch", int64(c.MaxBatch)},
		{"QueueSize", int64(c.QueueSize)},
		{"StartTimeout", int64(c.StartTimeout)},
		{"CallTimeout", int64(c.CallTimeout)},
		{"DecisionTimeout", int64(c.DecisionTimeout)},
		{"HealthInterval", int64(c.HealthInterval)},
		{"HealthTimeout", int64(c.HealthTimeout)},
		{"RestartMinBackoff", int64(c.RestartMinBackoff)},
		{"RestartMaxBackoff", int64(c.RestartMaxBackoff)},
		{"DeliveryAttempts", int64(c.DeliveryAttempts)},
		{"DeliveryMinBackoff", int64(c.DeliveryMinBackoff)},
		{"DeliveryMaxBackoff", int64(c.DeliveryMaxBackoff)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s must not be negative", ErrInvalidConfig, f.name)
		}
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	c.Window = cmp.Or(c.Window, 1024)
	c.MaxBatch = cmp.Or(c.MaxBatch, 256)
	c.StartTimeout = cmp.Or(c.StartTimeout, 10*time.Second)
	c.CallTimeout = cmp.Or(c.CallTimeout, 10*time.Second)
	c.DecisionTimeout = cmp.Or(c.DecisionTimeout, time.Second)
	c.HealthInterval = cmp.Or(c.HealthInterval, 5*time.Second)
	c.HealthTimeout = cmp.Or(c.HealthTimeout, 2*time.Second)
	c.RestartMinBackoff = cmp.Or(c.RestartMinBackoff, 100*time.Millisecond)
	c.RestartMaxBackoff = cmp.Or(c.RestartMaxBackoff, 30*time.Second)
	c.DeliveryAttempts = cmp.Or(c.DeliveryAttempts, 5)
	c.DeliveryMinBackoff = cmp.Or(c.DeliveryMinBackoff, 100*time.Millisecond)
	c.DeliveryMaxBackoff = cmp.Or(c.DeliveryMaxBackoff, 5*time.Second)
	if c.MaxBatch > c.Window {
		c.MaxBatch = c.Window
	}
}
