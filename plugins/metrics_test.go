package plugins

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/internal/testmetrics"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/pluginstest"
	"github.com/streamgate/streamgate/telemetry"
)

var _ Metrics = (*telemetry.Metrics)(nil)

// pluginMetrics are the metrics a host records.
var pluginMetrics = []string{"streamgate_plugin_up", "streamgate_plugin_restarts_total", "streamgate_subscribers", "streamgate_slow_clients_total"}

func newMetrics(t *testing.T) *telemetry.Metrics {
	t.Helper()
	m, err := telemetry.NewMetrics(telemetry.MetricsConfig{})
	require.NoError(t, err)
	return m
}

func TestMetricsOfAPluginKilledAndRestarted(t *testing.T) {
	metrics := newMetrics(t)
	rec := newRecorder()
	m := newManagerWith(t, manager.Config{})
	h, err := New(Config{Streams: m, Logger: slog.New(rec), Metrics: metrics, RestartMinBackoff: 10 * time.Millisecond,
		Plugins: []PluginConfig{{Name: "tp", Path: bin("testplugin")}}})
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	samples := func() []string { return testmetrics.Samples(t, metrics.Registry(), pluginMetrics...) }
	require.Equal(t, []string{`streamgate_plugin_up{plugin="tp"} 1`, `streamgate_slow_clients_total 0`}, samples())

	ctx := context.Background()
	id := createStream(t, m)
	subID, err := h.Subscribe(ctx, id, "tp", nil)
	require.NoError(t, err)
	require.Equal(t, []string{
		`streamgate_plugin_up{plugin="tp"} 1`, `streamgate_slow_clients_total 0`, `streamgate_subscribers{route="plugin"} 1`,
	}, samples(), "the session counts as a subscriber")

	pid := h.byName["tp"].current().pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return rec.count("subscription re-attached") == 1 }, 10*time.Second, time.Millisecond)
	require.NotEqual(t, pid, h.byName["tp"].current().pid())
	require.Equal(t, []string{
		`streamgate_plugin_restarts_total{plugin="tp"} 1`, `streamgate_plugin_up{plugin="tp"} 1`,
		`streamgate_slow_clients_total 0`, `streamgate_subscribers{route="plugin"} 1`,
	}, samples(), "one restart, up again, and the lost session replaced by the new one")

	require.NoError(t, h.Unsubscribe(ctx, id, subID))
	require.NoError(t, h.Close(ctx))
	require.False(t, pluginstest.Alive(pid))
	require.Equal(t, []string{
		`streamgate_plugin_restarts_total{plugin="tp"} 1`, `streamgate_plugin_up{plugin="tp"} 0`,
		`streamgate_slow_clients_total 0`, `streamgate_subscribers{route="plugin"} 0`,
	}, samples(), "down once the host closed")
}

// TestMetricsOfASlowSubscription feeds a plugin that takes a second per chunk through a queue of
// one: the burst overflows it once, and catching up fails because the replay does not fit either.
func TestMetricsOfASlowSubscription(t *testing.T) {
	metrics := newMetrics(t)
	m := newManagerWith(t, manager.Config{})
	h := startHost(t, Config{Streams: m, Metrics: metrics, QueueSize: 1, MaxBatch: 1,
		Plugins: []PluginConfig{{Name: "tp", Path: bin("testplugin"), Config: []byte(`{"delay":"1s"}`)}}})
	ctx := context.Background()
	id := createStream(t, m)
	_, err := h.Subscribe(ctx, id, "tp", nil)
	require.NoError(t, err)
	for i := 1; i <= 10; i++ {
		require.NoError(t, m.PushChunk(ctx, id, manager.Chunk{Data: payload(i)}))
	}
	waitSubscriptionsGone(t, h, id)
	subs := h.StreamSubscriptions(id, streamInstance(t, m, id))
	require.Len(t, subs, 1)
	require.Contains(t, subs[0].Reason, "subscription fell behind and could not catch up")
	require.Equal(t, []string{
		`streamgate_plugin_up{plugin="tp"} 1`, `streamgate_slow_clients_total 1`, `streamgate_subscribers{route="plugin"} 0`,
	}, testmetrics.Samples(t, metrics.Registry(), pluginMetrics...))
}

func streamInstance(t *testing.T, m *manager.Manager, id string) string {
	t.Helper()
	info, err := m.Info(context.Background(), id)
	require.NoError(t, err)
	return info.Instance
}
