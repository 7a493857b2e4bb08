package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// streamJSON is a stream as GET /v1/streams/{id} describes it.
type streamJSON struct {
	ID          string               `json:"id"`
	Status      manager.Status       `json:"status"`
	Model       string               `json:"model"`
	CreatedAt   time.Time            `json:"created_at"`
	ClosedAt    *time.Time           `json:"closed_at"`
	Clients     int                  `json:"clients"`
	LastEventID uint64               `json:"last_event_id"`
	CloseReason string               `json:"close_reason"`
	Error       *manager.StreamError `json:"error"`
}

func toStreamJSON(info manager.StreamInfo) streamJSON {
	out := streamJSON{
		ID:          info.ID,
		Status:      info.Status,
		Model:       info.Labels[LabelModel],
		CreatedAt:   info.CreatedAt.UTC(),
		Clients:     info.Clients,
		LastEventID: info.LastChunkID,
		CloseReason: info.CloseReason,
		Error:       info.Err,
	}
	if !info.ClosedAt.IsZero() {
		t := info.ClosedAt.UTC()
		out.ClosedAt = &t
	}
	return out
}

// createdJSON answers POST /v1/streams.
type createdJSON struct {
	ID        string         `json:"id"`
	Status    manager.Status `json:"status"`
	Model     string         `json:"model"`
	CreatedAt time.Time      `json:"created_at"`
	EventsURL string         `json:"events_url"`
}

// createRequest is the body of POST /v1/streams.
type createRequest struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Request json.RawMessage `json:"request"`
}

// createStream serves POST /v1/streams: with model and request it starts a background generation
// that runs to the end whoever listens; without them it creates a push stream.
func (s *Server) createStream(c *gin.Context) {
	var req createRequest
	if !s.readJSON(c, &req) {
		return
	}
	if bytes.Equal(bytes.TrimSpace(req.Request), []byte("null")) {
		req.Request = nil
	}
	kind := KindPush
	switch {
	case req.Model != "" && req.Request != nil:
		kind = KindGenerate
		if err := upstream.ValidateModel(req.Model); err != nil {
			writeError(c, modelError(err))
			return
		}
		if !isJSONObject(req.Request) {
			writeError(c, newError(http.StatusBadRequest, "request must be a GenerateContentRequest JSON object"))
			return
		}
	case req.Model != "" || req.Request != nil:
		writeError(c, newError(http.StatusBadRequest, "model and request go together: give both for a generation, neither for a push stream"))
		return
	}
	ctx := c.Request.Context()
	id, err := s.newStream(ctx, req.ID, streamLabels(identity(c), req.Model, kind, SourceAPI))
	if err != nil {
		writeError(c, managerError(err))
		return
	}
	if kind == KindGenerate {
		s.startGeneration(ctx, id, upstream.Request{Model: req.Model, Body: req.Request})
	}
	info, err := s.cfg.Manager.Info(ctx, id)
	if err != nil {
		writeError(c, managerError(err))
		return
	}
	c.Header("Location", streamPath(id))
	c.Header("X-Stream-Id", id)
	writeJSON(c, http.StatusCreated, createdJSON{
		ID:        id,
		Status:    info.Status,
		Model:     req.Model,
		CreatedAt: info.CreatedAt.UTC(),
		EventsURL: streamPath(id) + "/events",
	})
}

// streamPath is the API path of a stream.
func streamPath(id string) string { return "/v1/streams/" + url.PathEscape(id) }

// lookup returns the stream named by the :id parameter, answering 400 for an invalid ID and 404
// for an unknown one or one of another tenant (the two are indistinguishable).
func (s *Server) lookup(c *gin.Context) (manager.StreamInfo, bool) {
	id := c.Param("id")
	if err := manager.ValidateID(id); err != nil {
		writeError(c, newError(http.StatusBadRequest, err.Error()))
		return manager.StreamInfo{}, false
	}
	info, err := s.cfg.Manager.Info(c.Request.Context(), id)
	if err == nil && !visibleTo(info, identity(c).Tenant) {
		err = manager.ErrNotFound
	}
	if err != nil {
		e := managerError(err)
		if e.se.Code == http.StatusNotFound {
			e = newError(http.StatusNotFound, "stream "+strconv.Quote(id)+" not found")
		}
		writeError(c, e)
		return manager.StreamInfo{}, false
	}
	return info, true
}

// streamInfo serves GET /v1/streams/{id}.
func (s *Server) streamInfo(c *gin.Context) {
	if info, ok := s.lookup(c); ok {
		writeJSON(c, http.StatusOK, toStreamJSON(info))
	}
}

// listStreams serves GET /v1/streams: the caller's active streams, and with ?all=true the
// retained closed ones too, oldest first.
func (s *Server) listStreams(c *gin.Context) {
	all := false
	if v, ok := c.GetQuery("all"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(c, newError(http.StatusBadRequest, "all must be true or false, got "+strconv.Quote(v)))
			return
		}
		all = b
	}
	infos, err := s.cfg.Manager.List(c.Request.Context())
	if err != nil {
		writeError(c, managerError(err))
		return
	}
	tenant := identity(c).Tenant
	out := make([]streamJSON, 0, len(infos))
	for _, info := range infos {
		if visibleTo(info, tenant) && (all || info.Status == manager.StatusActive) {
			out = append(out, toStreamJSON(info))
		}
	}
	writeJSON(c, http.StatusOK, map[string][]streamJSON{"streams": out})
}

// deleteStream serves DELETE /v1/streams/{id}: it stops the stream (its upstream is cancelled and
// its subscribers receive the end) and answers its final info. Stopping a closed stream changes
// nothing.
func (s *Server) deleteStream(c *gin.Context) {
	info, ok := s.lookup(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if err := s.cfg.Manager.CloseStream(ctx, info.ID, ReasonDeleted); err != nil {
		writeError(c, managerError(err))
		return
	}
	info, err := s.cfg.Manager.Info(ctx, info.ID)
	if err != nil {
		writeError(c, managerError(err))
		return
	}
	writeJSON(c, http.StatusOK, toStreamJSON(info))
}

// pushRequest is the body of POST /v1/streams/{id}/chunks.
type pushRequest struct {
	Data  json.RawMessage `json:"data"`
	Event string          `json:"event"`
}

// pushChunk serves POST /v1/streams/{id}/chunks on push streams.
func (s *Server) pushChunk(c *gin.Context) {
	info, ok := s.lookup(c)
	if !ok {
		return
	}
	var req pushRequest
	if !s.readJSON(c, &req) {
		return
	}
	if req.Data == nil {
		writeError(c, newError(http.StatusBadRequest, "data is required: any JSON value"))
		return
	}
	if err := validateEventName(req.Event); err != nil {
		writeError(c, newError(http.StatusBadRequest, err.Error()))
		return
	}
	if info.Labels[LabelKind] != KindPush {
		writeError(c, newErrorStatus(http.StatusConflict, "FAILED_PRECONDITION",
			"stream "+strconv.Quote(info.ID)+" is fed by an upstream generation; chunks can be pushed to push streams only"))
		return
	}
	var data bytes.Buffer
	if err := json.Compact(&data, req.Data); err != nil {
		writeError(c, newError(http.StatusBadRequest, jsonMessage(err)))
		return
	}
	ch := manager.Chunk{Event: req.Event, Data: data.Bytes(), Time: time.Now()}
	id, err := s.cfg.Manager.Push(c.Request.Context(), info.ID, ch)
	if err != nil {
		writeError(c, managerError(err))
		return
	}
	writeJSON(c, http.StatusAccepted, pushedJSON{ID: id})
}

// pushedJSON answers a push with the ID the chunk was given: its `id:` on the events route.
type pushedJSON struct {
	ID uint64 `json:"id"`
}

// errorRequest is the body of POST /v1/streams/{id}/error.
type errorRequest struct {
	Code      int    `json:"code"`
	Status    string `json:"status"`
	Message   string `json:"message"`
	Terminate bool   `json:"terminate"`
}

// streamError serves POST /v1/streams/{id}/error: it pushes an error chunk and, with terminate,
// ends the stream with it.
func (s *Server) streamError(c *gin.Context) {
	info, ok := s.lookup(c)
	if !ok {
		return
	}
	var req errorRequest
	if !s.readJSON(c, &req) {
		return
	}
	se, e := req.streamError()
	if e != nil {
		writeError(c, e)
		return
	}
	if err := s.cfg.Manager.HandleStreamError(c.Request.Context(), info.ID, se, req.Terminate); err != nil {
		writeError(c, managerError(err))
		return
	}
	writeJSON(c, http.StatusAccepted, struct{}{})
}

// streamError validates the request: code 400-599 (0 means 500), status an upper-case Google RPC
// status name (empty means the one paired with code), and a message.
func (r errorRequest) streamError() (*manager.StreamError, *apiError) {
	se := (&manager.StreamError{Code: r.Code, Status: r.Status, Message: r.Message}).Normalized()
	if se.Code < 400 || se.Code > 599 {
		return nil, newError(http.StatusBadRequest, "code must be an HTTP error status, 400 to 599, got "+strconv.Itoa(r.Code))
	}
	if !isStatusName(se.Status) {
		return nil, newError(http.StatusBadRequest, "status must be 1 to 64 upper-case letters and '_', like UNAVAILABLE")
	}
	if se.Message == "" {
		return nil, newError(http.StatusBadRequest, "message is required")
	}
	return se, nil
}

func isStatusName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	return true
}
