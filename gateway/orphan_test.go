package gateway_test

import (
	"bufio"
	"context"
	"net/http"
	"sync"
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

// attacher subscribes an in-process consumer to every new stream, as a transport plugin host does.
type attacher struct {
	m      *manager.Manager
	mu     sync.Mutex
	labels []map[string]string
	subs   []*manager.Subscription
}

func (a *attacher) Attach(ctx context.Context, streamID string, labels map[string]string) error {
	sub, err := a.m.Subscribe(ctx, streamID, 0)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.labels = append(a.labels, labels)
	a.subs = append(a.subs, sub)
	return nil
}

func TestAttacherFollowsNewStreams(t *testing.T) {
	var a attacher
	e := newEnv(t, options{
		script:  slowScript(20, 2*time.Millisecond),
		gateway: func(c *gateway.Config) { c.Attacher = &a },
	})
	a.m = e.m
	status, body := e.do("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, status, string(body))
	pushID := e.createStream(bobKey, map[string]any{})

	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.subs, 2)
	assert.Equal(t, map[string]string{"tenant": "acme", "key_id": "alice", "model": "gemini-2.5-flash", "kind": "generate", "source": "gemini"}, a.labels[0])
	assert.Equal(t, map[string]string{"tenant": "globex", "key_id": "bob", "model": "", "kind": "push", "source": "api"}, a.labels[1])
	var got int
	for {
		_, err := a.subs[0].Next(context.Background())
		if err != nil {
			var closed *manager.ClosedError
			require.ErrorAs(t, err, &closed)
			assert.Equal(t, "completed", closed.Reason)
			break
		}
		got++
	}
	assert.Equal(t, 20, got, "the attached consumer got the generation from its first chunk")
	e.push(bobKey, pushID, 1, "")
	ch, err := a.subs[1].Next(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "1", string(ch.Data))
	for _, s := range a.subs {
		s.Close()
	}
}
