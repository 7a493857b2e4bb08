package upstream

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
)

// Defaults of GeminiConfig.
const (
	DefaultGeminiBaseURL    = "https://generativelanguage.googleapis.com"
	DefaultGeminiAPIVersion = "v1beta"
)

// GeminiConfig configures the Gemini Developer API provider.
type GeminiConfig struct {
	// BaseURL is the API's scheme, host and optional path prefix; default DefaultGeminiBaseURL. A
	// query it has is kept on every request.
	BaseURL string
	// APIVersion is the path's version segment; default DefaultGeminiAPIVersion. A Request or
	// Call that names its caller's version (the gateway's /v1, /v1beta and /v1alpha routes) is
	// sent with that one instead: the Gemini Developer API serves the same methods under each, and
	// a field only one of them knows must reach that one.
	APIVersion string
	// Credential authenticates the requests, normally an auth.APIKey (x-goog-api-key). Required.
	Credential Credential
}

// Gemini is the Gemini Developer API provider: POST
// {base}/{version}/models/{model}:streamGenerateContent?alt=sse, :generateContent and any other
// method of a model, GET {base}/{version}/models/{model} and GET {base}/{version}/models; and
// the unary calls of its OpenAI-compatible API, {base}/v1beta/openai/{endpoint}.
type Gemini struct {
	modelAPI
}

var (
	_ Provider       = (*Gemini)(nil)
	_ UnaryProvider  = (*Gemini)(nil)
	_ SecretReporter = (*Gemini)(nil)
)

// NewGemini validates cfg and returns a Gemini provider.
func NewGemini(cfg GeminiConfig) (*Gemini, error) {
	base, err := parseBaseURL("gemini BaseURL", cmp.Or(cfg.BaseURL, DefaultGeminiBaseURL))
	if err != nil {
		return nil, err
	}
	version := cmp.Or(cfg.APIVersion, DefaultGeminiAPIVersion)
	if err := validateSegment("gemini APIVersion", version); err != nil {
		return nil, err
	}
	if cfg.Credential == nil {
		return nil, fmt.Errorf("%w: gemini Credential is required", ErrInvalidConfig)
	}
	return &Gemini{modelAPI{base: base, version: version, callerVersion: true, openai: geminiOpenAIPrefix, cred: cfg.Credential}}, nil
}

// Name returns "gemini".
func (g *Gemini) Name() string { return "gemini" }

// modelAPI builds the requests of an API with Gemini's models collection: POST
// {base}/{version}{scope}{publisher}/models/{model}:{method} (streamGenerateContent?alt=sse,
// generateContent, countTokens, ...), GET {base}/{version}{publisher}/models/{model} and GET
// {base}/{list version}{publisher}/models. Gemini, Vertex and the simulator embed it: they differ
// only in these segments and the credential.
type modelAPI struct {
	base    *url.URL
	version string // the path's first segment
	// callerVersion makes a request's own APIVersion replace version (Gemini, the simulator).
	callerVersion bool
	scope         string     // between the version and the publisher in a method's path: Vertex's "/projects/{p}/locations/{l}"
	publisher     string     // before "/models": Vertex's "/publishers/google"
	listVersion   string     // the version of the models list when it is not version ("" is version)
	cred          Credential // applied to every request; nil for the simulator, whose requests need none

	// openai is the path below the base URL of the API's OpenAI-compatible endpoints, "" when it
	// has none: Gemini's (and the simulator's) /v1beta/openai, Vertex's
	// /{version}/projects/{p}/locations/{l}/endpoints/openapi.
	openai string
	// openaiChatOnly says the OpenAI-compatible API has chat/completions only (Vertex's).
	openaiChatOnly bool
}

// Dialect returns DialectGemini.
func (a *modelAPI) Dialect() Dialect { return DialectGemini }

// StreamRequest implements Provider.
func (a *modelAPI) StreamRequest(ctx context.Context, req Request) (*http.Request, error) {
	if req.OpenAI {
		return a.openAIStream(ctx, req)
	}
	return a.generation(ctx, req, geminiwire.MethodStream)
}

// GenerateRequest implements Provider.
func (a *modelAPI) GenerateRequest(ctx context.Context, req Request) (*http.Request, error) {
	return a.generation(ctx, req, geminiwire.MethodGenerate)
}

// UnaryRequest implements UnaryProvider.
func (a *modelAPI) UnaryRequest(ctx context.Context, call Call) (*http.Request, error) {
	if err := call.validate(); err != nil {
		return nil, err
	}
	if call.OpenAI != "" && !a.servesOpenAI(call.OpenAI) {
		return nil, fmt.Errorf("%s: %w", call, ErrUnsupported)
	}
	return a.request(ctx, call)
}

// generation builds the request of a generateContent method for req.
func (a *modelAPI) generation(ctx context.Context, req Request, method string) (*http.Request, error) {
	if err := ValidateModel(req.Model); err != nil {
		return nil, err
	}
	if err := validateVersion(req.APIVersion); err != nil {
		return nil, err
	}
	return a.request(ctx, Call{Model: req.Model, Method: method, APIVersion: req.APIVersion, Body: req.Body})
}

// request builds the request of a validated call.
func (a *modelAPI) request(ctx context.Context, call Call) (*http.Request, error) {
	stream := call.Method == geminiwire.MethodStream
	u := joinPath(a.base, a.path(call))
	if stream {
		u.RawQuery = withAlt(u.RawQuery, "sse")
	} else {
		u.RawQuery = encodeQuery(withAlt(u.RawQuery, ""), call.Query)
	}
	hreq, err := newJSONRequest(ctx, call.httpMethod(), u, call.Body, stream)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(ctx, hreq, call.OpenAI != ""); err != nil {
		return nil, err
	}
	return hreq, nil
}

// authorize applies the credential to hreq, an OpenAI-compatible endpoint's with the key as a
// bearer token.
func (a *modelAPI) authorize(ctx context.Context, hreq *http.Request, openai bool) error {
	if a.cred == nil {
		return nil
	}
	if err := a.cred.Apply(ctx, hreq); err != nil {
		return fmt.Errorf("apply upstream credential: %w", err)
	}
	if openai {
		bearerFromAPIKey(hreq)
	}
	return nil
}

// path is the path of call below the base URL.
func (a *modelAPI) path(call Call) string {
	v := a.version
	if a.callerVersion && call.APIVersion != "" {
		v = call.APIVersion
	}
	switch {
	case call.OpenAI != "":
		return a.openai + "/" + call.OpenAI
	case call.Method != "":
		return "/" + v + a.scope + a.publisher + "/models/" + call.Model + ":" + call.Method
	case call.Model != "":
		return "/" + v + a.publisher + "/models/" + call.Model
	}
	return "/" + cmp.Or(a.listVersion, v) + a.publisher + "/models"
}

// Secrets implements SecretReporter: the credential's secrets and the base URL's query values.
func (a *modelAPI) Secrets() []string {
	return append(credentialSecrets(a.cred), querySecrets(a.base)...)
}

// validateSegment checks a configured path segment as ValidateModel checks a model name.
func validateSegment(field, v string) error {
	if err := ValidateModel(v); err != nil {
		return fmt.Errorf("%w: %s %q must be one path segment of ASCII letters, digits, '-', '.', '_', '@'", ErrInvalidConfig, field, v)
	}
	return nil
}
