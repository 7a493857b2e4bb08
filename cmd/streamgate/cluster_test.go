package main_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// A Redis that cannot be reached at start is exit code 2 with a message naming it by its URL,
// password masked, before anything listens.
func TestClusterRedisUnreachableExits2(t *testing.T) {
	dir := t.TempDir()
	port := strconv.Itoa(closedPort(t))
	cfg := writeConfig(t, dir, "gw.yaml", `
listen: 127.0.0.1:0
admin: {listen: ""}
cluster: {redis_url: "redis://:${REDIS_PASSWORD}@127.0.0.1:`+port+`/0", node_id: gw-a}
`)
	code, stderr := runToExit(t, dir, []string{"REDIS_PASSWORD=hunter2"}, "-config", cfg)
	assert.Equal(t, 2, code, stderr)
	assert.Equal(t, "streamgate: cluster mode cannot start: cluster: redis at redis://:xxxxx@127.0.0.1:"+port+
		"/0 is unreachable: cluster store unavailable: dial tcp 127.0.0.1:"+port+": connect: connection refused\n", stderr)
	assert.NotContains(t, stderr, "hunter2")
}
