package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// routes builds the gin engine. Health checks need no key; every other route is authenticated,
// rate limited per key and scoped to the caller's tenant.
func (s *Server) routes() http.Handler {
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ForwardedByClientIP = false
	// Stream IDs may hold any printable ASCII, '/' included when percent-encoded.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.Use(s.observe, s.recover)
	e.Use(handle(s.cors))
	e.NoRoute(handle(noRoute))
	// gin has set the Allow header when it calls this.
	e.NoMethod(handle(noMethod))

	e.GET("/healthz", handle(s.healthz))
	e.GET("/readyz", handle(s.readyz))
	e.GET("/", handle(s.consolePageRoute))
	e.GET("/console/:file", handle(s.consoleFile))

	api := e.Group("/", handle(s.authenticate))
	for _, v := range apiVersions {
		if v != "v1" {
			api.GET("/"+v+"/models", handle(s.listModels))
		}
		api.GET("/"+v+"/models/:modelAction", handle(s.getModel))
		api.POST("/"+v+"/models/:modelAction", handle(s.modelAction))
	}
	// GET /v1/models is Gemini's and OpenAI's: v1Models authenticates and answers as the caller's API.
	e.GET("/v1/models", s.v1Models)
	for _, p := range openAIPrefixes {
		e.POST(p+"/chat/completions", handleOpenAI(s.authenticate), handleOpenAI(s.chatCompletions))
		e.POST(p+"/embeddings", handleOpenAI(s.authenticate), handleOpenAI(s.embeddings))
		if p != "/v1" {
			e.GET(p+"/models", handleOpenAI(s.authenticate), handleOpenAI(s.openAIModels))
		}
	}
	api.POST("/v1/streams", handle(s.createStream))
	api.GET("/v1/streams", handle(s.listStreams))
	api.GET("/v1/status", handle(s.status))
	api.GET("/v1/streams/:id", handle(s.streamInfo))
	api.DELETE("/v1/streams/:id", handle(s.deleteStream))
	api.POST("/v1/streams/:id/chunks", handle(s.pushChunk))
	api.POST("/v1/streams/:id/error", handle(s.streamError))
	api.GET("/v1/streams/:id/events", handle(s.events))
	api.POST("/v1/streams/:id/tokens", handle(s.mintToken))
	api.POST("/v1/streams/:id/subscriptions", handle(s.subscribe))
	api.DELETE("/v1/streams/:id/subscriptions/:sid", handle(s.unsubscribe))
	return e
}

func noRoute(c *gin.Context) error {
	return newError(http.StatusNotFound, fmt.Sprintf("no route for %s %s", c.Request.Method, c.Request.URL.Path))
}

// noMethod answers a method a route does not have as Google's HTTP transcoding does (grpc-gateway
// pairs a method not allowed with UNIMPLEMENTED): 501 UNIMPLEMENTED, keeping the Allow header
// gin set, so that the pair is canonical and the caller still learns what to send.
func noMethod(c *gin.Context) error {
	return methodNotAllowed(c, c.Writer.Header().Get("Allow"))
}

// methodNotAllowed is noMethod's answer for a route that allows the methods in allow.
func methodNotAllowed(c *gin.Context, allow string) error {
	c.Header("Allow", allow)
	return newError(http.StatusNotImplemented, fmt.Sprintf("method %s is not allowed on %s (allowed: %s)",
		c.Request.Method, c.Request.URL.Path, allow))
}

func (s *Server) healthz(c *gin.Context) error {
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) error {
	if err := s.readiness(c.Request.Context()); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ready"})
}

// recover turns a handler panic into a 500 (when nothing was sent yet) and a log line, so one
// bad request never takes the process down.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.logFor(c.Request.Context()).Error("handler panic", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", v)
		if !c.Writer.Written() {
			writeError(c, newError(http.StatusInternalServerError, "internal error"))
		}
	}()
	c.Next()
}

// writeJSON answers v as JSON. It returns an error only when v cannot be encoded, before
// anything was written.
func writeJSON(c *gin.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	c.Writer.WriteHeader(status)
	// A failed write means the client left.
	_, _ = c.Writer.Write(append(b, '\n'))
	return nil
}
