package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/upstream"
)

// apiVersions are the Gemini API versions the models collection is served under, as the
// official SDKs' apiVersion option names them.
var apiVersions = []string{"v1beta", "v1", "v1alpha"}

// listParams are the query parameters of GET models passed on upstream.
var listParams = []string{"pageSize", "pageToken"}

// apiVersion is the version segment of the route that matched, "v1" of /v1/models/:modelAction.
func apiVersion(c *gin.Context) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(c.FullPath(), "/"), "/")
	return v
}

// listModels serves GET /{version}/models, passing pageSize and pageToken on.
func (s *Server) listModels(c *gin.Context) error {
	q := url.Values{}
	for _, k := range listParams {
		if v, ok := c.GetQueryArray(k); ok {
			q[k] = v
		}
	}
	return s.call(c, upstream.Call{APIVersion: apiVersion(c), Query: q})
}

// getModel serves GET /{version}/models/{model}. A model's methods are POSTed.
func (s *Server) getModel(c *gin.Context) error {
	model := c.Param("modelAction")
	if strings.Contains(model, ":") {
		return methodNotAllowed(c, http.MethodPost)
	}
	if err := upstream.ValidateModel(model); err != nil {
		return invalidModel(err)
	}
	return s.call(c, upstream.Call{Model: model, APIVersion: apiVersion(c)})
}

// callMethod serves POST /{version}/models/{model}:{method} for every method but the
// generateContent pair: countTokens, embedContent, batchEmbedContents and whatever else the
// upstream has. The body must be a JSON object, as every method's request is.
func (s *Server) callMethod(c *gin.Context, model, method string) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	if !isJSONObject(body) {
		return newError(http.StatusBadRequest, "invalid JSON payload: the request body of "+method+" must be a JSON object")
	}
	return s.call(c, upstream.Call{Model: model, Method: method, APIVersion: apiVersion(c), Body: body})
}

// call makes a unary call upstream and passes its answer through.
func (s *Server) call(c *gin.Context, call upstream.Call) error {
	resp, err := s.cfg.Generator.Call(c.Request.Context(), call)
	if errors.Is(err, errors.ErrUnsupported) {
		what := call.String()
		if call.Model == "" {
			what = "listing models"
		}
		if errors.Is(err, upstream.ErrOpenAIOnly) {
			return reword(err, what+" "+openAIOnly)
		}
		return reword(err, what+" is not supported by the configured upstream: it has no Gemini models collection")
	}
	if err != nil {
		return err
	}
	s.passthrough(c, resp, call.String())
	return nil
}

// passthroughHeaders are the headers of an upstream's unary answer passed to the caller, besides
// every X-Goog-* header (Google's request IDs and the like).
var passthroughHeaders = []string{"Content-Type", "Content-Encoding", "Content-Length", "Retry-After"}

// passthrough writes an upstream's unary answer as it came: its status, the headers that matter
// and its body, which the runner has read whole already.
func (s *Server) passthrough(c *gin.Context, resp *http.Response, what string) {
	defer resp.Body.Close()
	h := c.Writer.Header()
	for _, k := range passthroughHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	for k, v := range resp.Header {
		if isGoogHeader(k) {
			h[k] = v
		}
	}
	c.Writer.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(c.Writer, resp.Body); err != nil {
		s.logFor(c.Request.Context()).Debug("passthrough ended early", "call", what, "error", err)
	}
}

// isGoogHeader reports whether a canonical header name is an X-Goog-* header an answer may carry;
// X-Goog-Api-Key is a credential and never passes.
func isGoogHeader(k string) bool {
	return strings.HasPrefix(k, "X-Goog-") && k != textproto.CanonicalMIMEHeaderKey("x-goog-api-key")
}
