package upstream

import (
	"context"
	"fmt"
	"net/http"
)

// OpenAIConfig configures the OpenAI provider.
type OpenAIConfig struct {
	// BaseURL is the OpenAI-compatible API's base, the part before /chat/completions, such as
	// https://api.openai.com/v1, a vLLM or llama.cpp server's http://host:8000/v1, or Ollama's
	// http://host:11434/v1. A query it has is kept on every request. Required.
	BaseURL string
	// Credential authenticates the requests, normally an auth.APIKey, whose key goes as
	// Authorization: Bearer, the header OpenAI-compatible servers read. nil sends none (a local
	// server without keys).
	Credential Credential
}

// OpenAI is the provider of any OpenAI-compatible server: POST {base}/chat/completions (streamed
// when the Request is an OpenAI one, read in DialectOpenAI), POST {base}/embeddings and GET
// {base}/models. It has no Gemini models collection: a Gemini request or Call is refused with
// ErrOpenAIOnly.
type OpenAI struct {
	api modelAPI
}

var (
	_ Provider       = (*OpenAI)(nil)
	_ UnaryProvider  = (*OpenAI)(nil)
	_ SecretReporter = (*OpenAI)(nil)
)

// NewOpenAI validates cfg and returns an OpenAI provider.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.BaseURL == "" {
		return nil, fmt.Errorf("%w: openai BaseURL is required", ErrInvalidConfig)
	}
	base, err := parseBaseURL("openai BaseURL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &OpenAI{modelAPI{base: base, cred: cfg.Credential, openai: "/"}}, nil
}

// Name returns "openai".
func (o *OpenAI) Name() string { return "openai" }

// Dialect returns DialectOpenAI.
func (o *OpenAI) Dialect() Dialect { return DialectOpenAI }

// StreamRequest implements Provider: an OpenAI Request only.
func (o *OpenAI) StreamRequest(ctx context.Context, req Request) (*http.Request, error) {
	if !req.OpenAI {
		return nil, fmt.Errorf("models/%s:streamGenerateContent with the openai provider: %w", req.Model, ErrOpenAIOnly)
	}
	return o.api.openAIStream(ctx, req)
}

// GenerateRequest implements Provider: there is no generateContent.
func (o *OpenAI) GenerateRequest(context.Context, Request) (*http.Request, error) {
	return nil, fmt.Errorf("generateContent with the openai provider: %w", ErrOpenAIOnly)
}

// UnaryRequest implements UnaryProvider: a Call of the OpenAI-compatible API only.
func (o *OpenAI) UnaryRequest(ctx context.Context, call Call) (*http.Request, error) {
	if call.OpenAI == "" {
		return nil, fmt.Errorf("%s with the openai provider: %w", call, ErrOpenAIOnly)
	}
	return o.api.UnaryRequest(ctx, call)
}

// Secrets implements SecretReporter: the credential's secrets and the base URL's query values.
func (o *OpenAI) Secrets() []string { return o.api.Secrets() }
