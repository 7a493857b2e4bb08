package gateway

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// Gemini actions served under /v1beta/models/{model}:{action}.
const (
	actionStream   = "streamGenerateContent"
	actionGenerate = "generateContent"
)

// modelAction serves POST /v1beta/models/{model}:{action}. Gin routes one path segment, which is
// split at its last ':'.
func (s *Server) modelAction(c *gin.Context) error {
	seg := c.Param("modelAction")
	i := strings.LastIndexByte(seg, ':')
	if i < 0 {
		return newError(http.StatusNotFound, "no route for POST "+c.Request.URL.Path+": want /v1beta/models/{model}:streamGenerateContent or :generateContent")
	}
	model, action := seg[:i], seg[i+1:]
	if action != actionStream && action != actionGenerate {
		return newError(http.StatusNotFound, "unknown action "+strconv.Quote(action)+": the gateway serves streamGenerateContent and generateContent")
	}
	if err := upstream.ValidateModel(model); err != nil {
		return invalidModel(err)
	}
	if action == actionStream {
		return s.streamGenerate(c, model)
	}
	return s.generate(c, model)
}

// streamGenerate serves :streamGenerateContent?alt=sse. It creates a stream, makes the caller its
// first subscriber, then starts the upstream runner, and answers the stream as Gemini would.
func (s *Server) streamGenerate(c *gin.Context, model string) error {
	if c.Query("alt") != "sse" {
		return newError(http.StatusBadRequest, "alt=sse is required: the gateway streams server-sent events only (add ?alt=sse)")
	}
	body, err := s.readGenerateBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	streamID, err := s.newStream(ctx, "", streamLabels(identity(c), model, KindGenerate, SourceGemini))
	if err != nil {
		return err
	}
	sink := &geminiSink{sseWriter: newSSEWriter(c.Writer, streamID, s.cfg.StalledWriteTimeout)}
	sub, err := s.register(ctx, streamID, SourceGemini, sink, 0)
	if err != nil {
		s.closeStream(ctx, streamID, "could not register the caller")
		return err
	}
	defer sub.leave(ctx)
	s.startGeneration(ctx, streamID, upstream.Request{Model: model, Body: body})
	sub.run(ctx)
	return nil
}

// readGenerateBody reads a GenerateContentRequest, which must be a JSON object.
func (s *Server) readGenerateBody(c *gin.Context) ([]byte, error) {
	body, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	if !isJSONObject(body) {
		return nil, newError(http.StatusBadRequest, "invalid JSON payload: the request body must be a GenerateContentRequest JSON object")
	}
	return body, nil
}

// Headers of an upstream generateContent response passed to the caller.
var passthroughHeaders = []string{"Content-Type", "Content-Encoding", "Content-Length", "Retry-After"}

// generate serves :generateContent by passing the upstream's response through.
func (s *Server) generate(c *gin.Context, model string) error {
	body, err := s.readGenerateBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	resp, err := s.cfg.Generator.Generate(ctx, upstream.Request{Model: model, Body: body})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := c.Writer.Header()
	for _, k := range passthroughHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	c.Writer.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(c.Writer, resp.Body); err != nil {
		s.logFor(ctx).Debug("generateContent passthrough ended early", "model", model, "error", err)
	}
	return nil
}

// invalidModel explains a model name upstream.ValidateModel refused.
func invalidModel(err error) error {
	return reword(err, "invalid model: "+strings.TrimPrefix(err.Error(), upstream.ErrInvalidRequest.Error()+": "))
}

// streamLabels labels a new stream with its owner, model, kind and source.
func streamLabels(id auth.Identity, model, kind, source string) map[string]string {
	return map[string]string{
		manager.LabelTenant: id.Tenant,
		manager.LabelKeyID:  id.KeyID,
		manager.LabelModel:  model,
		manager.LabelKind:   kind,
		manager.LabelSource: source,
	}
}
