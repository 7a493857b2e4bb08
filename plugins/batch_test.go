package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// batchTransport records the chunk IDs of every batch it is handed.
type batchTransport struct {
	mu      sync.Mutex
	batches [][]uint64
}

func (b *batchTransport) Open(context.Context, sdk.OpenRequest) (sdk.Session, error) { return b, nil }

func (b *batchTransport) Deliver(_ context.Context, chunks []sdk.Chunk) error {
	ids := make([]uint64, len(chunks))
	for i, c := range chunks {
		ids[i] = c.ID
	}
	b.mu.Lock()
	b.batches = append(b.batches, ids)
	b.mu.Unlock()
	return nil
}

func (b *batchTransport) Close(context.Context, sdk.CloseInfo) error { return nil }

func (b *batchTransport) got() [][]uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]uint64(nil), b.batches...)
}

// sized returns chunks from to to of n data bytes each, stamped with small times.
func sized(from, to uint64, n int) []manager.Chunk {
	var out []manager.Chunk
	for id := from; id <= to; id++ {
		out = append(out, manager.Chunk{ID: id, Data: []byte(strings.Repeat("x", n)), Time: time.Unix(0, int64(id))})
	}
	return out
}

func TestSessionBatchesAreCappedByBytes(t *testing.T) {
	b := &batchTransport{}
	c, _ := connectInProcess(t, b)
	cfg := testSessionConfig(nil)
	cfg.maxBytes = 1000
	s, acked := open(t, c, cfg, 0)
	// Each chunk takes 310 bytes of a batch: 300 of data, 7 for its three fields, 3 as an element.
	require.NoError(t, s.Deliver(context.Background(), sized(1, 10, 300)))
	require.NoError(t, s.Closed(context.Background(), completed))
	assert.Equal(t, [][]uint64{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10}}, b.got())
	assert.Equal(t, uint64(10), acked.Load())
}

func TestSessionResendsAreCappedByBytes(t *testing.T) {
	m := &memTransport{fail: map[uint64]int{5: 2}}
	c, _ := connectInProcess(t, m)
	cfg := testSessionConfig(nil)
	cfg.maxBytes = 1000
	s, _ := open(t, c, cfg, 0)
	require.NoError(t, s.Deliver(context.Background(), sized(1, 10, 300)))
	require.NoError(t, s.Closed(context.Background(), completed))
	delivered, _ := m.got()
	assert.Equal(t, ids(1, 10), delivered)
}

func TestSessionChunkTooLargeForAMessage(t *testing.T) {
	b := &batchTransport{}
	c, _ := connectInProcess(t, b)
	cfg := testSessionConfig(nil)
	cfg.maxBytes = 1000
	s, acked := open(t, c, cfg, 0)
	in := append(sized(1, 2, 300), sized(3, 3, 991)...)
	in = append(in, sized(4, 4, 10)...)
	err := s.Deliver(context.Background(), in)
	msg := "chunk 3 is too large for the plugin transport: 1001 bytes encoded, one message carries at most 1000"
	assert.Equal(t, &terminatedError{Reason: "delivery failed: " + msg, Err: &manager.StreamError{Code: 413, Status: "INVALID_ARGUMENT", Message: msg}}, err)
	assert.Equal(t, [][]uint64{{1, 2}}, b.got(), "what precedes the chunk was delivered")
	assert.Equal(t, uint64(2), acked.Load())
	s.abort()
}

// tenMiB is a JSON chunk of exactly 10 MiB.
func tenMiB(i int) []byte {
	return []byte(`{"text":"` + strings.Repeat(string(rune('a'+i)), 10<<20-len(`{"text":""}`)) + `"}`)
}

// The case: 8 chunks of 10 MiB exceed one gRPC message together; they reach the jsonl
// file in byte-capped batches, and the session is never lost on the way.
func TestLargeChunksReachTheJSONLFile(t *testing.T) {
	dir := t.TempDir()
	rec := newRecorder()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Logger: slog.New(rec), Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, h.Attach(ctx, id, nil))
	var pushed []manager.Chunk
	for i := 1; i <= 8; i++ {
		data := tenMiB(i)
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: data}))
		pushed = append(pushed, manager.Chunk{ID: uint64(i), Data: data})
	}
	require.NoError(t, m.CloseStream(ctx, id, manager.ReasonCompleted))
	waitSubscriptionsGone(t, h, id)

	want := jsonlOf(id, pushed, fmt.Sprintf(`{"stream_id":%q,"closed":true,"reason":"completed"}`, id))
	got := readFile(t, jsonlPath(t, m, dir, id))
	require.Equal(t, len(want), len(got))
	require.True(t, want == got, "the file differs from the chunks pushed")
	assert.NotContains(t, rec.messages(), "plugin session lost; re-attaching after the restart")
	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	assert.Empty(t, h.StreamSubscriptions(id, info.Instance), "the subscription ended with its stream")
}

// A chunk no message can carry ends the subscription with a clear error: the plugin is told, the
// host logs it with the stream and the plugin, and the stream's subscriptions show it.
func TestChunkTooLargeForTheTransportEndsTheSubscription(t *testing.T) {
	dir := t.TempDir()
	rec := newRecorder()
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Logger: slog.New(rec), Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	id := createStream(t, m)
	require.NoError(t, h.Attach(ctx, id, nil))
	subID := h.Subscriptions(id)["jsonl"][0]
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte(`{"n":1}`)}))
	// 64 MiB of data, and a time that encodes in one byte, take 67108878 bytes of a batch.
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: make([]byte, sdk.MaxMessageBytes), Time: time.Unix(0, 1)}))
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: []byte(`{"n":3}`)}))
	waitSubscriptionsGone(t, h, id)

	msg := fmt.Sprintf("chunk 2 is too large for the plugin transport: 67108878 bytes encoded, one message carries at most %d", sdk.MaxMessageBytes-64<<10)
	reason := "delivery failed: " + msg
	assert.Equal(t, fmt.Sprintf(`{"stream_id":%[1]q,"id":1,"event":"","data":{"n":1}}
{"stream_id":%[1]q,"closed":true,"reason":%[2]q,"error":{"code":413,"status":"INVALID_ARGUMENT","message":%[3]q}}
`, id, reason, msg), readFile(t, jsonlPath(t, m, dir, id)))

	level, attrs, ok := rec.find("subscription ended with an error")
	require.True(t, ok, "messages: %q", rec.messages())
	assert.Equal(t, slog.LevelError, level)
	assert.Equal(t, map[string]string{"plugin": "jsonl", "stream_id": id, "subscription_id": subID, "reason": reason, "code": "413"}, attrs)

	info, err := m.Info(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, manager.StatusActive, info.Status, "the stream goes on for its other clients")
	assert.Zero(t, info.Clients)
	assert.Equal(t, []SubscriptionInfo{{ID: subID, Transport: "jsonl", Attached: true, Failed: true, Reason: reason,
		Err: &manager.StreamError{Code: 413, Status: "INVALID_ARGUMENT", Message: msg}}}, h.StreamSubscriptions(id, info.Instance))
	assert.Empty(t, h.StreamSubscriptions(id, "another instance"))
}

// count returns how many records have message msg.
func (r *recorder) count(msg string) int {
	n := 0
	for _, m := range r.messages() {
		if m == msg {
			n++
		}
	}
	return n
}

// mostReattaches is how many re-attaches a subscription's backoff allows within d when none makes
// progress: each waits at least half its interval (the backoff's randomization), and the interval
// grows 1.5 times from lo up to hi.
func mostReattaches(d, lo, hi time.Duration) int {
	n, total, interval := 0, time.Duration(0), lo
	for {
		total += interval / 2
		if total > d {
			return n
		}
		n++
		interval = min(interval*3/2, hi)
	}
}

// A session that breaks at its first batch while the plugin keeps running is re-attached with a
// growing wait, not in a tight loop (which re-attached 9 times in 100 ms).
func TestReattachesWaitWithBackoff(t *testing.T) {
	rec := newRecorder()
	m := newManagerWith(t, manager.Config{})
	const lo, hi = 20 * time.Millisecond, 400 * time.Millisecond
	h := startHost(t, Config{Streams: m, Logger: slog.New(rec), RestartMinBackoff: lo, RestartMaxBackoff: hi,
		Plugins: []PluginConfig{{Name: "tp", Path: bin("testplugin"), Args: []string{"-mode", "drop-sessions"}}}})
	ctx := context.Background()
	pid := h.byName["tp"].current().pid()
	id := createStream(t, m)
	require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(1)}))
	start := time.Now()
	subID, err := h.Subscribe(ctx, id, "tp", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rec.count("subscription re-attached") >= 3 }, 10*time.Second, time.Millisecond,
		"the subscription keeps re-attaching")
	time.Sleep(time.Second)
	require.NoError(t, h.Unsubscribe(ctx, id, subID))
	elapsed := time.Since(start)

	n := rec.count("subscription re-attached")
	assert.LessOrEqual(t, n, mostReattaches(elapsed, lo, hi), "%d re-attaches in %v", n, elapsed)
	assert.Equal(t, pid, h.byName["tp"].current().pid(), "the plugin kept running")
	_, attrs, ok := rec.find("re-attaching after a backoff: the last attachment made no progress")
	require.True(t, ok, "messages: %q", rec.messages())
	wait, err := strconv.ParseFloat(attrs["wait_ms"], 64)
	require.NoError(t, err, "wait_ms is a float of milliseconds: %q", attrs["wait_ms"])
	assert.Greater(t, wait, 0.0)
}
