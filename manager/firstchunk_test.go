package manager_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// A stream's info tells when its first chunk was produced: the Time its pusher stamped, or the
// push's own time for an unstamped chunk, and never a later chunk's.
func TestFirstChunkAt(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, manager.Config{})
	stamped := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, tc := range []struct {
		name  string
		first time.Time
	}{
		{"stamped by the pusher", stamped},
		{"stamped at push", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := m.CreateStream(ctx, "")
			require.NoError(t, err)
			info, err := m.Info(ctx, id)
			require.NoError(t, err)
			assert.True(t, info.FirstChunkAt.IsZero(), "no chunk yet")

			before := time.Now()
			require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte("1"), Time: tc.first}))
			after := time.Now()
			require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte("2"), Time: stamped.Add(time.Hour)}))
			info, err = m.Info(ctx, id)
			require.NoError(t, err)
			if tc.first.IsZero() {
				assert.False(t, info.FirstChunkAt.Before(before) || info.FirstChunkAt.After(after), "%s not in [%s, %s]", info.FirstChunkAt, before, after)
			} else {
				assert.Equal(t, tc.first, info.FirstChunkAt)
			}
		})
	}
}
