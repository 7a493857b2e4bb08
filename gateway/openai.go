package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/upstream"
)

// openAIPrefixes are the path prefixes the OpenAI-compatible API is served under: Gemini's own
// (/v1beta/openai) and OpenAI's (/v1), so that a client needs only its base URL changed.
var openAIPrefixes = []string{"/v1beta/openai", "/v1"}

// handleOpenAI is handle for the OpenAI-compatible routes: an error h returns is answered in
// OpenAI's shape (writeOpenAIError), so that OpenAI's SDKs raise the error they know.
func handleOpenAI(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			writeOpenAIError(c, err)
		}
	}
}

// openAIError is OpenAI's error object, the value of "error" in its error body. Param and Code
// are null when unset, as OpenAI sends them.
type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// openAIErrorType is the OpenAI error type of an HTTP status, as OpenAI's API reference pairs
// them: a 4xx without a type of its own is a request error, every 5xx a server error.
func openAIErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// openAIErrorFor is what an OpenAI client is told of err: answerFor's status, message and
// Retry-After, with the type of the status; an authentication failure has OpenAI's code
// invalid_api_key. An error an OpenAI-compatible upstream wrote (the stream error's Raw, as an
// error answer or event of a stream) keeps its own type, param and code, as a passed-through
// error answer does (openAIErrorAnswer).
func openAIErrorFor(err error) (int, openAIError, time.Duration) {
	se := answerFor(err)
	status := httpStatus(se.Code)
	oe := openAIError{Message: se.Message, Type: openAIErrorType(status)}
	var pe *paramError
	switch parsed, ok := upstream.ParseOpenAIError(se.Raw); {
	case ok:
		oe = withUpstreamError(oe, status, parsed)
	case errors.As(err, &pe):
		oe.Param = ptr(pe.param)
	case status == http.StatusUnauthorized:
		oe.Code = ptr("invalid_api_key")
	}
	return status, oe, se.RetryAfter
}

// paramError is a request error about one field of an OpenAI request body, which OpenAI's error
// names as its param.
type paramError struct {
	param string
	err   error
}

func (e *paramError) Error() string { return e.err.Error() }
func (e *paramError) Unwrap() error { return e.err }

// maxOpenAIModelLen bounds the model of a streamed chat completion, as upstream.ValidateModel
// bounds Gemini's.
const maxOpenAIModelLen = 256

// validateOpenAIModel checks the model of a streamed chat completion before it labels a stream
// and goes into its metadata, logs and spans: 1 to 256 bytes of ASCII letters, digits and
// "-_.:/@+", which covers the names OpenAI-compatible servers use (gpt-4o-mini,
// meta-llama/Llama-3-8B-Instruct, llama3:8b, ft:gpt-4o:org@x) and keeps out spaces, control
// characters and anything else a log line or label should not carry. It is looser than
// upstream.ValidateModel because the model travels in the body, not as a path segment.
func validateOpenAIModel(model string) error {
	bad := func(msg string) error {
		return &paramError{param: "model", err: newError(http.StatusBadRequest, "invalid model: "+msg)}
	}
	switch {
	case model == "":
		return bad("a streamed chat completion must name its model")
	case len(model) > maxOpenAIModelLen:
		return bad("model name is " + strconv.Itoa(len(model)) + " bytes long (at most " + strconv.Itoa(maxOpenAIModelLen) + ")")
	}
	for i := range len(model) {
		if !isOpenAIModelByte(model[i]) {
			return bad(fmt.Sprintf("model name %q has %s at byte %d (allowed: ASCII letters, digits, '-', '_', '.', ':', '/', '@', '+')",
				model, describeModelByte(model[i]), i))
		}
	}
	return nil
}

func isOpenAIModelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:/@+", c) >= 0
}

// describeModelByte quotes an ASCII byte as a Go character literal and shows any other in hex.
func describeModelByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// withUpstreamError is oe with what an upstream's error says of itself: its param and code, and
// its type when it names one (Gemini's errors do not); a 401 without a code gets OpenAI's
// invalid_api_key.
func withUpstreamError(oe openAIError, status int, parsed *upstream.OpenAIError) openAIError {
	oe.Param, oe.Code = parsed.Param, parsed.Code
	if parsed.Type != "" {
		oe.Type = parsed.Type
	}
	if oe.Code == nil && status == http.StatusUnauthorized {
		oe.Code = ptr("invalid_api_key")
	}
	return oe
}

// writeOpenAIError answers err in OpenAI's shape and aborts the handler chain; its Retry-After
// is sent as writeStreamError sends it.
func writeOpenAIError(c *gin.Context, err error) {
	status, oe, retryAfter := openAIErrorFor(err)
	if retryAfter > 0 {
		c.Header("Retry-After", retryAfterSeconds(retryAfter))
	}
	writeOpenAIBody(c.Writer, status, oe)
	c.Abort()
}

// writeOpenAIBody writes {"error":oe} as the whole answer with status.
func writeOpenAIBody(w http.ResponseWriter, status int, oe openAIError) {
	// Marshal cannot fail on strings.
	b, _ := json.Marshal(struct {
		Error openAIError `json:"error"`
	}{oe})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	// A failed write means the client left.
	_, _ = w.Write(b)
}

// chatCompletions serves POST {prefix}/chat/completions: a streaming request ("stream": true)
// through the manager (streamChat), any other passed through.
func (s *Server) chatCompletions(c *gin.Context) error {
	body, err := s.openAIBody(c)
	if err != nil {
		return err
	}
	var req struct {
		Model  json.RawMessage `json:"model"`
		Stream *bool           `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return newError(http.StatusBadRequest, "invalid JSON payload: stream must be true or false")
	}
	if req.Stream != nil && *req.Stream {
		var model string
		if req.Model != nil && json.Unmarshal(req.Model, &model) != nil {
			return newError(http.StatusBadRequest, "invalid JSON payload: model must be a string")
		}
		if err := validateOpenAIModel(model); err != nil {
			return err
		}
		return s.streamChat(c, model, body)
	}
	return s.callOpenAI(c, upstream.Call{OpenAI: upstream.OpenAIChat, Body: body})
}

// embeddings serves POST {prefix}/embeddings.
func (s *Server) embeddings(c *gin.Context) error {
	body, err := s.openAIBody(c)
	if err != nil {
		return err
	}
	return s.callOpenAI(c, upstream.Call{OpenAI: upstream.OpenAIEmbeddings, Body: body})
}

// openAIModels serves GET {prefix}/models.
func (s *Server) openAIModels(c *gin.Context) error {
	return s.callOpenAI(c, upstream.Call{OpenAI: upstream.OpenAIModels})
}

// openAIBody reads a request body that must be a JSON object, as every OpenAI request is.
func (s *Server) openAIBody(c *gin.Context) ([]byte, error) {
	body, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	if !isJSONObject(body) {
		return nil, newError(http.StatusBadRequest, "invalid JSON payload: the request body must be a JSON object")
	}
	return body, nil
}

// callOpenAI makes a unary call of the OpenAI-compatible API upstream and passes its answer
// through, an error answer in OpenAI's shape.
func (s *Server) callOpenAI(c *gin.Context, call upstream.Call) error {
	resp, err := s.cfg.Generator.Call(c.Request.Context(), call)
	if errors.Is(err, errors.ErrUnsupported) {
		return reword(err, call.String()+" is not supported by the configured upstream: the gemini, openai and simulator providers serve the OpenAI-compatible API, vertex its chat completions")
	}
	if err != nil {
		return err
	}
	if resp.StatusCode < http.StatusBadRequest {
		s.passthrough(c, resp, call.String())
		return nil
	}
	s.openAIErrorAnswer(c, resp)
	return nil
}

// openAIErrorAnswer writes an upstream's error answer in OpenAI's shape with its status and
// Retry-After: an OpenAI error keeps its type, param and code; Gemini's error, alone or wrapped
// in a JSON array as Gemini's compatibility endpoint sends it, gets the type of the status.
func (s *Server) openAIErrorAnswer(c *gin.Context, resp *http.Response) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	oe := openAIError{Message: "upstream answered HTTP " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode), Type: openAIErrorType(resp.StatusCode)}
	if parsed, ok := upstream.ParseOpenAIError(body); ok {
		oe = withUpstreamError(oe, resp.StatusCode, parsed)
		oe.Message = parsed.Message
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		c.Header("Retry-After", v)
	}
	writeOpenAIBody(c.Writer, resp.StatusCode, oe)
}

// isOpenAIClient reports whether a request to a path both APIs have (GET /v1/models) comes from
// an OpenAI client: its key is an Authorization: Bearer header, and it sends no x-goog-api-key
// and no ?key=, which every Gemini SDK and browser client of the gateway sends instead.
func isOpenAIClient(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") &&
		r.Header.Get(auth.HeaderAPIKey) == "" && !r.URL.Query().Has("key")
}

// v1Models serves GET /v1/models, which is both Gemini's models list under v1 and OpenAI's
// models list: an OpenAI client (isOpenAIClient) gets OpenAI's, anyone else Gemini's.
func (s *Server) v1Models(c *gin.Context) {
	wrap, list := handle, s.listModels
	if isOpenAIClient(c.Request) {
		wrap, list = handleOpenAI, s.openAIModels
	}
	if wrap(s.authenticate)(c); !c.IsAborted() {
		wrap(list)(c)
	}
}

func ptr(s string) *string { return &s }
