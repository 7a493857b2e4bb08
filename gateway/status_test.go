package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
)

type statusReply struct {
	Version         string   `json:"version"`
	Upstream        string   `json:"upstream"`
	Open            bool     `json:"open"`
	Tokens          bool     `json:"tokens"`
	ActiveStreams   int      `json:"active_streams"`
	Subscribers     int      `json:"subscribers"`
	ChunksPerSecond []uint64 `json:"chunks_per_second"`
}

func (e *env) status(key string) statusReply {
	e.t.Helper()
	resp := e.request("GET", "/v1/status", key, nil)
	b := readAllTB(e.t, resp)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(b))
	assert.Equal(e.t, "no-store", resp.Header.Get("Cache-Control"))
	var out statusReply
	require.NoError(e.t, json.Unmarshal(b, &out), string(b))
	return out
}

func sum(v []uint64) uint64 {
	var n uint64
	for _, x := range v {
		n += x
	}
	return n
}

// GET /v1/status counts the caller's tenant only: its active streams, their clients, and the
// chunks they got per second over the last minute.
func TestStatus(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) {
		c.Version, c.Upstream = "v1.2.3", "gemini"
	}})
	assert.Equal(t, statusReply{Version: "v1.2.3", Upstream: "gemini", ChunksPerSecond: make([]uint64, 60)}, e.status(aliceKey))

	id := e.createStream(aliceKey, map[string]any{})
	e.createStream(bobKey, map[string]any{})
	r := e.subscribe(carolKey, id, "")
	defer r.close()
	for range 5 {
		e.push(aliceKey, id, "x", "")
	}
	var got statusReply
	require.Eventually(t, func() bool {
		got = e.status(aliceKey)
		return sum(got.ChunksPerSecond) == 5
	}, 10*time.Second, 50*time.Millisecond, "the tick counts the 5 chunks")
	assert.Equal(t, 1, got.ActiveStreams)
	assert.Equal(t, 1, got.Subscribers)
	assert.Len(t, got.ChunksPerSecond, 60)
	assert.False(t, got.Open)
	assert.False(t, got.Tokens, "no token secret")

	bob := e.status(bobKey)
	assert.Equal(t, 1, bob.ActiveStreams)
	assert.Equal(t, 0, bob.Subscribers)
	assert.Equal(t, uint64(0), sum(bob.ChunksPerSecond))

	status, body := e.do("GET", "/v1/status", "", nil)
	requireError(t, http.StatusUnauthorized, "UNAUTHENTICATED", status, body)
}
