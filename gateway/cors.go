package gateway

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// CORS headers. Browsers may send the key headers, JSON and Last-Event-ID (EventSource resuming),
// and read X-Stream-Id.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "x-goog-api-key, authorization, content-type, last-event-id, x-goog-api-client"
	corsExposeHeaders = "X-Stream-Id, Retry-After"
	corsMaxAge        = "600"
)

// cors answers preflight requests and marks responses readable by the configured origins. A
// request from another origin is served without CORS headers (the browser then hides the
// response); its preflight is refused with 403.
func (s *Server) cors(c *gin.Context) error {
	next, err := s.corsHeaders(c)
	if next {
		c.Next()
	}
	return err
}

// corsHeaders sets the CORS headers of a request, or answers its preflight, and reports whether
// the next handler serves it. It is apart from cors, and not inlined, so that its frame is not on
// a stream's handler stack while the stream is served (Performance).
//
//go:noinline
func (s *Server) corsHeaders(c *gin.Context) (next bool, err error) {
	origin := c.GetHeader("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return true, nil
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	allowed := slices.Contains(s.cfg.CORSOrigins, origin) || s.cfg.CORSOrigins[0] == "*"
	preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
	if !allowed {
		if preflight {
			return false, newError(http.StatusForbidden, "origin "+origin+" is not allowed")
		}
		return true, nil
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		c.AbortWithStatus(http.StatusNoContent)
		return false, nil
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	return true, nil
}
