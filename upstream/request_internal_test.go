package upstream

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithAlt(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "alt=sse"},
		{"key=v", "key=v&alt=sse"},
		{"a=1&b=2", "a=1&b=2&alt=sse"},
		{"alt=sse", "alt=sse"},
		{"a=1&alt=sse&b=2", "a=1&alt=sse&b=2"},
		{"alt=json", "alt=sse"},
		{"a=1&alt=json&b=%2F", "a=1&alt=sse&b=%2F"},
		{"alt=json&alt=sse", "alt=sse"},
		{"alt", "alt=sse"},
		{"al%74=json&x=1", "alt=sse&x=1"},
		{"alternative=1", "alternative=1&alt=sse"},
		{"a=1&", "a=1&alt=sse"},
		{"&&", "alt=sse"},
		{"q=a+b&salt=1", "q=a+b&salt=1&alt=sse"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, withAlt(tc.in, "sse"))
		})
	}
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"alt=sse", ""},
		{"a=1&alt=json&b=2&alt=sse", "a=1&b=2"},
		{"a=1", "a=1"},
	} {
		t.Run("remove "+tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, withAlt(tc.in, ""))
		})
	}
}

func TestGeminiRequestURLs(t *testing.T) {
	cred := credentialFunc(func(_ context.Context, r *http.Request) error { r.Header.Set("x-goog-api-key", "k"); return nil })
	for _, tc := range []struct{ base, want string }{
		{"", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"http://127.0.0.1:9000", "http://127.0.0.1:9000/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"http://127.0.0.1:9000/", "http://127.0.0.1:9000/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"http://proxy/gemini/", "http://proxy/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"http://proxy/gemini?tenant=a", "http://proxy/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?tenant=a&alt=sse"},
		{"http://proxy/?alt=json", "http://proxy/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"http://proxy/?alt=sse&x=1", "http://proxy/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&x=1"},
	} {
		t.Run(tc.base, func(t *testing.T) {
			g, err := NewGemini(GeminiConfig{BaseURL: tc.base, Credential: cred})
			require.NoError(t, err)
			req, err := g.StreamRequest(context.Background(), Request{Model: "gemini-2.5-flash", Body: []byte("{}")})
			require.NoError(t, err)
			require.Equal(t, tc.want, req.URL.String())
			require.Equal(t, http.MethodPost, req.Method)
			gen, err := g.GenerateRequest(context.Background(), Request{Model: "gemini-2.5-flash"})
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(gen.URL.Path, "/models/gemini-2.5-flash:generateContent"), gen.URL.Path)
			require.NotContains(t, gen.URL.RawQuery, "alt=")
		})
	}
}

func TestValidateModel(t *testing.T) {
	for _, model := range []string{"gemini-2.5-flash", "gemini-1.5-pro-002", "gemini_exp", "claude-3@20240229", "A.b-C_d@1"} {
		require.NoError(t, ValidateModel(model), model)
	}
	for _, tc := range []struct{ model, msg string }{
		{"", "empty model name"},
		{"..", `model name ".." is a relative path`},
		{".", `model name "." is a relative path`},
		{"../files", `has '/' at byte 2`},
		{"models/gemini", `has '/' at byte 6`},
		{"gemini?alt=json", `has '?' at byte 6`},
		{"gemini#frag", `has '#' at byte 6`},
		{"gemini:generateContent", `has ':' at byte 6`},
		{"gemini%2F..", `has '%' at byte 6`},
		{"gem ini", `has ' ' at byte 3`},
		{"gemini\n", `has '\n' at byte 6`},
		{"gemini\x00", `has '\x00' at byte 6`},
		{"gemini\x7f", `has '\x7f' at byte 6`},
		{"gémini", `has byte 0xc3 at byte 1`},
		{"a\\b", `has '\\' at byte 1`},
		{strings.Repeat("m", 257), "model name is 257 bytes long (at most 256)"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			err := ValidateModel(tc.model)
			require.ErrorIs(t, err, ErrInvalidRequest)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestProviderConfigErrors(t *testing.T) {
	cred := credentialFunc(func(context.Context, *http.Request) error { return nil })
	for _, tc := range []struct {
		name string
		err  error
		msg  string
	}{
		{"gemini no credential", second(NewGemini(GeminiConfig{})), "gemini Credential is required"},
		{"gemini scheme", second(NewGemini(GeminiConfig{BaseURL: "ftp://x", Credential: cred})), `gemini BaseURL must be an http or https URL (got scheme "ftp")`},
		{"gemini no host", second(NewGemini(GeminiConfig{BaseURL: "http:///x", Credential: cred})), "gemini BaseURL has no host"},
		{"gemini fragment", second(NewGemini(GeminiConfig{BaseURL: "http://x/#f", Credential: cred})), "gemini BaseURL must not have a fragment"},
		{"gemini version", second(NewGemini(GeminiConfig{APIVersion: "v1/../x", Credential: cred})), `gemini APIVersion "v1/../x" must be one path segment`},
		{"vertex project missing", second(NewVertex(VertexConfig{Credential: cred})), "vertex Project is required"},
		{"vertex project path", second(NewVertex(VertexConfig{Project: "p/../q", Credential: cred})), `vertex Project "p/../q" must be one path segment`},
		{"vertex location", second(NewVertex(VertexConfig{Project: "p", Location: "evil.com/x", Credential: cred})), `vertex Location "evil.com/x" must be lowercase letters`},
		{"vertex location case", second(NewVertex(VertexConfig{Project: "p", Location: "US-central1", Credential: cred})), `vertex Location "US-central1"`},
		{"vertex no credential", second(NewVertex(VertexConfig{Project: "p"})), "vertex Credential is required"},
		{"sse no URL", second(NewSSE(SSEConfig{})), "sse URL is required"},
		{"sse method", second(NewSSE(SSEConfig{URL: "http://x", Method: "GE T"})), `sse Method "GE T" is not an HTTP method token`},
		{"sse header name", second(NewSSE(SSEConfig{URL: "http://x", Headers: map[string]string{"Bad Name": "v"}})), `sse Headers: "Bad Name" is not a valid header name`},
		{"sse header value", second(NewSSE(SSEConfig{URL: "http://x", Headers: map[string]string{"X-Key": "secret\r\nInjected: 1"}})), `sse Headers: the value of "X-Key" has a CR, LF or NUL`},
		{"simulator", second(NewSimulator(SimulatorConfig{Chunks: -1})), "simulator Chunks and Interval must not be negative"},
		{"runner no provider", second(NewRunner(RunnerConfig{})), "runner Provider is required"},
		{"retry attempts", second(NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Retry: RetryConfig{MaxAttempts: -1}})), "retry MaxAttempts -1 is negative"},
		{"retry jitter", second(NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Retry: RetryConfig{Jitter: 1.5}})), "retry Jitter 1.5 must be in [0, 1]"},
		{"retry multiplier", second(NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Retry: RetryConfig{Multiplier: 0.5}})), "retry Multiplier 0.5 must be at least 1"},
		{"retry intervals", second(NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Retry: RetryConfig{InitialInterval: 20e9, MaxInterval: 10e9}})), "retry MaxInterval 10s is below InitialInterval 20s"},
		{"timeouts", second(NewRunner(RunnerConfig{Provider: &Simulator{}, Manager: nopStreams{}, Timeouts: Timeouts{Idle: -1}})), "timeouts must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.err, ErrInvalidConfig)
			require.ErrorContains(t, tc.err, tc.msg)
		})
	}
	_, err := NewSSE(SSEConfig{URL: "http://x/?key=SECRET", Headers: map[string]string{"Authorization": "SECRET\n"}})
	require.NotContains(t, err.Error(), "SECRET")
}

func TestErrUnsupportedMatchesTheStandardOne(t *testing.T) {
	p, err := NewSSE(SSEConfig{URL: "http://x"})
	require.NoError(t, err)
	_, err = p.GenerateRequest(context.Background(), Request{})
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

func second[T any](_ T, err error) error { return err }

type credentialFunc func(ctx context.Context, req *http.Request) error

func (f credentialFunc) Apply(ctx context.Context, req *http.Request) error { return f(ctx, req) }
