package plugins

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// runUpstream runs one generation against the fake Gemini, with the retry plugin's rules as the
// runner's decision chain, and returns what the stream recorded.
func runUpstream(t *testing.T, rules string, first upstreamtest.Script, then upstreamtest.Script) ([]manager.Chunk, manager.StreamInfo) {
	t.Helper()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Plugins: []PluginConfig{{Name: "retry", Path: bin("retry"), Config: json.RawMessage(rules)}}})
	fake := upstreamtest.NewServer(t, then)
	fake.Enqueue(first)
	key, err := auth.NewAPIKey("AIza-plugins-test-key")
	require.NoError(t, err)
	provider, err := upstream.NewGemini(upstream.GeminiConfig{BaseURL: fake.URL(), Credential: key})
	require.NoError(t, err)
	runner, err := upstream.NewRunner(upstream.RunnerConfig{Provider: provider, Manager: m, Decider: h.Deciders(),
		Retry: upstream.RetryConfig{MaxAttempts: 4, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, Multiplier: 2}})
	require.NoError(t, err)
	t.Cleanup(runner.CloseIdleConnections)

	ctx := context.Background()
	id, err := m.CreateStream(ctx, "")
	require.NoError(t, err)
	require.NoError(t, runner.Run(ctx, id, upstream.Request{Model: "gemini-2.5-flash", Body: []byte(`{"contents":[{"parts":[{"text":"Hi"}]}]}`)}))
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	defer sub.Close()
	chunks, _ := readAll(t, sub)
	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	return chunks, info
}

func TestErrorHandlerDecidesUpstreamErrors(t *testing.T) {
	ok := upstreamtest.Gemini("Hello", " world")
	t.Run("a 503 retried", func(t *testing.T) {
		chunks, info := runUpstream(t, `{"rules":[{"codes":[503],"action":"retry","max_attempts":3,"backoff":"1ms"}]}`,
			upstreamtest.Error(503, "backend overloaded"), ok)
		assert.Equal(t, manager.StatusCompleted, info.Status)
		require.Len(t, chunks, len(ok.Events()))
		for i, want := range ok.Events() {
			assert.Equal(t, string(want), string(chunks[i].Data))
		}
	})
	t.Run("the same 503 terminated by another rule", func(t *testing.T) {
		chunks, info := runUpstream(t, `{"rules":[{"codes":[503],"action":"terminate"}]}`,
			upstreamtest.Error(503, "backend overloaded"), ok)
		assert.Equal(t, manager.StatusError, info.Status)
		require.Len(t, chunks, 1)
		assert.Equal(t, &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "backend overloaded"}, chunks[0].Err)
	})
	t.Run("a 400 rewritten", func(t *testing.T) {
		chunks, info := runUpstream(t, `{"rules":[{"codes":[400],"action":"terminate","message":"The request was rejected."}]}`,
			upstreamtest.Error(400, "API key AIza... is invalid for project 1234"), ok)
		assert.Equal(t, manager.StatusError, info.Status)
		require.Len(t, chunks, 1)
		want := &manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: "The request was rejected."}
		assert.Equal(t, want, chunks[0].Err)
		assert.Equal(t, string(want.JSON()), string(chunks[0].Data))
		assert.NotContains(t, info.CloseReason, "project 1234")
	})
}
