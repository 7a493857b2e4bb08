package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/streamgate/streamgate/plugins/sdk"
	"github.com/streamgate/streamgate/upstream"
)

// Host runs the configured plugins: it launches them, restarts them when they crash, attaches
// transports to streams and asks error handlers to decide.
type Host struct {
	cfg    Config
	sups   []*supervisor
	byName map[string]*supervisor

	mu       sync.Mutex
	started  bool
	closed   bool
	stop     context.CancelFunc // ends the supervisors
	deciders upstream.Chain

	wg sync.WaitGroup // the supervisors

	subsMu sync.Mutex
	subs   map[string]map[string]*subscription // stream ID -> subscription ID -> subscription
	failed []failedSubscription                // the last maxFailed that ended with an error, oldest first
	subsWG sync.WaitGroup                      // the subscriptions' run goroutines
}

// New validates cfg and fills its defaults. It starts nothing: call Start.
func New(cfg Config) (*Host, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	h := &Host{cfg: cfg, byName: make(map[string]*supervisor, len(cfg.Plugins)), subs: make(map[string]map[string]*subscription)}
	for _, pc := range cfg.Plugins {
		s := newSupervisor(pc, &h.cfg)
		h.sups = append(h.sups, s)
		h.byName[pc.Name] = s
	}
	return h, nil
}

// Start launches every plugin, in order, and configures it. When one fails, the ones already
// running are killed and its error is returned (see the package doc for the sentinels); the Host
// is then closed. A Host starts once.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.closed {
		return fmt.Errorf("start: %w", ErrClosed)
	}
	for i, s := range h.sups {
		err := s.start(ctx)
		if err == nil {
			err = h.checkKinds(s)
		}
		if err != nil {
			for _, t := range h.sups[:i+1] {
				if p := t.current(); p != nil {
					p.kill(gracefulKill)
					h.cfg.Metrics.PluginUp(t.cfg.Name, false)
				}
			}
			h.closed = true
			return err
		}
	}
	for _, s := range h.sups {
		if s.is(sdk.KindErrorHandler) {
			h.deciders = append(h.deciders, handlerDecider{s: s})
		}
	}
	runCtx, stop := context.WithCancel(context.Background())
	h.stop = stop
	h.started = true
	for _, s := range h.sups {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.run(runCtx)
		}()
	}
	return nil
}

func (h *Host) checkKinds(s *supervisor) error {
	if !s.cfg.Attach.IsZero() && !s.is(sdk.KindTransport) {
		return fmt.Errorf("plugin %s: %w: attach needs a transport, it is %v", s.cfg.Name, ErrWrongKind, s.info.Kinds)
	}
	if s.is(sdk.KindTransport) && h.cfg.Streams == nil {
		return fmt.Errorf("plugin %s: %w: Streams is required for a transport plugin", s.cfg.Name, ErrInvalidConfig)
	}
	return nil
}

// Deciders returns one upstream.Decider per error-handler plugin, in configuration order. Each
// call has Config.DecisionTimeout; a handler that is down, times out or fails defers. It is empty
// before Start.
func (h *Host) Deciders() upstream.Chain {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(upstream.Chain(nil), h.deciders...)
}

// Info returns what the named plugin reported about itself at its first launch.
func (h *Host) Info(name string) (sdk.Info, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.byName[name]
	if !ok || !h.started {
		return sdk.Info{}, false
	}
	return s.info, true
}

// Close ends every subscription, telling each plugin the reason "plugin host closing" (each
// within Config.CallTimeout, all within ctx), then kills every plugin and waits for the host's
// goroutines. Call it after the manager's Shutdown, so that plugins first see their streams end.
// It is safe to call more than once.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	stop := h.stop
	h.mu.Unlock()

	h.subsMu.Lock()
	for _, subs := range h.subs {
		for _, s := range subs {
			s.stop(ReasonHostClosing)
		}
	}
	h.subsMu.Unlock()
	subsDone := make(chan struct{})
	go func() {
		h.subsWG.Wait()
		close(subsDone)
	}()
	var err error
	select {
	case <-subsDone:
	case <-ctx.Done():
		err = fmt.Errorf("close plugin host: subscriptions still closing: %w", ctx.Err())
	}
	if stop != nil {
		stop() // killing the plugins ends the sessions still open
		h.wg.Wait()
	}
	<-subsDone
	return err
}

// sessionConfig is what every session of the host shares.
func (h *Host) sessionConfig(log *slog.Logger) sessionConfig {
	return sessionConfig{
		window: h.cfg.Window, maxBatch: h.cfg.MaxBatch, maxBytes: batchBytes, attempts: h.cfg.DeliveryAttempts,
		minBackoff: h.cfg.DeliveryMinBackoff, maxBackoff: h.cfg.DeliveryMaxBackoff,
		callTimeout: h.cfg.CallTimeout, decider: h.Deciders(), log: log, metrics: h.cfg.Metrics,
	}
}
