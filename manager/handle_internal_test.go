package manager

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A stream holds an AfterClose callback no longer than it must: a retained closed stream would
// otherwise keep its runner's context for RetainClosed.
func TestAfterCloseLetsTheCallbackGo(t *testing.T) {
	ctx := context.Background()
	m, err := New(Config{})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Shutdown(ctx)) }()
	for _, stopFirst := range []bool{true, false} {
		id, err := m.CreateStream(ctx, "")
		require.NoError(t, err)
		h, err := m.Handle(ctx, id)
		require.NoError(t, err)
		stop := h.AfterClose(func() {})
		keep := h.AfterClose(func() {})
		require.NotNil(t, h.s.hooks.next)
		if stopFirst {
			require.True(t, stop())
			require.True(t, keep())
			require.Nil(t, h.s.hooks)
		}
		require.NoError(t, m.CloseStream(ctx, id, "done"))
		require.Nil(t, h.s.hooks)
	}
}
