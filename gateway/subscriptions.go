package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins"
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
	if s.cfg.Plugins == nil {
		writeError(c, unknownTransport(req.Transport))
		return
	}
	id, err := s.cfg.Plugins.Subscribe(c.Request.Context(), info.ID, req.Transport, req.Config)
	if err != nil {
		writeError(c, pluginError(err, req.Transport))
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
	sid := c.Param("sid")
	err := plugins.ErrNotFound
	if s.cfg.Plugins != nil {
		err = s.cfg.Plugins.Unsubscribe(c.Request.Context(), info.ID, sid)
	}
	if errors.Is(err, plugins.ErrNotFound) {
		writeError(c, newError(http.StatusNotFound, "subscription "+strconv.Quote(sid)+" of stream "+strconv.Quote(info.ID)+" not found"))
		return
	}
	if err != nil {
		writeError(c, pluginError(err, ""))
		return
	}
	c.Status(http.StatusNoContent)
}

func unknownTransport(name string) *apiError {
	return newError(http.StatusNotFound, "no transport plugin named "+strconv.Quote(name))
}

// pluginError maps an error of the plugin host to what the client is told.
func pluginError(err error, transport string) *apiError {
	switch {
	case errors.Is(err, plugins.ErrUnknownTransport):
		return unknownTransport(transport)
	case errors.Is(err, plugins.ErrBadConfig):
		return newError(http.StatusBadRequest, err.Error())
	case errors.Is(err, plugins.ErrUnavailable), errors.Is(err, plugins.ErrClosed):
		e := newError(http.StatusServiceUnavailable, err.Error())
		e.se.RetryAfter = time.Second
		return e
	case errors.Is(err, manager.ErrHistoryTrimmed):
		return newErrorStatus(http.StatusGone, "FAILED_PRECONDITION", err.Error())
	}
	return managerError(err)
}
