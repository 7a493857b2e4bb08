package plugins

import (
	"context"
	"errors"
	"fmt"
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

// createShared creates the stream "shared" for tenant and attaches the plugins to it.
func createShared(t *testing.T, m *manager.Manager, h *Host, tenant string) manager.StreamInfo {
	t.Helper()
	ctx := context.Background()
	_, err := m.CreateStreamWith(ctx, manager.StreamOptions{ID: "shared", Labels: map[string]string{"tenant": tenant}})
	require.NoError(t, err)
	info, err := m.Info(ctx, "shared")
	require.NoError(t, err)
	require.NoError(t, h.Attach(ctx, "shared", nil))
	return info
}

// pushShared pushes payloads from to to into "shared" and returns the chunks it holds then.
func pushShared(t *testing.T, m *manager.Manager, from, to int) []manager.Chunk {
	t.Helper()
	var out []manager.Chunk
	for i := from; i <= to; i++ {
		require.NoError(t, m.PushChunk(context.Background(), "shared", manager.Chunk{Data: payload(i)}))
		out = append(out, manager.Chunk{ID: uint64(i), Data: payload(i)})
	}
	return out
}

// waitForgotten waits until the manager forgot the stream "shared", so that its ID is free again.
func waitForgotten(t *testing.T, m *manager.Manager) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := m.Info(context.Background(), "shared")
		return errors.Is(err, manager.ErrNotFound)
	}, 10*time.Second, time.Millisecond)
}

// The scenario: tenant A's stream "shared" expires, then tenant B, and later A again,
// create "shared". Each stream has a file of its own holding exactly its chunks, also when the
// plugin is killed in the middle of one and the session re-attaches after the restart.
func TestReusedStreamIDGetsItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	m := newManagerWith(t, manager.Config{RetainClosed: 10 * time.Millisecond})
	h := startHost(t, Config{Streams: m, RestartMinBackoff: 10 * time.Millisecond,
		Plugins: []PluginConfig{jsonlPlugin(dir, AttachRule{All: true})}})
	ctx := context.Background()
	closed := `{"stream_id":"shared","closed":true,"reason":"completed"}`

	first := createShared(t, m, h, "acme")
	firstChunks := pushShared(t, m, 1, 5)
	require.NoError(t, m.CloseStream(ctx, "shared", manager.ReasonCompleted))
	waitSubscriptionsGone(t, h, "shared")
	waitForgotten(t, m)

	second := createShared(t, m, h, "globex")
	secondChunks := pushShared(t, m, 1, 3)
	require.Eventually(t, func() bool { return onlySubscription(h, "shared").acked.Load() == 3 }, 10*time.Second, time.Millisecond)
	pid := h.byName["jsonl"].current().pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	secondChunks = append(secondChunks, pushShared(t, m, 4, 7)...)
	// Closed before the re-attach, the stream could be forgotten before the plugin is back.
	require.Eventually(t, func() bool { return onlySubscription(h, "shared").acked.Load() == 7 }, 10*time.Second, time.Millisecond)
	require.NoError(t, m.CloseStream(ctx, "shared", manager.ReasonCompleted))
	waitSubscriptionsGone(t, h, "shared")
	require.NotEqual(t, pid, h.byName["jsonl"].current().pid(), "the plugin was restarted")
	waitForgotten(t, m)

	third := createShared(t, m, h, "acme")
	thirdChunks := pushShared(t, m, 1, 2)
	require.NoError(t, m.CloseStream(ctx, "shared", manager.ReasonCompleted))
	waitSubscriptionsGone(t, h, "shared")

	for _, tc := range []struct {
		info   manager.StreamInfo
		chunks []manager.Chunk
	}{{first, firstChunks}, {second, secondChunks}, {third, thirdChunks}} {
		path := filepath.Join(dir, tc.info.Labels["tenant"], "shared."+tc.info.Instance+".jsonl")
		assert.Equal(t, jsonlOf("shared", tc.chunks, closed), readFile(t, path), "%s's stream", tc.info.Labels["tenant"])
	}
	for _, tenant := range []string{"acme", "globex"} {
		entries, err := os.ReadDir(filepath.Join(dir, tenant))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		want := map[string][]string{"acme": {"shared." + first.Instance + ".jsonl", "shared." + third.Instance + ".jsonl"},
			"globex": {"shared." + second.Instance + ".jsonl"}}[tenant]
		assert.ElementsMatch(t, want, names)
	}
}

// A subscription waiting for its plugin's restart while its stream is forgotten and the ID is used
// again must not re-attach to the new stream: it closes instead, and the new stream's chunks stay
// out of the old stream's file.
func TestReattachDoesNotFollowAReusedID(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(t.TempDir(), "jsonl")
	b, err := os.ReadFile(bin("jsonl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(binary, b, 0o755))
	plugin := jsonlPlugin(dir, AttachRule{All: true})
	plugin.Path = binary
	m := newManagerWith(t, manager.Config{RetainClosed: 10 * time.Millisecond})
	h := startHost(t, Config{Streams: m, RestartMinBackoff: 10 * time.Millisecond, RestartMaxBackoff: 50 * time.Millisecond,
		Plugins: []PluginConfig{plugin}})
	ctx := context.Background()

	old := createShared(t, m, h, "acme")
	oldChunks := pushShared(t, m, 1, 3)
	require.Eventually(t, func() bool { return onlySubscription(h, "shared").acked.Load() == 3 }, 10*time.Second, time.Millisecond)
	// The plugin cannot come back until its binary does.
	require.NoError(t, os.Rename(binary, binary+".away"))
	require.NoError(t, syscall.Kill(h.byName["jsonl"].current().pid(), syscall.SIGKILL))
	require.NoError(t, m.CloseStream(ctx, "shared", manager.ReasonCompleted))
	waitForgotten(t, m)
	_, err = m.CreateStreamWith(ctx, manager.StreamOptions{ID: "shared", Labels: map[string]string{"tenant": "acme"}})
	require.NoError(t, err)
	pushShared(t, m, 1, 4)
	require.NoError(t, os.Rename(binary+".away", binary))
	waitSubscriptionsGone(t, h, "shared")

	got := readFile(t, filepath.Join(dir, "acme", "shared."+old.Instance+".jsonl"))
	prefix := strings.TrimSuffix(jsonlOf("shared", oldChunks, ""), "\n")
	require.True(t, strings.HasPrefix(got, prefix), got)
	assert.Equal(t, fmt.Sprintf(`{"stream_id":"shared","closed":true,"reason":"plugin restarted; the stream can no longer be resumed after chunk 3: %s: its ID names another stream now","error":{"code":404,"status":"NOT_FOUND","message":"%[1]s: its ID names another stream now"}}`+"\n",
		manager.ErrNotFound), strings.TrimPrefix(got, prefix))
	info, err := m.Info(ctx, "shared")
	require.NoError(t, err)
	assert.Zero(t, info.Clients, "the old subscription left the new stream")
}
