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
	// APIVersion is the path's version segment; default DefaultGeminiAPIVersion.
	APIVersion string
	// Credential authenticates the requests, normally an auth.APIKey (x-goog-api-key). Required.
	Credential Credential
}

// Gemini is the Gemini Developer API provider: POST
// {base}/{version}/models/{model}:streamGenerateContent?alt=sse and :generateContent.
type Gemini struct {
	modelAPI
}

var (
	_ Provider       = (*Gemini)(nil)
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
	return &Gemini{modelAPI{base: base, prefix: "/" + version, cred: cfg.Credential}}, nil
}

// Name returns "gemini".
func (g *Gemini) Name() string { return "gemini" }

// modelAPI builds the requests of an API with Gemini's generateContent methods, POST
// {base}{prefix}/models/{model}:streamGenerateContent?alt=sse and :generateContent. Gemini, Vertex
// and the simulator embed it: they differ only in the prefix and the credential.
type modelAPI struct {
	base   *url.URL
	prefix string     // the path between base and "/models/", e.g. "/v1beta"
	cred   Credential // applied to every request; nil for the simulator, whose requests need none
}

// Dialect returns DialectGemini.
func (a *modelAPI) Dialect() Dialect { return DialectGemini }

// StreamRequest implements Provider.
func (a *modelAPI) StreamRequest(ctx context.Context, req Request) (*http.Request, error) {
	return a.request(ctx, req, geminiwire.MethodStream)
}

// GenerateRequest implements Provider.
func (a *modelAPI) GenerateRequest(ctx context.Context, req Request) (*http.Request, error) {
	return a.request(ctx, req, geminiwire.MethodGenerate)
}

func (a *modelAPI) request(ctx context.Context, req Request, method string) (*http.Request, error) {
	if err := ValidateModel(req.Model); err != nil {
		return nil, err
	}
	stream := method == geminiwire.MethodStream
	u := joinPath(a.base, a.prefix+"/models/"+req.Model+":"+method)
	u.RawQuery = withAlt(u.RawQuery, altFor(stream))
	hreq, err := newJSONRequest(ctx, http.MethodPost, u, req.Body, stream)
	if err != nil {
		return nil, err
	}
	if a.cred == nil {
		return hreq, nil
	}
	if err := a.cred.Apply(ctx, hreq); err != nil {
		return nil, fmt.Errorf("apply upstream credential: %w", err)
	}
	return hreq, nil
}

// Secrets implements SecretReporter: the credential's secrets and the base URL's query values.
func (a *modelAPI) Secrets() []string {
	return append(credentialSecrets(a.cred), querySecrets(a.base)...)
}

// altFor is the alt parameter of a request: "sse" for a stream, none (JSON) otherwise.
func altFor(stream bool) string {
	if stream {
		return "sse"
	}
	return ""
}

// validateSegment checks a configured path segment as ValidateModel checks a model name.
func validateSegment(field, v string) error {
	if err := ValidateModel(v); err != nil {
		return fmt.Errorf("%w: %s %q must be one path segment of ASCII letters, digits, '-', '.', '_', '@'", ErrInvalidConfig, field, v)
	}
	return nil
}
