package gateway

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// HeaderRequestID carries a request's ID: taken from the caller when it is usable, generated
// otherwise, and echoed on every response.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a caller's request ID.
const maxRequestIDLen = 128

// request is what the gateway keeps of one HTTP request while serving it. It lives in the
// request's context; only the request's own goroutine touches it.
type request struct {
	log *slog.Logger // the server's logger with request_id
}

// requestKey is the context key of the *request.
type requestKey struct{}

// observe is the outermost middleware: it gives the request its ID, echoes it before anything
// else can answer, and puts the request-scoped logger (and, through Config.WithRequestID, the ID
// for the upstream) into the request's context.
func (s *Server) observe(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Writer.Header().Set(HeaderRequestID, id)
	r := &request{log: s.log.With("request_id", id)}
	ctx := context.WithValue(c.Request.Context(), requestKey{}, r)
	if s.cfg.WithRequestID != nil {
		ctx = s.cfg.WithRequestID(ctx, id)
	}
	c.Request = c.Request.WithContext(ctx)
	c.Next()
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
