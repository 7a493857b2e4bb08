package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of the Config fields left zero.
const (
	DefaultMaxConns          = 64
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultShutdownGrace     = 5 * time.Second
)

// ErrInvalidConfig is wrapped by New's errors.
var ErrInvalidConfig = errors.New("invalid admin config")

// Config configures New. Zero durations and MaxConns take the defaults above.
type Config struct {
	// Metrics serves /metrics: telemetry.Metrics.Handler. Required.
	Metrics http.Handler
	// Ready reports readiness for /readyz: nil is ready; an error answers 503 with its message.
	// Nil means always ready.
	Ready func() error
	// Pprof serves net/http/pprof under /debug/pprof/ (admin.pprof); off, those paths answer 404.
	Pprof bool
	// MaxConns bounds the connections open at once; more wait to be accepted.
	MaxConns int

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds writing a response; pprof's profile and trace get their ?seconds more.
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// ShutdownGrace is how long Serve waits for requests in flight after its context ends
	// before it closes their connections.
	ShutdownGrace time.Duration

	// Logger receives the http.Server's own errors (at debug); nil discards them.
	Logger *slog.Logger
}

// Server is the admin HTTP server.
type Server struct {
	cfg   Config
	pprof *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New validates cfg, fills in its defaults and returns the server.
func New(cfg Config) (*Server, error) {
	if cfg.Metrics == nil {
		return nil, fmt.Errorf("admin: Metrics is required: %w", ErrInvalidConfig)
	}
	if cfg.MaxConns < 0 || cfg.ReadHeaderTimeout < 0 || cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 ||
		cfg.IdleTimeout < 0 || cfg.ShutdownGrace < 0 {
		return nil, fmt.Errorf("admin: MaxConns and the timeouts must not be negative: %w", ErrInvalidConfig)
	}
	cfg.MaxConns = orDefault(cfg.MaxConns, DefaultMaxConns)
	cfg.ReadHeaderTimeout = orDefault(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	cfg.ReadTimeout = orDefault(cfg.ReadTimeout, DefaultReadTimeout)
	cfg.WriteTimeout = orDefault(cfg.WriteTimeout, DefaultWriteTimeout)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.ShutdownGrace = orDefault(cfg.ShutdownGrace, DefaultShutdownGrace)
	if cfg.Ready == nil {
		cfg.Ready = func() error { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg}
	if cfg.Pprof {
		// The handlers are registered on a mux of our own; net/http/pprof's init also registers
		// them on http.DefaultServeMux, which streamgate never serves.
		s.pprof = http.NewServeMux()
		s.pprof.HandleFunc("/debug/pprof/", pprof.Index)
		s.pprof.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.pprof.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.pprof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.pprof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Serve answers on ln, at most MaxConns connections at once, until ctx ends; then it stops
// accepting, waits up to ShutdownGrace for the requests in flight, and closes the rest. It
// closes ln. The result is nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		// net/http/pprof extends the write deadline of /profile and /trace by their ?seconds.
		WriteTimeout: s.cfg.WriteTimeout,
		IdleTimeout:  s.cfg.IdleTimeout,
		ErrorLog:     slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(netutil.LimitListener(ln, s.cfg.MaxConns)) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("admin: serve: %w", err)
	}
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownGrace)
	defer cancel()
	var err error
	if serr := srv.Shutdown(grace); serr != nil {
		err = errors.Join(fmt.Errorf("admin: shutdown: %w", serr), srv.Close())
	}
	if e := <-served; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("admin: serve: %w", e))
	}
	return err
}

// ServeHTTP routes an admin request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/debug/pprof" || strings.HasPrefix(path, "/debug/pprof/") {
		if s.pprof == nil {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "pprof is disabled (admin.pprof: false)")
			return
		}
		s.pprof.ServeHTTP(w, r)
		return
	}
	var h http.Handler
	switch path {
	case "/metrics":
		h = s.cfg.Metrics
	case "/healthz":
		h = http.HandlerFunc(healthz)
	case "/readyz":
		h = http.HandlerFunc(s.readyz)
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no route for %s %s", r.Method, path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusNotImplemented, "UNIMPLEMENTED", fmt.Sprintf("method %s is not allowed on %s (allowed: GET, HEAD)", r.Method, path))
		return
	}
	h.ServeHTTP(w, r)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, `{"status":"ok"}`)
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := s.cfg.Ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, `{"status":"ready"}`)
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	// A failed write means the client left.
	_, _ = io.WriteString(w, body+"\n")
}

// writeError answers Gemini's error body, as the gateway does.
func writeError(w http.ResponseWriter, code int, status, msg string) {
	type body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	}
	b, _ := json.Marshal(map[string]body{"error": {code, msg, status}}) // cannot fail: strings and an int
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, code, string(b))
}
