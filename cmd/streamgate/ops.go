package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/streamgate/streamgate/admin"
	"github.com/streamgate/streamgate/configs"
	"github.com/streamgate/streamgate/telemetry"
)

// tracingShutdownTimeout bounds flushing the last spans at exit.
const tracingShutdownTimeout = 5 * time.Second

// ops are the operator's parts: the metrics, the tracer provider, and the admin listener's
// readiness flag.
type ops struct {
	build   telemetry.BuildInfo
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
	ready   atomic.Bool // the gateway's listener accepts and the process is not stopping
}

// newOps builds the metrics and the tracing from the configuration; problems with the
// configuration or the OTEL_ variables are configErrors.
func newOps(ctx context.Context, cfg *configs.Config, lookupEnv func(string) (string, bool), log *slog.Logger) (*ops, error) {
	o := &ops{build: telemetry.ReadBuildInfo()}
	var err error
	o.metrics, err = telemetry.NewMetrics(telemetry.MetricsConfig{
		Models:    cfg.Telemetry.Models,
		MaxModels: cfg.Telemetry.MaxModels,
		Build:     o.build,
	})
	if err != nil {
		return nil, configError{fmt.Errorf("telemetry: %w", err)}
	}
	o.tracing, err = telemetry.NewTracing(ctx, telemetry.TracingConfig{
		Endpoint:       cfg.Telemetry.OTLPEndpoint,
		Protocol:       cfg.Telemetry.OTLPProtocol,
		ServiceName:    cfg.Telemetry.ServiceName,
		ServiceVersion: o.build.Version,
		LookupEnv:      lookupEnv,
	})
	if errors.Is(err, telemetry.ErrInvalidConfig) {
		return nil, configError{err}
	}
	if err != nil {
		return nil, err
	}
	if o.tracing.Enabled() {
		// The exporter reports failed exports through otel's global error handler, which would
		// otherwise print unstructured lines to stderr.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("opentelemetry", "err", err)
		}))
		log.Info("tracing on", "endpoint", o.tracing.Endpoint(), "protocol", o.tracing.Protocol())
	}
	return o, nil
}

// close flushes the spans still buffered.
func (o *ops) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	return o.tracing.Shutdown(ctx)
}

// listenAdmin opens the admin listener, or returns nil when admin.listen is empty.
func listenAdmin(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin.listen: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serveAdmin serves the admin listener in a goroutine it owns until the returned stop is
// called; stop waits for it and returns its error. With no listener, stop does nothing. Its
// /readyz reports ready while o.ready is set and gatewayReady (the main listener's /readyz) says
// so.
func (o *ops) serveAdmin(ln net.Listener, pprof bool, gatewayReady func() bool, log *slog.Logger) (stop func() error, err error) {
	if ln == nil {
		return func() error { return nil }, nil
	}
	srv, err := admin.New(admin.Config{
		Metrics: o.metrics.Handler(),
		Ready:   func() error { return o.readiness(gatewayReady) },
		Pprof:   pprof,
		Logger:  log,
	})
	if err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

func (o *ops) readiness(gatewayReady func() bool) error {
	if !o.ready.Load() || !gatewayReady() {
		return errors.New("the gateway is not serving")
	}
	return nil
}

// adminURL is the ready line's name for the admin listener.
func adminURL(ln net.Listener) string {
	if ln == nil {
		return "admin off"
	}
	return "admin on http://" + ln.Addr().String()
}
