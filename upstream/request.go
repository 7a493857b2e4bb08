package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Request is one generation to run upstream.
type Request struct {
	// Model names the model, e.g. "gemini-2.5-flash". The generic SSE provider ignores it.
	Model string
	// Body is the caller's GenerateContentRequest JSON, forwarded unchanged.
	Body []byte
	// APIVersion is the caller's API version ("v1beta", "v1", "v1alpha"); "" means the
	// provider's own. Only the Gemini provider follows it (see GeminiConfig.APIVersion).
	APIVersion string
	// OpenAI makes Body an OpenAI chat completion request with "stream": true, sent to the
	// provider's OpenAI-compatible chat/completions endpoint and read in DialectOpenAI; Model
	// then only labels the stream (an OpenAI model name need not be a path segment). Providers
	// without that endpoint refuse it with ErrUnsupported.
	OpenAI bool
}

// operation is the gen_ai.operation.name of the request's spans.
func (r Request) operation() string {
	if r.OpenAI {
		return operationChat
	}
	return operationGenerateContent
}

// Sentinel errors. Match them with errors.Is; they are returned wrapped with context.
var (
	// ErrInvalidRequest is wrapped by the errors about a Request a provider cannot send, such as a
	// model name that is not a plain path segment. Run returns them without touching the stream.
	ErrInvalidRequest = errors.New("invalid upstream request")
	// ErrUnsupported is wrapped when a provider does not offer an operation, such as Generate on the
	// generic SSE provider. errors.Is(err, errors.ErrUnsupported) holds too.
	ErrUnsupported = fmt.Errorf("upstream: %w", errors.ErrUnsupported)
	// ErrOpenAIOnly wraps ErrUnsupported for a Gemini request or Call of an upstream that serves
	// the OpenAI-compatible API only (the OpenAI provider), so that the gateway can send its
	// caller to the routes it does serve.
	ErrOpenAIOnly = fmt.Errorf("%w: the upstream serves the OpenAI-compatible API only (chat/completions, embeddings and models)", ErrUnsupported)
	// ErrInvalidConfig is wrapped by the configuration errors of the constructors.
	ErrInvalidConfig = errors.New("invalid upstream config")
)

// maxModelLen bounds a model name.
const maxModelLen = 256

// ValidateModel reports whether model can be put into a request path as one segment. A model
// name is 1 to 256 bytes of ASCII letters, digits, '-', '.', '_' and '@' and is not "." or "..":
// so '/', '?', '#', '%', ':', spaces and control characters, which could change the path, the
// method or the query, are refused. The error wraps ErrInvalidRequest.
func ValidateModel(model string) error {
	switch {
	case model == "":
		return fmt.Errorf("%w: empty model name", ErrInvalidRequest)
	case len(model) > maxModelLen:
		return fmt.Errorf("%w: model name is %d bytes long (at most %d)", ErrInvalidRequest, len(model), maxModelLen)
	case model == "." || model == "..":
		return fmt.Errorf("%w: model name %q is a relative path", ErrInvalidRequest, model)
	}
	for i := range len(model) {
		if !isModelByte(model[i]) {
			return fmt.Errorf("%w: model name %q has %s at byte %d (allowed: ASCII letters, digits, '-', '.', '_', '@')",
				ErrInvalidRequest, model, describeByte(model[i]), i)
		}
	}
	return nil
}

// describeByte quotes an ASCII byte as a Go character literal and shows any other in hex.
func describeByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func isModelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '@'
}

// withAlt returns rawQuery with its alt parameter set to value, or removed when value is "": an
// existing alt parameter is replaced in place (once; later ones are dropped), otherwise the new one
// is appended. The other parameters are kept byte for byte, in order.
func withAlt(rawQuery, value string) string {
	var b strings.Builder
	add := func(param string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(param)
	}
	found := false
	for param := range strings.SplitSeq(rawQuery, "&") {
		switch {
		case param == "":
		case !isAltParam(param):
			add(param)
		case !found:
			found = true
			if value != "" {
				add("alt=" + value)
			}
		}
	}
	if !found && value != "" {
		add("alt=" + value)
	}
	return b.String()
}

func isAltParam(param string) bool {
	key, _, _ := strings.Cut(param, "=")
	k, err := url.QueryUnescape(key)
	return err == nil && k == "alt"
}

// joinPath appends path to the path of base, which must not end with a slash.
func joinPath(base *url.URL, path string) *url.URL {
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	u.RawPath = ""
	return &u
}

// parseBaseURL checks a configured base URL: absolute http or https, no fragment.
func parseBaseURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, field, redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %s must be an http or https URL (got scheme %q)", ErrInvalidConfig, field, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: %s has no host", ErrInvalidConfig, field)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return nil, fmt.Errorf("%w: %s must not have a fragment", ErrInvalidConfig, field)
	}
	return u, nil
}

// redactURLError drops the URL from a *url.Error (of url.Parse or a transport): it may carry a key
// in its query.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// newJSONRequest builds a POST request carrying body as JSON, with the headers every streaming
// request sends when stream is set.
func newJSONRequest(ctx context.Context, method string, u *url.URL, body []byte, stream bool) (*http.Request, error) {
	var rd io.Reader
	if body != nil && method != http.MethodGet && method != http.MethodHead {
		rd = bytes.NewReader(body)
	}
	// The request gets a copy of u rather than its string, which NewRequestWithContext would
	// parse back into the same URL: a round trip on every upstream request. Its own (empty) URL
	// holds the copy, so that the callers' u need not leave their stacks. Host is what
	// NewRequestWithContext would set.
	req, err := http.NewRequestWithContext(ctx, method, "", rd)
	if err != nil {
		return nil, fmt.Errorf("%w: build %s request to %s: %w", ErrInvalidRequest, method, safeURL(u), redactURLError(err))
	}
	*req.URL, req.Host = *u, strings.TrimSuffix(u.Host, ":")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if stream {
		setStreamHeaders(req.Header)
	} else {
		req.Header.Set("Accept", "application/json")
	}
	return req, nil
}

// setStreamHeaders sets the headers of every streaming request.
func setStreamHeaders(h http.Header) {
	h.Set("Accept", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
}

// safeURL describes u for errors and logs without its query, fragment or user information, where
// a key could hide.
func safeURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
