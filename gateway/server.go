package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/streamgate/streamgate/auth"
)

// ErrOpenNotLoopback is returned by Serve when no client keys are configured and the listener is
// not loopback-only: an open gateway must not be reachable from other machines.
var ErrOpenNotLoopback = errors.New("no client keys configured: the gateway runs open only on a loopback address")

// Server is the HTTP gateway. Build it with New, then call Serve (or mount Handler and call
// Shutdown at the end).
type Server struct {
	cfg        Config
	log        *slog.Logger
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	noTracing  bool // the tracer is the no-op one: startSpan names and attributes no span
	local      bool // Config.Streams is the manager itself, whose calls never wait
	handler    http.Handler
	ready      atomic.Bool
	clients    atomic.Uint64 // numbers subscriber client IDs
	feed       feed          // the lifecycle feed (watch.go)
	frames     frameCaches   // events-route frames shared by a stream's subscribers (frames.go)

	storeMu  sync.Mutex
	storeErr string // the stream layer's last readiness error, "" when ready (noteStoreReadiness)

	// Background work the server owns: upstream runners and orphan timers.
	bgMu     sync.Mutex
	stopping bool
	stop     chan struct{} // closed when the server stops
	bg       sync.WaitGroup
}

// New validates cfg and returns a Server. It puts gin in release mode.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Plugins == nil {
		cfg.Plugins = noPlugins{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if cfg.Propagator == nil {
		cfg.Propagator = propagation.NewCompositeTextMapPropagator()
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		tracer:     cfg.TracerProvider.Tracer(tracerName),
		propagator: cfg.Propagator,
		stop:       make(chan struct{}),
	}
	_, s.noTracing = s.tracer.(noop.Tracer)
	_, s.local = cfg.Streams.(managerStreams)
	gin.SetMode(gin.ReleaseMode)
	s.handler = s.routes()
	s.ready.Store(true)
	if s.Open() {
		s.log.Warn("no client keys configured: the gateway is open to every local client (loopback only)")
	}
	return s, nil
}

// Ready reports what /readyz answers: true from New until a shutdown starts, while the stream
// layer says it is ready (cluster mode: Redis answers and this replica holds its lease).
func (s *Server) Ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return s.readiness(ctx) == nil
}

// readyTimeout bounds the stream layer's readiness check of Ready.
const readyTimeout = time.Second

// readiness is nil while the gateway serves, or the 503 /readyz answers.
func (s *Server) readiness(ctx context.Context) error {
	if !s.ready.Load() {
		return newError(http.StatusServiceUnavailable, "the gateway is shutting down")
	}
	if r, ok := s.cfg.Streams.(readier); ok {
		err := r.Ready(ctx)
		s.noteStoreReadiness(err)
		if err != nil {
			// The detail (a Redis address, a dial error) is the operator's, in the log: the
			// public listener's /readyz answers anyone.
			return newError(http.StatusServiceUnavailable, "the stream store is not ready")
		}
	}
	return nil
}

// noteStoreReadiness logs the stream layer's readiness when it changes: a warning with the
// error when it turns not ready or its error changes, a line when it is ready again. Probes ask
// every few seconds; a log line each time would drown the rest.
func (s *Server) noteStoreReadiness(err error) {
	var msg string
	if err != nil {
		msg = err.Error()
	}
	s.storeMu.Lock()
	prev := s.storeErr
	s.storeErr = msg
	s.storeMu.Unlock()
	switch {
	case msg == prev:
	case msg == "":
		s.log.Info("the stream store is ready again")
	default:
		s.log.Warn("the stream store is not ready", "error", msg)
	}
}

// Open reports whether the gateway runs without client keys.
func (s *Server) Open() bool { return s.cfg.Keyring.Len() == 0 }

// Handler returns the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully within Config.ShutdownGrace:
// /readyz turns 503, ln stops accepting, every stream is closed with reason "shutting down" (its
// subscribers receive that), background runners finish, and the remaining connections are closed
// once the grace period is over. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Open() && !auth.IsLoopback(ln.Addr().String()) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), ErrOpenNotLoopback)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	limited := limitListener(ln, s.cfg.MaxConnections, s.log)
	srv.ConnState = limited.connState
	served := make(chan error, 1)
	go func() { served <- srv.Serve(limited) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		served <- serveErr
	}
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownGrace)
	defer cancel()
	s.ready.Store(false)
	drained := make(chan error, 1)
	go func() { drained <- srv.Shutdown(grace) }()
	err := s.Shutdown(grace)
	if drainErr := <-drained; drainErr != nil {
		err = errors.Join(err, fmt.Errorf("drain connections: %w", drainErr), srv.Close())
	}
	if e := <-served; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(fmt.Errorf("serve: %w", e), err)
	}
	return err
}

// Shutdown makes /readyz answer 503, closes every stream with reason "shutting down" and waits
// until the subscribers have drained and the server's background work (upstream runners, orphan
// timers) has finished, or ctx ends. A Config.Streams with a Close method (cluster mode's Node)
// is closed first: it ends the streams this replica owns for every replica, and disconnects the
// subscribers of streams owned elsewhere without `event: done` (eventsSink), so that they resume
// on another replica.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	var err error
	if c, ok := s.cfg.Streams.(closer); ok {
		err = c.Close(ctx)
	}
	err = errors.Join(err, s.cfg.Manager.Shutdown(ctx))
	s.bgMu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.stop)
	}
	s.bgMu.Unlock()
	finished := make(chan struct{})
	go func() {
		s.bg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("background work not finished: %w", ctx.Err()))
	}
	return err
}

// goBackground runs f in a goroutine the server owns, or reports false when the server stops.
func (s *Server) goBackground(f func()) bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.stopping {
		return false
	}
	s.bg.Go(f)
	return true
}

// owns reports whether this replica owns a stream; one process owns every stream.
func (s *Server) owns(id string) bool {
	o, ok := s.cfg.Streams.(owner)
	return !ok || o.Owns(id)
}

// newClientID numbers the server's subscribers.
func (s *Server) newClientID() string {
	return "http-" + strconv.FormatUint(s.clients.Add(1), 10)
}
