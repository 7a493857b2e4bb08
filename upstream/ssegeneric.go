package upstream

import (
	"cmp"
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// SSEConfig configures the generic SSE provider.
type SSEConfig struct {
	// URL is the event stream's URL, used as given (no alt=sse is added). Required.
	URL string
	// Method is the HTTP method; default POST. GET and HEAD requests carry no body; other methods
	// carry Request.Body as application/json.
	Method string
	// Headers are sent with every request, e.g. an Authorization header for an OpenAI-compatible
	// endpoint. Accept and Cache-Control are always text/event-stream and no-cache. Header values
	// are secrets as far as streamgate is concerned: they are never logged or put in an error, and
	// are scrubbed from upstream error text (SecretReporter).
	Headers map[string]string
	// ContentTypes are the media types a 200 answer may have, exact and without parameters (a
	// Content-Type's parameters are ignored); default [EventStreamType]. A 200 with another
	// Content-Type fails the attempt (503 UNAVAILABLE) before its body is read. Set it for a server
	// that labels its event stream otherwise, and list text/event-stream too if it may send that.
	ContentTypes []string
}

// SSE is the generic event-stream provider: any URL, method and headers. Events are forwarded as
// they come (data unchanged, the event type as the chunk's Event), a clean end of the body completes
// the stream, and a stream that sent id fields is resumed with Last-Event-ID after a dropped
// connection. It has no non-streaming call: GenerateRequest returns ErrUnsupported.
type SSE struct {
	u            *url.URL
	method       string
	header       http.Header
	contentTypes []string
}

var (
	_ Provider       = (*SSE)(nil)
	_ SecretReporter = (*SSE)(nil)
	_ contentTyper   = (*SSE)(nil)
)

// NewSSE validates cfg and returns a generic SSE provider.
func NewSSE(cfg SSEConfig) (*SSE, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: sse URL is required", ErrInvalidConfig)
	}
	u, err := parseBaseURL("sse URL", cfg.URL)
	if err != nil {
		return nil, err
	}
	method := cmp.Or(cfg.Method, http.MethodPost)
	if !isToken(method) {
		return nil, fmt.Errorf("%w: sse Method %q is not an HTTP method token", ErrInvalidConfig, method)
	}
	header := make(http.Header, len(cfg.Headers))
	for name, value := range cfg.Headers {
		if !isToken(name) {
			return nil, fmt.Errorf("%w: sse Headers: %q is not a valid header name", ErrInvalidConfig, name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			// The value is a secret: name the header only.
			return nil, fmt.Errorf("%w: sse Headers: the value of %q has a CR, LF or NUL", ErrInvalidConfig, name)
		}
		header.Set(name, value)
	}
	types, err := parseMediaTypes(cfg.ContentTypes)
	if err != nil {
		return nil, err
	}
	return &SSE{u: u, method: method, header: header, contentTypes: types}, nil
}

// parseMediaTypes checks configured media types and returns them in lower case, or the default.
func parseMediaTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return eventStreamTypes, nil
	}
	out := make([]string, len(types))
	for i, t := range types {
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || !strings.Contains(mt, "/") || strings.Contains(mt, "*") {
			return nil, fmt.Errorf("%w: sse ContentTypes[%d] %q is not a media type such as %s, without parameters", ErrInvalidConfig, i, t, EventStreamType)
		}
		out[i] = mt
	}
	return out, nil
}

// mediaTypes implements contentTyper.
func (s *SSE) mediaTypes() []string { return s.contentTypes }

// Name returns "sse".
func (s *SSE) Name() string { return "sse" }

// Dialect returns DialectSSE.
func (s *SSE) Dialect() Dialect { return DialectSSE }

// StreamRequest implements Provider; req.Model is ignored. An OpenAI request is refused with
// ErrUnsupported: the generic provider's stream is no chat completion (kind openai serves those).
func (s *SSE) StreamRequest(ctx context.Context, req Request) (*http.Request, error) {
	if req.OpenAI {
		return nil, fmt.Errorf("streaming openai/%s with the sse provider: %w", OpenAIChat, ErrUnsupported)
	}
	u := *s.u
	hreq, err := newJSONRequest(ctx, s.method, &u, req.Body, false)
	if err != nil {
		return nil, err
	}
	for name, values := range s.header {
		hreq.Header[name] = slices.Clone(values)
	}
	setStreamHeaders(hreq.Header)
	return hreq, nil
}

// Secrets implements SecretReporter: the configured header values, the credential of each that
// has an authentication scheme ("sk-x" of "Bearer sk-x": an upstream may quote just that), and
// the URL's query values.
func (s *SSE) Secrets() []string {
	var out []string
	for _, values := range s.header {
		for _, v := range values {
			out = append(out, v)
			if scheme, cred, ok := strings.Cut(v, " "); ok && isToken(scheme) {
				out = append(out, strings.TrimSpace(cred))
			}
		}
	}
	return append(out, querySecrets(s.u)...)
}

// GenerateRequest returns an error wrapping ErrUnsupported.
func (s *SSE) GenerateRequest(context.Context, Request) (*http.Request, error) {
	return nil, fmt.Errorf("generate with the sse provider: %w", ErrUnsupported)
}

// isToken reports whether s is a non-empty RFC 9110 token, as header names and methods are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
