package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/streamgate/streamgate/auth"
)

// HeaderRequestID carries a request's ID: taken from the caller when it is usable, generated
// otherwise, and echoed on every response.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a caller's request ID.
const maxRequestIDLen = 128

// request is what the gateway keeps of one HTTP request while serving it, in the request's
// context. log and span are set before the handler runs; who and streamID are written and read
// by the request's own goroutine only. Work that outlives the request may use log.
type request struct {
	log      *slog.Logger  // the server's logger with request_id: &logger
	span     trace.Span    // the server span
	who      auth.Identity // the caller, once authenticate identified it
	streamID string        // the stream the request is about, once known
	id       string        // the request ID
	bypassed int           // body bytes written past gin's writer (sseWriter.bypass)

	logger  slog.Logger
	handler lazyHandler
}

// newRequest is the request with ID id, logging through base. It is one allocation: the logger
// and its handler are fields of it.
func newRequest(base slog.Handler, id string, span trace.Span) *request {
	r := &request{span: span, id: id}
	r.handler.base, r.handler.id = base, id
	r.logger = *slog.New(&r.handler)
	r.log = &r.logger
	return r
}

// lazyHandler is a request logger's handler: base with the request_id attribute, made when the
// request logs its first enabled line or its logger is extended, not for every request. The
// access line, which every request writes, goes through the server's logger with request_id
// as its first attribute, which the handlers write as they write a logger's own attributes
// (before the line's), so that most requests never make it.
type lazyHandler struct {
	base slog.Handler
	id   string
	once sync.Once
	with slog.Handler
}

var _ slog.Handler = (*lazyHandler)(nil)

// handler is base with request_id. Handlers are safe for concurrent use, and so is this: a
// runner may log for the request while its handler does.
func (l *lazyHandler) handler() slog.Handler {
	l.once.Do(func() { l.with = l.base.WithAttrs([]slog.Attr{slog.String("request_id", l.id)}) })
	return l.with
}

func (l *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.base.Enabled(ctx, level)
}

func (l *lazyHandler) Handle(ctx context.Context, rec slog.Record) error {
	return l.handler().Handle(ctx, rec)
}

func (l *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return l.handler().WithAttrs(attrs) }

func (l *lazyHandler) WithGroup(name string) slog.Handler { return l.handler().WithGroup(name) }

// requestKey is the context key of the *request.
type requestKey struct{}

// routeUnmatched is the route of a request no route matched: the 404s and 405s of no route, and
// CORS preflights, which no route declares.
const routeUnmatched = "unmatched"

// observe is the outermost middleware: it gives the request its ID, echoes it before anything
// else can answer, starts the request's server span, and puts the span, the request-scoped logger
// and (through Config.WithRequestID) the ID for the upstream into the request's context. When the
// handler has returned, for a stream when its response ended, finish records the request.
func (s *Server) observe(c *gin.Context) {
	r, start := s.begin(c)
	// Deferred, so that a request whose handler panics with http.ErrAbortHandler is logged too.
	defer s.finish(c, r, start)
	c.Next()
}

// begin is observe up to calling the next handler. It is apart, and not inlined, so that its
// frame is not on a stream's handler stack while the stream is served (Performance).
//
//go:noinline
func (s *Server) begin(c *gin.Context) (*request, time.Time) {
	start := time.Now()
	id := c.GetHeader(HeaderRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Writer.Header().Set(HeaderRequestID, id)
	ctx, span := s.startSpan(c, route(c))
	r := newRequest(s.log.Handler(), id, span)
	ctx = context.WithValue(ctx, requestKey{}, r)
	if s.cfg.WithRequestID != nil {
		ctx = s.cfg.WithRequestID(ctx, id)
	}
	c.Request = c.Request.WithContext(ctx)
	return r, start
}

// finish records a request that was answered: it ends its span, counts it in Metrics and writes
// its access log line. They hold the route template, never the raw path or the query (where ?key=
// and other credentials travel).
func (s *Server) finish(c *gin.Context, r *request, start time.Time) {
	d := time.Since(start)
	route, status := route(c), c.Writer.Status()
	endSpan(r.span, status, r.streamID)
	s.cfg.Metrics.HTTPRequest(route, status, d)
	ctx := c.Request.Context()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	who := r.who
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("request_id", r.id),
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d)/float64(time.Millisecond)),
		slog.Int("bytes", max(c.Writer.Size(), 0)+r.bypassed),
		slog.String("key_id", who.KeyID),
		slog.String("tenant", who.Tenant),
	)
	if r.streamID != "" {
		attrs = append(attrs, slog.String("stream_id", r.streamID))
	}
	attrs = append(attrs, slog.String("remote_addr", c.Request.RemoteAddr))
	s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// route is the template of the route that served c, a bounded set of values for logs, metrics
// and span names.
func route(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return routeUnmatched
}

// noteStream records the stream ctx's request is about, for its access log line and its span.
func noteStream(ctx context.Context, streamID string) {
	if r := requestFrom(ctx); r != nil {
		r.streamID = streamID
	}
}

// validRequestID reports whether a caller's request ID is 1 to 128 bytes of printable ASCII,
// which is what may go into log lines and upstream headers as it came.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := range len(id) {
		if c := id[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// requestFrom returns the request ctx belongs to, or nil outside of one.
func requestFrom(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// logFor returns the logger for work done on behalf of ctx's request: the server's logger with
// the request's request_id, or the server's own outside of a request.
func (s *Server) logFor(ctx context.Context) *slog.Logger {
	if r := requestFrom(ctx); r != nil {
		return r.log
	}
	return s.log
}
