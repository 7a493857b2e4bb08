package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// subscribeRequest is the body of POST /v1/streams/{id}/subscriptions.
type subscribeRequest struct {
	Transport string          `json:"transport"`
	Config    json.RawMessage `json:"config"`
}

// subscribe serves POST /v1/streams/{id}/subscriptions: it re-routes the stream, from its first
// chunk, to a transport plugin and answers 201 {"id"}. The subscription keeps a Gemini-route
// stream wanted after its caller left.
func (s *Server) subscribe(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	var req subscribeRequest
	if err := s.readJSON(c, &req); err != nil {
		return err
	}
	if req.Transport == "" {
		return newError(http.StatusBadRequest, "transport is required: the name of a transport plugin")
	}
	if len(req.Config) > 0 && !isJSONObject(req.Config) && string(req.Config) != "null" {
		return newError(http.StatusBadRequest, "config must be a JSON object")
	}
	id, err := s.cfg.Plugins.Subscribe(c.Request.Context(), info.ID, req.Transport, req.Config)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusCreated, map[string]string{"id": id})
}

// unsubscribe serves DELETE /v1/streams/{id}/subscriptions/{sid}: 204 once the plugin let go.
func (s *Server) unsubscribe(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Plugins.Unsubscribe(c.Request.Context(), info.ID, c.Param("sid")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
