package upstream

import (
	"context"
	"net/http"
)

// Credential sets the gateway's own upstream credential on an outgoing request: an API key header
// or an OAuth bearer token. The auth package provides them (auth.APIKey, auth.GoogleOAuth).
// Implementations must be safe for concurrent use and must never put the secret in an error.
type Credential interface {
	Apply(ctx context.Context, req *http.Request) error
}

// Dialect says how a provider's responses are read.
type Dialect int

// Dialects.
const (
	// DialectGemini is Gemini's streaming wire format (Gemini Developer API, Vertex AI, the
	// simulator): a stream is complete only when a chunk carried a finishReason (or a prompt
	// blockReason) and the body then ended cleanly; a JSON error body after the events is an error;
	// a request is never re-sent once an event was forwarded.
	DialectGemini Dialect = iota + 1
	// DialectSSE is a plain event stream: a clean end of the body completes it, and a stream that
	// sent id fields is resumed with Last-Event-ID after a dropped connection.
	DialectSSE
	// DialectOpenAI is OpenAI's chat-completions stream (an OpenAI-compatible server, and a
	// Request with OpenAI set on Gemini or the simulator): chat.completion.chunk events until
	// data: [DONE], which alone completes it; an error event or a JSON error body after the
	// events is an error; a request is never re-sent once an event was forwarded.
	DialectOpenAI
)

func (d Dialect) String() string {
	switch d {
	case DialectGemini:
		return "gemini"
	case DialectSSE:
		return "sse"
	case DialectOpenAI:
		return "openai"
	}
	return "unknown"
}

// Provider builds the HTTP requests of one upstream API. The runner calls it once per attempt, so
// each attempt gets a fresh request and a freshly applied credential. Implementations must be safe
// for concurrent use.
type Provider interface {
	// Name identifies the provider in logs: "gemini", "vertex", "sse", "simulator".
	Name() string
	// Dialect says how the provider's responses are read.
	Dialect() Dialect
	// StreamRequest returns the streaming request for req with its credential applied. Errors about
	// req itself wrap ErrInvalidRequest; any other error (a credential that could not be applied)
	// fails the attempt.
	StreamRequest(ctx context.Context, req Request) (*http.Request, error)
	// GenerateRequest returns the non-streaming generateContent request for req, or an error
	// wrapping ErrUnsupported.
	GenerateRequest(ctx context.Context, req Request) (*http.Request, error)
}

// Transporter is implemented by providers that answer without the network, such as the simulator:
// the runner sends their requests through Transport instead of its own HTTP transport.
type Transporter interface {
	Transport() http.RoundTripper
}
