package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
)

// subscribeRequest is the body of POST /v1/streams/{id}/subscriptions.
type subscribeRequest struct {
	Transport string          `json:"transport"`
	Config    json.RawMessage `json:"config"`
}

// subscribe serves POST /v1/streams/{id}/subscriptions: it re-routes the stream, from its first
// chunk, to a transport plugin and answers 201 {"id"}. The subscription keeps a Gemini-route
// stream wanted after its caller left.
func (s *Server) subscribe(c *gin.Context) {
	info, ok := s.lookup(c)
	if !ok {
		return
	}
	var req subscribeRequest
	if !s.readJSON(c, &req) {
		return
	}
	if req.Transport == "" {
		writeError(c, newError(http.StatusBadRequest, "transport is required: the name of a transport plugin"))
		return
	}
	if len(req.Config) > 0 && !isJSONObject(req.Config) && string(req.Config) != "null" {
		writeError(c, newError(http.StatusBadRequest, "config must be a JSON object"))
		return
	}
	id, err := s.cfg.Plugins.Subscribe(c.Request.Context(), info.ID, req.Transport, req.Config)
	if err != nil {
		writeError(c, pluginError(err))
		return
	}
	writeJSON(c, http.StatusCreated, map[string]string{"id": id})
}

// unsubscribe serves DELETE /v1/streams/{id}/subscriptions/{sid}: 204 once the plugin let go.
func (s *Server) unsubscribe(c *gin.Context) {
	info, ok := s.lookup(c)
	if !ok {
		return
	}
	if err := s.cfg.Plugins.Unsubscribe(c.Request.Context(), info.ID, c.Param("sid")); err != nil {
		writeError(c, pluginError(err))
		return
	}
	c.Status(http.StatusNoContent)
}

// pluginError maps an error of the plugin host to what the client is told: the stream error it
// carries, or the manager's mapping.
func pluginError(err error) *apiError {
	var se *manager.StreamError
	if errors.As(err, &se) {
		return &apiError{se: *se}
	}
	return managerError(err)
}
