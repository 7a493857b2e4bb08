package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// Gemini actions the gateway serves itself under /{version}/models/{model}:{action}; any other
// action is a unary call passed through (callMethod).
const (
	actionStream   = "streamGenerateContent"
	actionGenerate = "generateContent"
)

// modelAction serves POST /{version}/models/{model}:{action}. Gin routes one path segment, which
// is split at its last ':'.
func (s *Server) modelAction(c *gin.Context) error {
	model, action, err := parseModelAction(c)
	if err != nil {
		return err
	}
	switch action {
	case actionStream:
		return s.streamGenerate(c, model)
	case actionGenerate:
		return s.generate(c, model)
	}
	return s.callMethod(c, model, action)
}

// parseModelAction splits and checks the model and action of the path. It is apart from
// modelAction, and not inlined, so that its frame is not on a stream's handler stack while the
// stream is served (Performance).
//
//go:noinline
func parseModelAction(c *gin.Context) (model, action string, err error) {
	seg := c.Param("modelAction")
	i := strings.LastIndexByte(seg, ':')
	if i < 0 {
		// POST to a model: a model is read with GET.
		return "", "", methodNotAllowed(c, http.MethodGet)
	}
	model, action = seg[:i], seg[i+1:]
	if !isAction(action) {
		return "", "", newError(http.StatusNotFound, "unknown action "+strconv.Quote(action)+": a method of a model is ASCII letters, like countTokens")
	}
	if err := upstream.ValidateModel(model); err != nil {
		return "", "", invalidModel(err)
	}
	return model, action, nil
}

// isAction reports whether action can name a method: one or more ASCII letters.
func isAction(action string) bool {
	if action == "" {
		return false
	}
	for i := range len(action) {
		if c := action[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// streamGenerate serves :streamGenerateContent. It creates a stream, makes the caller its first
// subscriber, then starts the upstream runner, and answers the stream as Gemini would: server-sent
// events with alt=sse, else (alt=json, Gemini's default) one JSON array written chunk by chunk.
func (s *Server) streamGenerate(c *gin.Context, model string) error {
	sub, err := s.openGenerate(c, model)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	defer sub.leave(ctx)
	sub.run(ctx)
	return nil
}

// openGenerate is streamGenerate up to serving the caller: it checks the request, creates the
// stream, registers the caller and starts the generation. It is apart, and not inlined, so that
// its large frame is not on the handler's stack for the stream's whole life: the handler parks
// in sub.run, and a stack is halved at a GC only while less than a quarter of it is in use
// (Performance).
//
//go:noinline
func (s *Server) openGenerate(c *gin.Context, model string) (*subscriber, error) {
	alt := c.Query("alt")
	if alt != "sse" && alt != "json" && alt != "" {
		return nil, newError(http.StatusBadRequest, "alt="+alt+" is not served: ask for alt=sse (server-sent events) or alt=json (a JSON array, the default)")
	}
	body, err := s.readGenerateBody(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	streamID, err := s.newStream(ctx, "", streamLabels(identity(c), model, KindGenerate, SourceGemini))
	if err != nil {
		return nil, err
	}
	var sink sseSink
	if alt == "sse" {
		g := new(geminiSink)
		g.init(c.Writer, streamID, s.cfg.StalledWriteTimeout)
		g.bypass(requestFrom(ctx))
		sink = g
	} else {
		a := newArraySink(c.Writer, streamID, s.cfg.StalledWriteTimeout)
		a.bypass(requestFrom(ctx))
		sink = a
	}
	sub, err := s.register(ctx, streamID, SourceGemini, sink, 0)
	if err != nil {
		s.closeStream(ctx, streamID, "could not register the caller")
		return nil, err
	}
	s.startGeneration(ctx, streamID, upstream.Request{Model: model, Body: body, APIVersion: apiVersion(c)})
	return sub, nil
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

// generate serves :generateContent by passing the upstream's response through.
func (s *Server) generate(c *gin.Context, model string) error {
	body, err := s.readGenerateBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	resp, err := s.cfg.Generator.Generate(ctx, upstream.Request{Model: model, Body: body, APIVersion: apiVersion(c)})
	if err != nil {
		return err
	}
	s.passthrough(c, resp, "models/"+model+":"+actionGenerate)
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
