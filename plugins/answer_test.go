package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// The host's refusals carry what a client is told; errors.Is and the text stay the refusal's.
func TestAnswer(t *testing.T) {
	unavailable := fmt.Errorf("%w: send Open: broken pipe", ErrUnavailable)
	refused := &ConfigError{Plugin: "jsonl", Subscription: true}
	trimmed := fmt.Errorf("subscribe to stream s: %w", manager.ErrHistoryTrimmed)
	for _, tt := range []struct {
		name string
		err  error
		want *manager.StreamError // nil: left as it is
	}{
		{"unknown transport", fmt.Errorf("subscribe to stream s: %w %q", ErrUnknownTransport, "kafka"),
			&manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `no transport plugin named "kafka"`}},
		{"refused config", refused,
			&manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: refused.Error()}},
		{"plugin down", unavailable,
			&manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: unavailable.Error(), RetryAfter: time.Second}},
		{"host closed", ErrClosed,
			&manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "plugin host closed", RetryAfter: time.Second}},
		{"the manager's error", trimmed, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := answer(tt.err, "kafka")
			assert.Equal(t, tt.err.Error(), got.Error())
			assert.ErrorIs(t, got, tt.err)
			var se *manager.StreamError
			if tt.want == nil {
				assert.Same(t, tt.err, got)
				assert.False(t, errors.As(got, &se))
				return
			}
			require.ErrorAs(t, got, &se)
			assert.Equal(t, tt.want, se)
		})
	}
}

func TestSubscribeAndUnsubscribeAnswers(t *testing.T) {
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{jsonlPlugin(t.TempDir(), AttachRule{})}})
	ctx := context.Background()
	id := createStream(t, m)
	var se *manager.StreamError

	_, err := h.Subscribe(ctx, id, "nope", nil)
	require.ErrorIs(t, err, ErrUnknownTransport)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `no transport plugin named "nope"`}, se)

	_, err = h.Subscribe(ctx, id, "jsonl", json.RawMessage(`{`))
	require.ErrorIs(t, err, ErrBadConfig)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 400, se.Code)

	err = h.Unsubscribe(ctx, id, "sub-x")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `subscription "sub-x" of stream "` + id + `" not found`}, se)

	_, err = h.Subscribe(ctx, "no-such-stream", "jsonl", nil)
	require.ErrorIs(t, err, manager.ErrNotFound)
	assert.False(t, errors.As(err, &se), "the manager's errors carry no answer of the host")
}
