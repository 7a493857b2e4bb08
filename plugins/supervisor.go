package plugins

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/streamgate/streamgate/internal/ctxwait"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// supervisor owns one configured plugin: its run goroutine is the only one that launches,
// health-checks, kills and restarts the plugin's process.
type supervisor struct {
	cfg  PluginConfig
	hc   *Config
	log  *slog.Logger
	info sdk.Info // from the first launch

	mu      sync.Mutex
	cur     *process      // nil while the plugin is down
	changed chan struct{} // closed and replaced whenever cur changes
	stopped bool
}

func newSupervisor(cfg PluginConfig, hc *Config) *supervisor {
	return &supervisor{cfg: cfg, hc: hc, log: hc.Logger.With("plugin", cfg.Name), changed: make(chan struct{})}
}

// start launches the plugin for the first time.
func (s *supervisor) start(ctx context.Context) error {
	p, err := launch(ctx, s.cfg, s.hc.StartTimeout, s.log)
	if err != nil {
		return err
	}
	s.info = p.info
	s.hc.Metrics.PluginUp(s.cfg.Name, true)
	s.set(p)
	s.log.Info("plugin started", "version", p.info.Version, "kinds", p.info.Kinds)
	return nil
}

func (s *supervisor) is(k sdk.Kind) bool { return slices.Contains(s.info.Kinds, k) }

func (s *supervisor) set(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = p
	s.changedLocked()
}

// changedLocked wakes every wait by closing changed and replacing it. s.mu must be held.
func (s *supervisor) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// current returns the running process, or nil while the plugin is down.
func (s *supervisor) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// wait returns the running process, waiting for a restart while the plugin is down. It fails with
// ErrClosed once the supervisor stopped, or with ctx's error.
func (s *supervisor) wait(ctx context.Context) (*process, error) {
	for {
		s.mu.Lock()
		p, changed, stopped := s.cur, s.changed, s.stopped
		s.mu.Unlock()
		switch {
		case stopped:
			return nil, ErrClosed
		case p != nil && !p.conn.exited():
			return p, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// run keeps the plugin running until ctx ends, then kills it.
func (s *supervisor) run(ctx context.Context) {
	b := newBackOff(s.hc.RestartMinBackoff, s.hc.RestartMaxBackoff)
	p := s.current()
	for {
		started := time.Now()
		reason, grace := s.watch(ctx, p)
		s.set(nil)
		s.hc.Metrics.PluginUp(s.cfg.Name, false)
		p.kill(grace)
		if ctx.Err() != nil {
			s.stop()
			return
		}
		s.log.Error("plugin stopped; restarting", "reason", reason)
		if time.Since(started) > s.hc.RestartMaxBackoff {
			b.Reset()
		}
		if p = s.restart(ctx, b); p == nil {
			s.stop()
			return
		}
		// Counted before the process is published, so that whoever sees it sees the count.
		s.hc.Metrics.PluginRestart(s.cfg.Name)
		s.hc.Metrics.PluginUp(s.cfg.Name, true)
		s.set(p)
		s.log.Info("plugin restarted", "version", p.info.Version)
	}
}

func (s *supervisor) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.changedLocked()
}

// watch returns why the plugin stopped being usable (its process exited, it failed a health
// check, or ctx ended) and how long it may take to exit.
func (s *supervisor) watch(ctx context.Context, p *process) (string, time.Duration) {
	t := time.NewTicker(s.hc.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return "host closing", gracefulKill
		case <-p.conn.done:
			return "process exited", 0
		case <-t.C:
			hctx, cancel := context.WithTimeout(ctx, s.hc.HealthTimeout)
			err := p.conn.check(hctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return "health check failed: " + err.Error(), 0
			}
		}
	}
}

// restart launches the plugin again, waiting b's backoff before each try, until it runs or ctx
// ends (then it returns nil).
func (s *supervisor) restart(ctx context.Context, b backoff.BackOff) *process {
	for {
		if !ctxwait.Sleep(ctx, b.NextBackOff()) {
			return nil
		}
		p, err := launch(ctx, s.cfg, s.hc.StartTimeout, s.log)
		if err == nil {
			return p
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Error("plugin restart failed", "error", err)
	}
}
