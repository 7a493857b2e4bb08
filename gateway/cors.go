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
// response); its preflight is refused with 403. It returns before the route's handler runs, which
// gin's own loop then calls (a preflight answered, or refused, aborts the chain), so that no frame
// of it is on a stream's handler stack while the stream is served (Performance).
func (s *Server) cors(c *gin.Context) error {
	origin := c.GetHeader("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return nil
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	allowed := slices.Contains(s.cfg.CORSOrigins, origin) || s.cfg.CORSOrigins[0] == "*"
	preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
	if !allowed {
		if preflight {
			return newError(http.StatusForbidden, "origin "+origin+" is not allowed")
		}
		return nil
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		c.AbortWithStatus(http.StatusNoContent)
		return nil
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	return nil
}
