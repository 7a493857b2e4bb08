package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
)

// Call is one unary (non-streaming) call of Gemini's models collection, passed through as is: a
// method of a model (POST models/{model}:{method}, such as countTokens, embedContent,
// batchEmbedContents or generateContent), one model (GET models/{model}: Method ""), or the list
// of models (GET models: Model and Method "").
type Call struct {
	// Model names the model, e.g. "gemini-2.5-flash"; "" lists the models.
	Model string
	// Method is the model's method, the part of the path after ':'; "" reads the model itself.
	// streamGenerateContent is no unary method: Runner.Run serves it.
	Method string
	// APIVersion is the caller's API version ("v1beta", "v1", "v1alpha"); "" means the
	// provider's own. Only the Gemini provider follows it (see GeminiConfig.APIVersion).
	APIVersion string
	// Body is the method's request JSON, forwarded unchanged; a GET carries none.
	Body []byte
	// Query holds the query parameters passed on, such as pageSize and pageToken of a list. They
	// are appended to the configured base URL's query; alt and key never are (the gateway's
	// credential goes in a header, and a unary answer is JSON).
	Query url.Values
	// OpenAI names an endpoint of the OpenAI-compatible API instead of the models collection
	// (OpenAIChat, OpenAIEmbeddings, OpenAIModels), with Model and Method "": POSTed with Body,
	// or read with GET when Body is nil. Only the Gemini provider serves it, at
	// {base}/v1beta/openai/{OpenAI}.
	OpenAI string
}

// String names the call as Gemini's paths do: "models", "models/m" or "models/m:countTokens".
func (c Call) String() string {
	switch {
	case c.OpenAI != "":
		return "openai/" + c.OpenAI
	case c.Model == "":
		return "models"
	case c.Method == "":
		return "models/" + c.Model
	}
	return "models/" + c.Model + ":" + c.Method
}

// httpMethod is the call's HTTP method: POST for a model's method, GET to read.
func (c Call) httpMethod() string {
	if c.OpenAI != "" && c.Body != nil {
		return http.MethodPost
	}
	if c.Method == "" {
		return http.MethodGet
	}
	return http.MethodPost
}

// op names the call in the errors Runner.Call returns: Generate's keep their "generate" prefix.
func (c Call) op() string {
	if c.Method == geminiwire.MethodGenerate {
		return "generate"
	}
	return "call " + c.String()
}

// operation is the gen_ai.operation.name of the call's spans: generate_content and embeddings, the
// conventions' names for a generation and the two embedding methods, else the call's own method
// (countTokens), or get_model and list_models, names the conventions do not have.
func (c Call) operation() string {
	switch {
	case c.OpenAI == OpenAIChat:
		return operationChat
	case c.OpenAI == OpenAIModels:
		return "list_models"
	case c.Method == geminiwire.MethodGenerate:
		return operationGenerateContent
	case c.Method == geminiwire.MethodEmbed, c.Method == geminiwire.MethodBatchEmbed, c.OpenAI == OpenAIEmbeddings:
		return operationEmbeddings
	case c.Method != "":
		return c.Method
	case c.Model != "":
		return "get_model"
	}
	return "list_models"
}

// validate checks what goes into the call's path: the model a plain segment (ValidateModel), the
// method ASCII letters only, the version a plain segment. The error wraps ErrInvalidRequest.
func (c Call) validate() error {
	switch {
	case c.OpenAI != "":
		return c.validateOpenAI()
	case c.Model == "" && c.Method != "":
		return fmt.Errorf("%w: method %q without a model", ErrInvalidRequest, c.Method)
	case c.Method == geminiwire.MethodStream:
		return fmt.Errorf("%w: %s is a streaming method, not a unary call", ErrInvalidRequest, c.Method)
	case !isLetters(c.Method):
		return fmt.Errorf("%w: method %q must be ASCII letters, like countTokens", ErrInvalidRequest, c.Method)
	case c.Model != "":
		if err := ValidateModel(c.Model); err != nil {
			return err
		}
	}
	return validateVersion(c.APIVersion)
}

// validateVersion checks a caller's API version: "" (the provider's own) or one plain path
// segment. The error wraps ErrInvalidRequest.
func validateVersion(v string) error {
	if v != "" && ValidateModel(v) != nil {
		return fmt.Errorf("%w: API version %q must be one path segment, like v1beta", ErrInvalidRequest, v)
	}
	return nil
}

// isLetters reports whether s holds ASCII letters only; "" does.
func isLetters(s string) bool {
	for i := range len(s) {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// UnaryProvider is implemented by the providers that serve Gemini's models collection besides
// streaming: Gemini, Vertex and the simulator. Runner.Call answers any call but generateContent
// with ErrUnsupported on the others (the generic SSE provider).
type UnaryProvider interface {
	// UnaryRequest returns the request of call with its credential applied. Errors about call
	// itself wrap ErrInvalidRequest; any other error (a credential that could not be applied)
	// fails the attempt.
	UnaryRequest(ctx context.Context, call Call) (*http.Request, error)
}

// callRequest builds the request of one attempt of req: through the provider's UnaryRequest, or
// for generateContent its GenerateRequest.
func (r *Runner) callRequest(ctx context.Context, req Call) (*http.Request, error) {
	if up, ok := r.provider.(UnaryProvider); ok {
		return up.UnaryRequest(ctx, req)
	}
	if req.Method == geminiwire.MethodGenerate {
		return r.provider.GenerateRequest(ctx, Request{Model: req.Model, APIVersion: req.APIVersion, Body: req.Body})
	}
	return nil, fmt.Errorf("%s with the %s provider: %w", req, r.provider.Name(), ErrUnsupported)
}

// encodeQuery appends the parameters of q but alt and key to rawQuery, sorted by name as
// url.Values.Encode sorts them.
func encodeQuery(rawQuery string, q url.Values) string {
	var b strings.Builder
	b.WriteString(rawQuery)
	pass := url.Values{}
	for k, v := range q {
		if k != "alt" && k != "key" {
			pass[k] = v
		}
	}
	if enc := pass.Encode(); enc != "" {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(enc)
	}
	return b.String()
}
