package ctxwait_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/internal/ctxwait"
)

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		assert.True(t, ctxwait.Sleep(t.Context(), time.Second))
		assert.Equal(t, time.Second, time.Since(start))

		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start = time.Now()
		assert.False(t, ctxwait.Sleep(ctx, time.Second), "the context ended the wait")
		assert.Equal(t, 300*time.Millisecond, time.Since(start))

		assert.True(t, ctxwait.Sleep(t.Context(), 0))
		assert.False(t, ctxwait.Sleep(ctx, -time.Second), "a dead context reports false at once")
	})
}
