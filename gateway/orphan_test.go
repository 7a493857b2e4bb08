package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

func TestDisconnectCancelsUpstream(t *testing.T) {
	e := newEnv(t, options{script: slowScript(100, 10*time.Millisecond)})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()

	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond,
		"the upstream request is cancelled when the only subscriber leaves")
	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, gateway.ReasonClientDisconnected, info.CloseReason)
	assert.Less(t, info.LastEventID, uint64(100))
}

func TestOrphanGraceLetsAWatcherTakeOver(t *testing.T) {
	e := newEnv(t, options{
		script:  slowScript(30, 10*time.Millisecond),
		gateway: func(c *gateway.Config) { c.OrphanGrace = 5 * time.Second },
	})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()
	e.waitClients(id, 0)
	assert.Equal(t, "active", e.info(aliceKey, id).Status, "the stream outlives its caller for the grace period")

	watcher := e.subscribe(aliceKey, id, "?after=1")
	defer watcher.close()
	events := watcher.rest()
	require.Len(t, events, 30)
	assert.Equal(t, "2", events[0].ID)
	assert.Equal(t, "done", events[29].Type)
	assert.Equal(t, `{"status":"completed","reason":"completed"}`, events[29].Data)
	assert.Zero(t, e.fake.CancelledCount())
}

func TestOrphanGraceExpires(t *testing.T) {
	e := newEnv(t, options{
		script:  slowScript(100, 10*time.Millisecond),
		gateway: func(c *gateway.Config) { c.OrphanGrace = 30 * time.Millisecond },
	})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()
	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, gateway.ReasonClientDisconnected, info.CloseReason)
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}

func TestBackgroundGenerationNeverOrphans(t *testing.T) {
	e := newEnv(t, options{script: slowScript(10, 5*time.Millisecond)})
	id := e.createStream(aliceKey, map[string]any{"model": "gemini-2.5-flash", "request": map[string]any{"contents": []any{}}})
	sub := e.subscribe(aliceKey, id, "")
	sub.next()
	sub.close()
	info := e.waitStatus(aliceKey, id, "completed")
	assert.Equal(t, "completed", info.CloseReason)
	assert.Equal(t, uint64(10), info.LastEventID)
	assert.Zero(t, e.fake.CancelledCount())
}

// flakyWatched is the manager as cluster mode's Streams would be (it answers Watched, so the
// gateway asks it rather than the local counts) whose first Watched fails, as one Redis error
// would.
type flakyWatched struct {
	*manager.Manager
	failed atomic.Bool
}

func (f *flakyWatched) List(ctx context.Context, _ string) ([]manager.StreamInfo, error) {
	return f.Manager.List(ctx)
}

func (f *flakyWatched) Watched(ctx context.Context, id string) (bool, error) {
	if f.failed.CompareAndSwap(false, true) {
		return false, errors.New("redis: connection reset")
	}
	info, err := f.Info(ctx, id)
	if err != nil {
		return false, err
	}
	return info.Clients > info.Passive, nil
}

func TestOrphanCheckFailureChecksAgain(t *testing.T) {
	var streams *flakyWatched
	e := newEnv(t, options{
		script: slowScript(100, 10*time.Millisecond),
		gateway: func(c *gateway.Config) {
			streams = &flakyWatched{Manager: c.Manager}
			c.Streams = streams
			c.OrphanGrace = 30 * time.Millisecond
		},
	})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	readFrame(t, bufio.NewReader(resp.Body))
	resp.Body.Close()
	info := e.waitStatus(aliceKey, id, "completed")
	assert.True(t, streams.failed.Load(), "the first orphan check failed")
	assert.Equal(t, gateway.ReasonClientDisconnected, info.CloseReason, "a failed check is asked again, not taken as watched")
	require.Eventually(t, func() bool { return e.fake.CancelledCount() == 1 }, 5*time.Second, time.Millisecond)
}
