package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

// hostTransports stands in for one replica's plugin host, the way *plugins.Host serves a
// subscription: a local client registered on the replica's Node from the stream's first chunk.
// Transport "rec" records; "slow" answers only when its context ends; "crowded" refuses with a
// manager sentinel; any other name is unknown, answered as the host answers it.
type hostTransports struct {
	rn *replicaNode
	mu sync.Mutex
	n  int
	// subs are the live subscriptions, by ID; configs the config each was made with.
	subs    map[string]*watcher
	streams map[string]string
	configs map[string]string
}

var _ cluster.Transports = (*hostTransports)(nil)

func serveTransports(t *testing.T, rn *replicaNode) *hostTransports {
	h := &hostTransports{rn: rn, subs: map[string]*watcher{}, streams: map[string]string{}, configs: map[string]string{}}
	t.Cleanup(rn.node.ServeTransports(h))
	return h
}

func (h *hostTransports) Subscribe(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error) {
	switch transport {
	case "rec":
	case "slow":
		<-ctx.Done()
		return "", fmt.Errorf("open session: %w", ctx.Err())
	case "crowded":
		return "", fmt.Errorf("subscribe to stream %s: %w", streamID, manager.ErrTooManyClients)
	default:
		return "", &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "no transport plugin named " + strconv.Quote(transport)}
	}
	h.mu.Lock()
	h.n++
	id := fmt.Sprintf("%s-sub-%d", h.rn.name, h.n)
	h.mu.Unlock()
	w := newWatcher(id)
	if err := h.rn.node.RegisterClientFrom(ctx, streamID, w, 0); err != nil {
		return "", err
	}
	h.mu.Lock()
	h.subs[id], h.streams[id], h.configs[id] = w, streamID, string(config)
	h.mu.Unlock()
	return id, nil
}

func (h *hostTransports) Unsubscribe(ctx context.Context, streamID, subID string) error {
	h.mu.Lock()
	w, ok := h.subs[subID]
	if ok && h.streams[subID] == streamID {
		delete(h.subs, subID)
	}
	h.mu.Unlock()
	if !ok {
		return &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "subscription " + strconv.Quote(subID) + " not found"}
	}
	return h.rn.node.DeregisterClient(ctx, streamID, w.ID())
}

func (h *hostTransports) Subscriptions(streamID, _ string) []cluster.Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []cluster.Subscription
	for id, s := range h.streams {
		if _, live := h.subs[id]; live && s == streamID {
			out = append(out, cluster.Subscription{ID: id, Transport: "rec"})
		}
	}
	return out
}

func (h *hostTransports) config(id string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.configs[id]
}

func (h *hostTransports) sub(id string) *watcher {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[id]
}

// A subscription asked through a replica that does not own the stream runs on the owner, with
// the config as it was sent, and gets every chunk, whichever replica pushed it; it is listed and
// ended through any replica. The owner's refusals reach the asker as the owner's host made them.
func TestNodeSubscriptionThroughANonOwner(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, b, c := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{}), newNode(t, srv, "c", nodeConfig{})
	ha, hb := serveTransports(t, a), serveTransports(t, b)
	pushStream(t, a, "s")
	a.pushN(t, "s", "early-", 2)

	id, err := b.node.Subscribe(ctx, "s", "rec", json.RawMessage(`{"dir": "/tmp/x"}`))
	require.NoError(t, err)
	assert.Equal(t, "a-sub-1", id, "the owner's host made it")
	assert.Empty(t, hb.Subscriptions("s", ""), "nothing runs on the asker")
	assert.Equal(t, `{"dir": "/tmp/x"}`, ha.config(id))
	b.pushN(t, "s", "b-", 2)
	c.pushN(t, "s", "c-", 2)
	w := ha.sub(id)
	eventually(t, "the owner's subscription has every chunk", func() bool { return len(w.ids()) == 6 })
	assert.Equal(t, seq(1, 6), w.ids())

	info, err := c.node.Info(ctx, "s")
	require.NoError(t, err)
	for _, rn := range []*replicaNode{a, b, c} {
		subs, err := rn.node.Subscriptions(ctx, "s", info.Instance)
		require.NoError(t, err, rn.name)
		assert.Equal(t, []cluster.Subscription{{ID: id, Transport: "rec"}}, subs, rn.name)
	}

	for _, tc := range []struct {
		name, transport string
		want            error
	}{
		{"unknown plugin", "nope", &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `no transport plugin named "nope"`}},
		{"a manager sentinel", "crowded", manager.ErrTooManyClients},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.node.Subscribe(ctx, "s", tc.transport, nil)
			require.Error(t, err)
			if want, ok := tc.want.(*manager.StreamError); ok {
				assert.Equal(t, want, manager.AsStreamError(err))
				return
			}
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, "subscribe to stream s: "+tc.want.Error(), err.Error())
		})
	}

	err = c.node.Unsubscribe(ctx, "s", "a-sub-99")
	assert.Equal(t, &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `subscription "a-sub-99" not found`}, manager.AsStreamError(err))
	require.NoError(t, c.node.Unsubscribe(ctx, "s", id))
	assert.Nil(t, ha.sub(id), "ended on the owner")
	subs, err := b.node.Subscriptions(ctx, "s", info.Instance)
	require.NoError(t, err)
	assert.Empty(t, subs)

	_, err = b.node.Subscribe(ctx, "missing", "rec", nil)
	assert.ErrorIs(t, err, manager.ErrNotFound)
}

// A closed stream's subscription runs on the replica asked: every chunk it will have is in Redis.
func TestNodeSubscriptionToAClosedStream(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, b := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{})
	ha, hb := serveTransports(t, a), serveTransports(t, b)
	pushStream(t, a, "s")
	a.pushN(t, "s", "x", 3)
	require.NoError(t, a.node.CloseStream(ctx, "s", "completed"))

	id, err := b.node.Subscribe(ctx, "s", "rec", nil)
	require.NoError(t, err)
	assert.Equal(t, "b-sub-1", id)
	assert.Empty(t, ha.Subscriptions("s", ""))
	w := hb.sub(id)
	waitFor(t, "the subscription ended with the stream", w.ended)
	assert.Equal(t, seq(1, 3), w.ids())
	assert.Equal(t, manager.StatusCompleted, w.closed().Status)
}

// An owner that is gone (killed: its live connection hears nothing any more) is a 503 at once,
// and its subscriptions ended with it; one that does not answer is a 503 after ControlTimeout.
func TestNodeSubscriptionOwnerGoneOrSilent(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a := newNode(t, srv, "a", nodeConfig{})
	b := newNode(t, srv, "b", nodeConfig{node: cluster.NodeConfig{ControlTimeout: 300 * time.Millisecond}})
	serveTransports(t, a)
	serveTransports(t, b)
	pushStream(t, a, "s")

	_, err := b.node.Subscribe(ctx, "s", "slow", nil)
	assert.Equal(t, &manager.StreamError{Code: 503, Status: "UNAVAILABLE", RetryAfter: cluster.RetryAfter,
		Message: "replica a, the stream's owner, did not answer within 300ms"}, manager.AsStreamError(err))

	info, err := b.node.Info(ctx, "s")
	require.NoError(t, err)
	a.node.Kill()
	gone := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "replica a, the stream's owner, is gone"}
	_, err = b.node.Subscribe(ctx, "s", "rec", nil)
	assert.Equal(t, gone, manager.AsStreamError(err))
	subs, err := b.node.Subscriptions(ctx, "s", info.Instance)
	require.NoError(t, err)
	assert.Empty(t, subs)
	err = b.node.Unsubscribe(ctx, "s", "a-sub-1")
	assert.Equal(t, &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `subscription "a-sub-1" not found`}, manager.AsStreamError(err))
}

// Without a plugin host every transport is unknown, on the owner as on the asker.
func TestNodeSubscriptionWithoutPlugins(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, b := newNode(t, srv, "a", nodeConfig{}), newNode(t, srv, "b", nodeConfig{})
	pushStream(t, a, "s")
	for _, rn := range []*replicaNode{a, b} {
		_, err := rn.node.Subscribe(ctx, "s", "jsonl", nil)
		assert.Equal(t, &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `no transport plugin named "jsonl"`}, manager.AsStreamError(err), rn.name)
	}
}
