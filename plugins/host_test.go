package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

var labels = map[string]string{"model": "gemini-2.5-flash", "tenant": "acme"}

func newManagerWith(t *testing.T, cfg manager.Config) *manager.Manager {
	t.Helper()
	m, err := manager.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Shutdown(context.Background())) })
	return m
}

func jsonlPlugin(dir string, attach AttachRule) PluginConfig {
	return PluginConfig{Name: "jsonl", Path: bin("jsonl"), Attach: attach,
		Config: json.RawMessage(fmt.Sprintf(`{"dir":%q,"fsync":"never"}`, dir))}
}

func createStream(t *testing.T, m *manager.Manager) string {
	t.Helper()
	id, err := m.CreateStreamWith(context.Background(), manager.StreamOptions{Labels: labels})
	require.NoError(t, err)
	return id
}

// payload is the data of the i-th test chunk: JSON mostly, plain text every seventh.
func payload(i int) []byte {
	if i%7 == 0 {
		return []byte(fmt.Sprintf("plain text %d", i))
	}
	return []byte(fmt.Sprintf(`{"candidates":[{"content":{"parts":[{"text":"part %d"}]}}]}`, i))
}

// readAll collects what an in-process subscriber of the stream sees, up to the end.
func readAll(t *testing.T, sub *manager.Subscription) ([]manager.Chunk, *manager.ClosedError) {
	t.Helper()
	var got []manager.Chunk
	for {
		ch, err := sub.Next(context.Background())
		var closed *manager.ClosedError
		if errors.As(err, &closed) {
			return got, closed
		}
		require.NoError(t, err)
		got = append(got, ch)
	}
}

// jsonlOf is the file the jsonl plugin must write for these chunks and close line.
func jsonlOf(streamID string, chunks []manager.Chunk, closeLine string) string {
	var b strings.Builder
	for _, c := range chunks {
		data := string(c.Data)
		if !json.Valid(c.Data) {
			q, _ := json.Marshal(data)
			data = string(q)
		}
		fmt.Fprintf(&b, `{"stream_id":%q,"id":%d,"event":%q,"data":%s}`+"\n", streamID, c.ID, c.Event, data)
	}
	return b.String() + closeLine + "\n"
}

// onlySubscription returns the stream's one subscription.
func onlySubscription(h *Host, streamID string) *subscription {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	for _, s := range h.subs[streamID] {
		return s
	}
	return nil
}

func waitSubscriptionsGone(t *testing.T, h *Host, streamID string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(h.Subscriptions(streamID)) == 0 }, 10*time.Second, 5*time.Millisecond)
}

// jsonlPath is where the jsonl plugin writes a stream whose tenant and ID need no escaping.
func jsonlPath(t *testing.T, m *manager.Manager, dir, id string) string {
	t.Helper()
	info, err := m.Info(context.Background(), id)
	require.NoError(t, err)
	return filepath.Join(dir, info.Labels["tenant"], id+"."+info.Instance+".jsonl")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestAttachedJSONLWritesExactlyWhatSubscribersSaw(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{Models: []string{"gemini-2.5-flash"}})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, h.Attach(ctx, id, labels))
	assert.Len(t, h.Subscriptions(id)["jsonl"], 1)
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)

	for i := 1; i <= 500; i++ {
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(i)}))
	}
	require.NoError(t, m.HandleStreamError(ctx, id, &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "model overloaded"}, true))
	seen, closed := readAll(t, sub)
	require.Len(t, seen, 501)
	waitSubscriptionsGone(t, h, id)

	want := jsonlOf(id, seen, fmt.Sprintf(`{"stream_id":%q,"closed":true,"reason":%q,"error":{"code":503,"status":"UNAVAILABLE","message":"model overloaded"}}`, id, closed.Reason))
	assert.Equal(t, want, readFile(t, jsonlPath(t, m, dir, id)))
}

func TestAttachRules(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{
		jsonlPlugin(dir, AttachRule{Tenants: []string{"other"}}),
		{Name: "tp", Path: bin("testplugin"), Attach: AttachRule{All: true}},
	}})
	id := createStream(t, m)
	require.NoError(t, h.Attach(context.Background(), id, nil))
	subs := h.Subscriptions(id)
	assert.Len(t, subs["tp"], 1)
	assert.NotContains(t, subs, "jsonl")
	info, err := m.Info(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, 1, info.Clients)
	assert.Equal(t, 1, info.Passive, "a subscription attached by rule only observes the stream")

	for _, tc := range []struct {
		rule AttachRule
		want bool
	}{
		{AttachRule{}, false},
		{AttachRule{All: true}, true},
		{AttachRule{Models: []string{"gemini-2.5-flash"}}, true},
		{AttachRule{Models: []string{"other"}}, false},
		{AttachRule{Models: []string{"gemini-2.5-flash"}, Tenants: []string{"acme"}}, true},
		{AttachRule{Models: []string{"gemini-2.5-flash"}, Tenants: []string{"other"}}, false},
	} {
		assert.Equal(t, tc.want, tc.rule.Matches(labels), "%+v", tc.rule)
	}
}

func TestKilledPluginIsRestartedAndTheFileStaysExact(t *testing.T) {
	dir := t.TempDir()
	rec := newRecorder()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Logger: slog.New(rec), RestartMinBackoff: 10 * time.Millisecond,
		Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, h.Attach(ctx, id, labels))
	sub, err := m.Subscribe(ctx, id, 0)
	require.NoError(t, err)
	pid := h.byName["jsonl"].current().pid()

	for i := 1; i <= 3000; i++ {
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(i)}))
		switch i {
		case 1500: // let the plugin make progress, then kill it while it works on more
			require.Eventually(t, func() bool { return onlySubscription(h, id).acked.Load() >= 1000 }, 5*time.Second, time.Millisecond)
		case 2000:
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		}
	}
	require.NoError(t, m.CloseStream(ctx, id, manager.ReasonCompleted))
	seen, _ := readAll(t, sub)
	require.Len(t, seen, 3000)
	waitSubscriptionsGone(t, h, id)

	assert.Equal(t, jsonlOf(id, seen, fmt.Sprintf(`{"stream_id":%q,"closed":true,"reason":"completed"}`, id)),
		readFile(t, jsonlPath(t, m, dir, id)))
	assert.NotEqual(t, pid, h.byName["jsonl"].current().pid(), "the plugin runs in a new process")
	_, attrs, ok := rec.find("subscription re-attached")
	assert.True(t, ok, "messages: %q", rec.messages())
	t.Logf("re-attached after chunk %s", attrs["after"])
}

func TestSubscriptionClosedWhenHistoryIsGone(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{HistorySize: 16})
	h := startHost(t, Config{Streams: m, RestartMinBackoff: 300 * time.Millisecond,
		Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, h.Attach(ctx, id, labels))
	var first []manager.Chunk
	for i := 1; i <= 5; i++ {
		first = append(first, manager.Chunk{ID: uint64(i), Data: payload(i)})
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(i)}))
	}
	require.Eventually(t, func() bool { return onlySubscription(h, id).acked.Load() == 5 }, 5*time.Second, time.Millisecond)

	require.NoError(t, syscall.Kill(h.byName["jsonl"].current().pid(), syscall.SIGKILL))
	for i := 6; i <= 100; i++ {
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(i)}))
	}
	waitSubscriptionsGone(t, h, id)

	got := readFile(t, jsonlPath(t, m, dir, id))
	prefix := jsonlOf(id, first, "")
	require.True(t, strings.HasPrefix(got, prefix[:len(prefix)-1]), got)
	var last struct {
		Closed bool   `json:"closed"`
		Reason string `json:"reason"`
		Error  struct {
			Code   int    `json:"code"`
			Status string `json:"status"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(got, prefix[:len(prefix)-1])), &last))
	assert.True(t, last.Closed)
	assert.True(t, strings.HasPrefix(last.Reason, "plugin restarted; the stream can no longer be resumed after chunk 5: "), last.Reason)
	assert.Contains(t, last.Reason, manager.ErrHistoryTrimmed.Error())
	assert.Equal(t, 410, last.Error.Code)
	assert.Equal(t, "FAILED_PRECONDITION", last.Error.Status)
}

func TestSubscribeAndUnsubscribe(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{
		jsonlPlugin(dir, AttachRule{}),
		{Name: "retry", Path: bin("retry")},
	}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte(`{"a":1}`)}))

	subID, err := h.Subscribe(ctx, id, "jsonl", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"jsonl": {subID}}, h.Subscriptions(id))
	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 1, info.Clients)
	assert.Zero(t, info.Passive, "a subscription asked for keeps the stream wanted")
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte(`{"a":2}`)}))
	path := jsonlPath(t, m, dir, id)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(path)
		return strings.Count(string(b), "\n") == 2
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, h.Unsubscribe(ctx, id, subID))
	assert.Empty(t, h.Subscriptions(id))
	assert.Equal(t, fmt.Sprintf(`{"stream_id":%[1]q,"id":1,"event":"","data":{"a":1}}
{"stream_id":%[1]q,"id":2,"event":"","data":{"a":2}}
{"stream_id":%[1]q,"closed":true,"reason":"unsubscribed"}
`, id), readFile(t, path))
	count, err := m.ClientCount(ctx, id)
	require.NoError(t, err)
	assert.Zero(t, count, "the plugin's client left the stream")

	err = h.Unsubscribe(ctx, id, subID)
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = h.Subscribe(ctx, id, "retry", nil)
	assert.ErrorIs(t, err, ErrUnknownTransport)
	_, err = h.Subscribe(ctx, id, "nope", nil)
	assert.ErrorIs(t, err, ErrUnknownTransport)
	_, err = h.Subscribe(ctx, "no-such-stream", "jsonl", nil)
	assert.ErrorIs(t, err, manager.ErrNotFound)
	_, err = h.Subscribe(ctx, id, "jsonl", json.RawMessage(`{"dir":"/etc"}`))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, `plugin jsonl refused the subscription: error at /dir: unknown field "dir"`, ce.Error())
	_, err = h.Subscribe(ctx, id, "jsonl", json.RawMessage(`{`))
	assert.ErrorIs(t, err, ErrBadConfig)
	count, err = m.ClientCount(ctx, id)
	require.NoError(t, err)
	assert.Zero(t, count, "refused subscriptions leave no client behind")
}

func TestSubscribeToAFinishedStreamReplaysIt(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte(`1`)}))
	require.NoError(t, m.CloseStream(ctx, id, manager.ReasonCompleted))
	_, err := h.Subscribe(ctx, id, "jsonl", nil)
	require.NoError(t, err)
	waitSubscriptionsGone(t, h, id)
	assert.Equal(t, fmt.Sprintf(`{"stream_id":%[1]q,"id":1,"event":"","data":1}
{"stream_id":%[1]q,"closed":true,"reason":"completed"}
`, id), readFile(t, jsonlPath(t, m, dir, id)))
}

func TestShutdownAndCloseReachThePlugin(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	a, b := createStream(t, m), createStream(t, m)
	paths := map[string]string{a: jsonlPath(t, m, dir, a), b: jsonlPath(t, m, dir, b)}
	require.NoError(t, h.Attach(ctx, a, labels))
	require.NoError(t, h.Attach(ctx, b, labels))
	require.NoError(t, h.Close(ctx))
	require.NoError(t, m.Shutdown(ctx))
	for id, path := range paths {
		assert.Equal(t, fmt.Sprintf(`{"stream_id":%q,"closed":true,"reason":"plugin host closing"}`+"\n", id), readFile(t, path))
	}
	_, err := h.Subscribe(ctx, a, "jsonl", nil)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestManagerShutdownClosesSessions(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, h.Attach(ctx, id, labels))
	path := jsonlPath(t, m, dir, id)
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte(`1`)}))
	require.NoError(t, m.Shutdown(ctx)) // waits for the plugin's client to drain
	assert.Equal(t, fmt.Sprintf(`{"stream_id":%[1]q,"id":1,"event":"","data":1}
{"stream_id":%[1]q,"closed":true,"reason":"shutting down"}
`, id), readFile(t, path))
	waitSubscriptionsGone(t, h, id)
}

// deliveredIDs lists the chunk IDs the test plugin logged as delivered.
func deliveredIDs(rec *recorder) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, r := range *rec.recs {
		if r.Message != "delivered" {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "id" {
				out = append(out, a.Value.String())
			}
			return true
		})
	}
	return out
}

func TestDeliveryDecisionsThroughErrorHandlers(t *testing.T) {
	seq := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprint(i))
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		transport string
		handlers  []PluginConfig
		delivered []string
		reason    string
	}{
		{name: "built-in policy retries", transport: `{"nack":[3],"times":2,"code":503,"log_chunks":true}`,
			delivered: seq(1, 10), reason: "completed"},
		{name: "built-in policy gives up", transport: `{"nack":[3],"times":100,"code":503,"log_chunks":true}`,
			reason: "delivery failed after 3 attempts: chunk 3 refused on purpose"},
		{name: "handler skips", transport: `{"nack":[3],"times":100,"code":429,"log_chunks":true}`,
			handlers:  []PluginConfig{{Name: "retry", Path: bin("retry"), Config: json.RawMessage(`{"rules":[{"codes":[429],"phase":"delivery","action":"skip"}]}`)}},
			delivered: seq(4, 10), reason: "completed"},
		{name: "handler terminates with a rewritten message", transport: `{"nack":[3],"times":100,"code":400,"log_chunks":true}`,
			handlers: []PluginConfig{{Name: "retry", Path: bin("retry"), Config: json.RawMessage(retryRules)}},
			reason:   "delivery failed: The request was rejected."},
		{name: "handler retries", transport: `{"nack":[3],"times":2,"code":503,"log_chunks":true}`,
			handlers:  []PluginConfig{{Name: "retry", Path: bin("retry"), Config: json.RawMessage(`{"rules":[{"codes":[503],"action":"retry","max_attempts":5,"backoff":"1ms"}]}`)}},
			delivered: seq(1, 10), reason: "completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			m := newManagerWith(t, manager.Config{})
			plugins := append([]PluginConfig{{Name: "tp", Path: bin("testplugin"), Attach: AttachRule{All: true}, Config: json.RawMessage(tc.transport)}}, tc.handlers...)
			h := startHost(t, Config{Streams: m, Logger: slog.New(rec), MaxBatch: 1, DeliveryAttempts: 3,
				DeliveryMinBackoff: time.Millisecond, DeliveryMaxBackoff: 2 * time.Millisecond, Plugins: plugins})
			ctx := context.Background()
			id := createStream(t, m)
			require.NoError(t, h.Attach(ctx, id, labels))
			for i := 1; i <= 10; i++ {
				require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(i)}))
			}
			require.NoError(t, m.CloseStream(ctx, id, manager.ReasonCompleted))
			waitSubscriptionsGone(t, h, id)
			require.Eventually(t, func() bool {
				_, _, ok := rec.find("session closed")
				return ok
			}, 5*time.Second, time.Millisecond)
			_, attrs, _ := rec.find("session closed")
			assert.Equal(t, tc.reason, attrs["reason"])
			got := deliveredIDs(rec)
			if tc.delivered == nil {
				assert.Equal(t, []string{"1", "2"}, got, "delivery stopped at the failing chunk")
			} else {
				assert.Equal(t, expectedDelivered(tc.delivered), got)
			}
		})
	}
}

// expectedDelivered adds chunks 1 and 2, which precede the failure, when the list skips them.
func expectedDelivered(ids []string) []string {
	if ids[0] == "1" {
		return ids
	}
	return append([]string{"1", "2"}, ids...)
}
