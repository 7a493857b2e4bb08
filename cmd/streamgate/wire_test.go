package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/configs"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// Without cluster mode the runner's stream layer is the manager itself, so it pushes through
// stream handles and watches closes without a goroutine per stream. The cluster's Node must not
// offer handles: its pushes of the streams it owns go through its own path.
func TestTheRunnerHoldsItsStreamsByHandleOutsideClusterMode(t *testing.T) {
	m, err := manager.New(managerConfig(configs.Default().Manager, nil))
	require.NoError(t, err)
	var local upstream.Streams = streamsOf(m, nil)
	_, ok := local.(upstream.StreamHandles)
	require.True(t, ok, "%T has no handles", local)

	var node upstream.Streams = (*cluster.Node)(nil)
	_, ok = node.(upstream.StreamHandles)
	require.False(t, ok, "cluster.Node hands out the manager's handles")
}

// The manager gets every memory limit of the file, and a manager accepts them.
func TestManagerConfigCarriesTheMemoryLimits(t *testing.T) {
	c := configs.Default().Manager
	c.HistoryBytes, c.MaxBytes, c.MaxRetained = 1<<20, 64<<20, 7
	m, err := manager.New(managerConfig(c, nil))
	require.NoError(t, err)
	got := m.Config()
	require.Equal(t, int64(1<<20), got.HistoryBytes)
	require.Equal(t, int64(64<<20), got.MaxBytes)
	require.Equal(t, 7, got.MaxRetained)

	def, err := manager.New(managerConfig(configs.Default().Manager, nil))
	require.NoError(t, err)
	require.Equal(t, int64(manager.DefaultHistoryBytes), def.Config().HistoryBytes, "the file's defaults are the manager's")
	require.Equal(t, int64(manager.DefaultMaxBytes), def.Config().MaxBytes)
	require.Equal(t, manager.DefaultMaxRetained, def.Config().MaxRetained)
}

// The manager gets the tenant limits of the file: the default for every tenant, the overrides by
// name.
func TestManagerConfigCarriesTheTenantLimits(t *testing.T) {
	c := configs.Default().Manager
	c.TenantLimits.Tenants = map[string]configs.Quota{"acme": {MaxStreams: 900, MaxBytes: 512 << 20}}
	m, err := manager.New(managerConfig(c, nil))
	require.NoError(t, err)
	got := m.Config()
	require.Equal(t, manager.Quota{MaxStreams: 250, MaxBytes: 256 << 20}, got.DefaultQuota)
	require.Equal(t, manager.Quota{MaxStreams: 900, MaxBytes: 512 << 20}, got.QuotaFor("acme"))
	require.Equal(t, got.DefaultQuota, got.QuotaFor("globex"))
}

// The admin /readyz is ready only while the gateway's listener serves and the gateway itself
// reports ready.
func TestAdminReadinessFollowsTheGateway(t *testing.T) {
	for _, tc := range []struct {
		serving, gateway, ready bool
	}{
		{serving: true, gateway: true, ready: true},
		{serving: true, gateway: false},
		{serving: false, gateway: true},
	} {
		var o ops
		o.ready.Store(tc.serving)
		err := o.readiness(func() bool { return tc.gateway })
		if tc.ready {
			require.NoError(t, err)
		} else {
			require.EqualError(t, err, "the gateway is not serving")
		}
	}
}
