package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/configs"
	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/telemetry"
	"github.com/streamgate/streamgate/upstream"
)

var (
	_ gateway.Plugins = gatewayPlugins{}
	_ gateway.Metrics = (*telemetry.Metrics)(nil)
)

// gatewayPlugins adapts the plugin host to gateway.Plugins, which the two packages cannot share a
// type for: the gateway must not import plugins (architecture.md), and plugins knows no gateway.
type gatewayPlugins struct{ *plugins.Host }

func (g gatewayPlugins) Subscriptions(_ context.Context, streamID, instance string) []gateway.Subscription {
	var out []gateway.Subscription
	for _, info := range g.StreamSubscriptions(streamID, instance) {
		out = append(out, gateway.Subscription(info))
	}
	return out
}

// parts are the built components.
type parts struct {
	gateway   *gateway.Server
	runner    *upstream.Runner
	plugins   *plugins.Host // nil without configured plugins
	cluster   *clusterParts // nil without cluster mode
	provider  string
	open      bool   // no client keys
	unobserve func() // stops the retained gauges from reading the manager
}

// build turns the configuration into the manager, keyring, plugin host, provider, runner and
// gateway, which record into o's metrics and tracer provider. Problems the configuration causes
// are configErrors. When build fails after the plugin host started, it closes the host.
func build(ctx context.Context, cfg *configs.Config, o *ops, log *slog.Logger) (p parts, err error) {
	mcfg := managerConfig(cfg.Manager, log)
	mcfg.Observer = streamMetrics{o.metrics}
	m, err := manager.New(mcfg)
	if err != nil {
		return parts{}, configError{fmt.Errorf("manager: %w", err)}
	}
	var cl *clusterParts
	if cfg.Cluster.Enabled() {
		if cl, err = startCluster(ctx, cfg.Cluster, cfg.Manager, m, o.metrics, log); err != nil {
			return parts{}, err
		}
		defer func() {
			if err != nil {
				err = errors.Join(err, cl.close(cfg.ShutdownGrace))
			}
		}()
	}
	streams := streamsOf(m, cl)
	keyring, tokens, err := credentials(cfg.Auth)
	if err != nil {
		return parts{}, err
	}
	provider, err := newProvider(ctx, cfg.Upstream, log)
	if err != nil {
		return parts{}, configError{fmt.Errorf("upstream: %w", err)}
	}
	host, err := startPlugins(ctx, cfg, streams, o.metrics, log)
	if err != nil {
		return parts{}, err
	}
	defer func() {
		if err != nil && host != nil {
			err = errors.Join(err, host.Close(context.WithoutCancel(ctx)))
		}
	}()
	runner, err := upstream.NewRunner(upstream.RunnerConfig{
		Provider: provider,
		Manager:  streams,
		Decider:  deciders(host),
		Retry:    retryConfig(cfg.Upstream.Retry),
		Timeouts: upstream.Timeouts{
			Connect:    cfg.Upstream.Timeouts.Connect,
			FirstEvent: cfg.Upstream.Timeouts.FirstEvent,
			Idle:       cfg.Upstream.Timeouts.Idle,
		},
		Logger:         log,
		Metrics:        o.metrics,
		TracerProvider: o.tracing.TracerProvider(),
		Propagator:     o.tracing.Propagator(),
	})
	if err != nil {
		return parts{}, configError{fmt.Errorf("upstream: %w", err)}
	}
	gwCfg := gatewayConfig(cfg, o, log, m, runner, keyring, tokens, provider.Name())
	wireClusterAndPlugins(&gwCfg, cl, host, log)
	gw, err := gateway.New(gwCfg)
	if err != nil {
		return parts{}, configError{err}
	}
	return parts{gateway: gw, runner: runner, plugins: host, cluster: cl, provider: provider.Name(), open: keyring.Len() == 0,
		unobserve: o.metrics.ObserveRetained(retained(m))}, nil
}

// credentials builds the keyring of the configured client keys and the stream tokens of the
// configured secrets (nil without any); a problem with either is a configError.
func credentials(a configs.Auth) (*auth.Keyring, *auth.Tokens, error) {
	keys := make([]auth.Key, len(a.Keys))
	for i, k := range a.Keys {
		keys[i] = auth.Key{ID: k.ID, Key: string(k.Key), SHA256: k.SHA256, Tenant: k.Tenant}
	}
	keyring, err := auth.NewKeyring(keys)
	if err != nil {
		return nil, nil, configError{fmt.Errorf("auth.keys: %w", err)}
	}
	tokens, err := streamTokens(a.TokenSecret)
	if err != nil {
		return nil, nil, configError{fmt.Errorf("auth.token_secret: %w", err)}
	}
	return keyring, tokens, nil
}

// gatewayConfig is the gateway's configuration in one process: the stream layer and plugins
// are wireClusterAndPlugins's.
func gatewayConfig(cfg *configs.Config, o *ops, log *slog.Logger, m *manager.Manager, runner *upstream.Runner,
	keyring *auth.Keyring, tokens *auth.Tokens, upstreamName string,
) gateway.Config {
	return gateway.Config{
		Manager:          m,
		Generator:        runner,
		Keyring:          keyring,
		Tokens:           tokens,
		Heartbeat:        cfg.Heartbeat,
		OrphanGrace:      cfg.OrphanGrace,
		ClientQueueSize:  cfg.ClientQueueSize,
		ClientQueueBytes: cfg.ClientQueueBytes,
		MaxBodyBytes:     cfg.Limits.MaxBodyBytes,
		RatePerKey:       cfg.Limits.Rate.PerKeyRPS,
		Burst:            cfg.Limits.Rate.Burst,
		IdleTimeout:      cfg.Limits.IdleTimeout,
		ReadTimeout:      cfg.Limits.ReadTimeout,
		MaxConnections:   cfg.Limits.MaxConnections,
		CORSOrigins:      cfg.CORS.AllowedOrigins,
		// shutdown_grace 0 means no grace at all; the gateway reads a zero as its default.
		ShutdownGrace:  max(cfg.ShutdownGrace, time.Nanosecond),
		Metrics:        o.metrics,
		TracerProvider: o.tracing.TracerProvider(),
		Propagator:     o.tracing.Propagator(),
		Version:        o.build.Version,
		Upstream:       upstreamName,
		Logger:         log,
		WithRequestID:  upstream.WithRequestID,
	}
}

// wireClusterAndPlugins points gwCfg at the plugin host and, in cluster mode, at the replica view and
// the cluster-wide rate limit; host and cl may each be nil.
func wireClusterAndPlugins(gwCfg *gateway.Config, cl *clusterParts, host *plugins.Host, log *slog.Logger) {
	if host != nil {
		gwCfg.Plugins = gatewayPlugins{host}
	}
	if cl != nil {
		gwCfg.Streams = cl.node
		gwCfg.RateLimiter = clusterLimiter{cl.store}
	}
	if cl != nil && host != nil {
		// Subscriptions asked through any replica run on the stream's owner (docs/cluster.md,
		// item 10): this replica's host serves those of the streams it owns. The Node closes
		// with the process, so the registration is never undone.
		_ = cl.node.ServeTransports(hostTransports{host})
		gwCfg.Plugins = clusterPlugins{gatewayPlugins: gatewayPlugins{host}, node: cl.node, log: log}
	}
}

// streamTokens builds the stream tokens of the configured secrets, or nil (tokens off) without any.
func streamTokens(secrets configs.Secrets) (*auth.Tokens, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	return auth.NewTokens(auth.TokenConfig{Secrets: secrets.Bytes()})
}

// startPlugins launches the configured plugins, or returns nil when there are none. A plugin the
// configuration cannot launch (missing or not executable, wrong checksum, refused config) is a
// configError naming it.
func startPlugins(ctx context.Context, cfg *configs.Config, m streamLayer, metrics plugins.Metrics, log *slog.Logger) (*plugins.Host, error) {
	if len(cfg.Plugins) == 0 {
		return nil, nil
	}
	pcs := make([]plugins.PluginConfig, len(cfg.Plugins))
	for i, p := range cfg.Plugins {
		js, err := p.ConfigJSON()
		if err != nil {
			return nil, configError{fmt.Errorf("plugins[%d] (%s).config: %w", i, p.Name, err)}
		}
		pcs[i] = plugins.PluginConfig{
			Name:   p.Name,
			Path:   p.Path,
			SHA256: p.SHA256,
			Config: js,
			Attach: plugins.AttachRule{All: p.Attach.All, Models: p.Attach.Models, Tenants: p.Attach.Tenants},
		}
	}
	host, err := plugins.New(plugins.Config{Plugins: pcs, Streams: m, QueueSize: cfg.ClientQueueSize, Logger: log, Metrics: metrics})
	if err != nil {
		return nil, configError{fmt.Errorf("plugins: %w", err)}
	}
	if err := host.Start(ctx); err != nil {
		err = fmt.Errorf("plugins: %w", err)
		if errors.Is(err, plugins.ErrBinaryNotFound) || errors.Is(err, plugins.ErrNotExecutable) ||
			errors.Is(err, plugins.ErrChecksumMismatch) || errors.Is(err, plugins.ErrBadConfig) {
			return nil, configError{err}
		}
		return nil, err
	}
	return host, nil
}

// streamLayer is what the runner and the plugin host feed and read: the manager, or in cluster
// mode the Node (upstream.Streams and plugins.Streams are subsets of the gateway's Streams).
type streamLayer interface {
	upstream.Streams
	plugins.Streams
}

// streamsOf is the stream layer: the Node in cluster mode, the manager otherwise.
func streamsOf(m *manager.Manager, cl *clusterParts) streamLayer {
	if cl != nil {
		return cl.node
	}
	return m
}

// deciders returns the error handlers of the plugin host, or none without one.
func deciders(host *plugins.Host) upstream.Decider {
	if host == nil {
		return nil
	}
	return host.Deciders()
}

func managerConfig(c configs.Manager, log *slog.Logger) manager.Config {
	mode := manager.LogAndContinue
	switch c.OnClientSendError {
	case "deregister":
		mode = manager.DeregisterClient
	case "throw":
		mode = manager.Throw
	}
	quotas := make(map[string]manager.Quota, len(c.TenantLimits.Tenants))
	for tenant, q := range c.TenantLimits.Tenants {
		quotas[tenant] = managerQuota(q)
	}
	return manager.Config{
		MaxConcurrentStreams: c.MaxStreams,
		MaxClientsPerStream:  c.MaxClientsPerStream,
		OnClientSendError:    mode,
		InactivityTimeout:    c.InactivityTimeout, // configs.Off is manager.NoTimeout
		HistorySize:          c.HistorySize,
		HistoryBytes:         c.HistoryBytes,
		MaxBytes:             c.MaxBytes,
		RetainClosed:         c.RetainClosed,
		MaxRetained:          c.MaxRetained,
		DefaultQuota:         managerQuota(c.TenantLimits.Default),
		Quotas:               quotas,
		Logger:               log,
	}
}

func managerQuota(q configs.Quota) manager.Quota {
	return manager.Quota{MaxStreams: q.MaxStreams, MaxBytes: q.MaxBytes}
}

// retryConfig maps the file's retry settings onto the runner's; both read a zero Jitter and
// MaxElapsed as "none".
func retryConfig(r configs.Retry) upstream.RetryConfig {
	return upstream.RetryConfig{
		MaxAttempts:     r.MaxAttempts,
		InitialInterval: r.InitialInterval,
		MaxInterval:     r.MaxInterval,
		Multiplier:      r.Multiplier,
		Jitter:          r.Jitter,
		MaxElapsed:      r.MaxElapsed,
	}
}

// newProvider builds the configured upstream provider with the gateway's own credential.
func newProvider(ctx context.Context, u configs.Upstream, log *slog.Logger) (upstream.Provider, error) {
	switch kind := u.EffectiveKind(); kind {
	case configs.KindSimulator:
		return upstream.NewSimulator(upstream.SimulatorConfig{
			Chunks:   u.Simulator.Chunks,
			Interval: u.Simulator.Interval,
			Text:     u.Simulator.Text,
		})
	case configs.KindGemini:
		cred, err := auth.NewAPIKey(string(u.APIKey))
		if err != nil {
			return nil, fmt.Errorf("api_key: %w", err)
		}
		return upstream.NewGemini(upstream.GeminiConfig{BaseURL: u.EffectiveBaseURL(), Credential: cred})
	case configs.KindVertex:
		cred, err := auth.NewGoogleOAuth(ctx, auth.GoogleOAuthConfig{CredentialsFile: u.Vertex.CredentialsFile, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("vertex.credentials_file: %w", err)
		}
		return upstream.NewVertex(upstream.VertexConfig{
			Project:    u.Vertex.Project,
			Location:   u.Vertex.Location,
			BaseURL:    u.BaseURL,
			Credential: cred,
		})
	case configs.KindSSE:
		headers := make(map[string]string, len(u.SSE.Headers))
		for k, v := range u.SSE.Headers {
			headers[k] = string(v)
		}
		return upstream.NewSSE(upstream.SSEConfig{URL: u.BaseURL, Method: u.SSE.Method, Headers: headers, ContentTypes: u.SSE.ContentTypes})
	case configs.KindOpenAI:
		cfg := upstream.OpenAIConfig{BaseURL: u.BaseURL}
		if u.OpenAI.APIKey != "" {
			cred, err := auth.NewAPIKey(string(u.OpenAI.APIKey))
			if err != nil {
				return nil, fmt.Errorf("openai.api_key: %w", err)
			}
			cfg.Credential = cred
		}
		return upstream.NewOpenAI(cfg)
	default:
		return nil, fmt.Errorf("kind %q is not supported", kind)
	}
}

// newLogger returns the slog logger the configuration asks for, writing to w.
func newLogger(c configs.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	// The level was validated: one of debug, info, warn, error.
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
