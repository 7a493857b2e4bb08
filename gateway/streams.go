package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
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
	// Subscriptions lists the stream's transport subscriptions (stream info only, not the list).
	Subscriptions []Subscription `json:"subscriptions,omitempty"`
}

func toStreamJSON(info manager.StreamInfo) streamJSON {
	out := streamJSON{
		ID:          info.ID,
		Status:      info.Status,
		Model:       info.Labels[manager.LabelModel],
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
func (s *Server) createStream(c *gin.Context) error {
	var req createRequest
	if err := s.readJSON(c, &req); err != nil {
		return err
	}
	kind, err := req.kind()
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	id, err := s.newStream(ctx, req.ID, streamLabels(identity(c), req.Model, kind, SourceAPI))
	if err != nil {
		return err
	}
	if kind == KindGenerate {
		s.startGeneration(ctx, id, upstream.Request{Model: req.Model, Body: req.Request})
	}
	info, err := s.cfg.Streams.Info(ctx, id)
	if err != nil {
		return err
	}
	c.Header("Location", streamPath(id))
	c.Header("X-Stream-Id", id)
	return writeJSON(c, http.StatusCreated, createdJSON{
		ID:        id,
		Status:    info.Status,
		Model:     req.Model,
		CreatedAt: info.CreatedAt.UTC(),
		EventsURL: streamPath(id) + "/events",
	})
}

// kind validates the request and says which stream it creates: a generation with model and
// request (a JSON null request counts as none), a push stream with neither.
func (r *createRequest) kind() (string, error) {
	if bytes.Equal(bytes.TrimSpace(r.Request), []byte("null")) {
		r.Request = nil
	}
	switch {
	case r.Model != "" && r.Request != nil:
		if err := upstream.ValidateModel(r.Model); err != nil {
			return "", invalidModel(err)
		}
		if !isJSONObject(r.Request) {
			return "", newError(http.StatusBadRequest, "request must be a GenerateContentRequest JSON object")
		}
		return KindGenerate, nil
	case r.Model != "" || r.Request != nil:
		return "", newError(http.StatusBadRequest, "model and request go together: give both for a generation, neither for a push stream")
	}
	return KindPush, nil
}

// streamPath is the API path of a stream.
func streamPath(id string) string { return "/v1/streams/" + url.PathEscape(id) }

// lookup returns the stream named by the :id parameter, answering 400 for an invalid ID and 404
// for an unknown one or one of another tenant (the two are indistinguishable).
func (s *Server) lookup(c *gin.Context) (manager.StreamInfo, error) {
	id := c.Param("id")
	if err := manager.ValidateID(id); err != nil {
		return manager.StreamInfo{}, err
	}
	ctx := c.Request.Context()
	info, err := s.cfg.Streams.Info(ctx, id)
	if err == nil && !visibleTo(info, identity(c).Tenant) {
		err = manager.ErrNotFound
	}
	if errors.Is(err, manager.ErrNotFound) {
		return manager.StreamInfo{}, reword(err, "stream "+strconv.Quote(id)+" not found")
	}
	if err == nil {
		noteStream(ctx, id)
	}
	return info, err
}

// streamInfo serves GET /v1/streams/{id}.
func (s *Server) streamInfo(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	out := toStreamJSON(info)
	out.Subscriptions = s.cfg.Plugins.Subscriptions(c.Request.Context(), info.ID, info.Instance)
	return writeJSON(c, http.StatusOK, out)
}

// listStreams serves GET /v1/streams: the caller's active streams, and with ?all=true the
// retained closed ones too, oldest first. With ?watch=true it is the lifecycle feed instead
// (watchStreams).
func (s *Server) listStreams(c *gin.Context) error {
	all, err := boolQuery(c, "all")
	if err != nil {
		return err
	}
	watch, err := boolQuery(c, "watch")
	if err != nil {
		return err
	}
	if watch {
		return s.watchStreams(c, all)
	}
	infos, err := s.cfg.Streams.List(c.Request.Context(), identity(c).Tenant)
	if err != nil {
		return err
	}
	out := make([]streamJSON, 0, len(infos))
	for _, info := range infos {
		if all || info.Status == manager.StatusActive {
			out = append(out, toStreamJSON(info))
		}
	}
	return writeJSON(c, http.StatusOK, map[string][]streamJSON{"streams": out})
}

// deleteStream serves DELETE /v1/streams/{id}: it stops the stream (its upstream is cancelled and
// its subscribers receive the end) and answers its final info. Stopping a closed stream changes
// nothing.
func (s *Server) deleteStream(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := s.cfg.Streams.CloseStream(ctx, info.ID, ReasonDeleted); err != nil {
		return err
	}
	if info, err = s.cfg.Streams.Info(ctx, info.ID); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toStreamJSON(info))
}

// pushRequest is the body of POST /v1/streams/{id}/chunks.
type pushRequest struct {
	Data  json.RawMessage `json:"data"`
	Event string          `json:"event"`
}

// pushChunk serves POST /v1/streams/{id}/chunks on push streams.
func (s *Server) pushChunk(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	var req pushRequest
	if err := s.readJSON(c, &req); err != nil {
		return err
	}
	if req.Data == nil {
		return newError(http.StatusBadRequest, "data is required: any JSON value")
	}
	if err := validateEventName(req.Event); err != nil {
		return newError(http.StatusBadRequest, err.Error())
	}
	if info.Labels[manager.LabelKind] != KindPush {
		return newErrorStatus(http.StatusBadRequest, "FAILED_PRECONDITION",
			"stream "+strconv.Quote(info.ID)+" is fed by an upstream generation; chunks can be pushed to push streams only")
	}
	var data bytes.Buffer
	if err := json.Compact(&data, req.Data); err != nil {
		return newError(http.StatusBadRequest, jsonMessage(err))
	}
	ch := manager.Chunk{Event: req.Event, Data: data.Bytes(), Time: time.Now()}
	id, err := s.cfg.Streams.Push(c.Request.Context(), info.ID, ch)
	if err != nil {
		return err
	}
	s.cfg.Metrics.ChunkPushed(info.Labels[manager.LabelSource], len(ch.Data))
	return writeJSON(c, http.StatusAccepted, pushedJSON{ID: id})
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
func (s *Server) streamError(c *gin.Context) error {
	info, err := s.lookup(c)
	if err != nil {
		return err
	}
	var req errorRequest
	if err := s.readJSON(c, &req); err != nil {
		return err
	}
	se, err := req.streamError()
	if err != nil {
		return err
	}
	if err := s.cfg.Streams.HandleStreamError(c.Request.Context(), info.ID, se, req.Terminate); err != nil {
		return err
	}
	return writeJSON(c, http.StatusAccepted, struct{}{})
}

// streamError validates the request and returns the error chunk it asks for: code 400-599 (0
// means 500), status an upper-case Google RPC status name (empty means the one paired with code),
// and a message. Its error is the request's fault.
func (r errorRequest) streamError() (*manager.StreamError, error) {
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
