package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

// dialHealthz opens a connection, asks GET /healthz on it and reads the 200, leaving the
// connection idle in keep-alive.
func dialHealthz(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return conn, br
}

// Idle keep-alive connections are closed after limits.idle_timeout: 1,000 of them, after one
// GET /healthz each, all see the server close.
func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.IdleTimeout = 300 * time.Millisecond }})
	addr := strings.TrimPrefix(e.url, "http://")
	const n = 1000
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		conns[i], readers[i] = dialHealthz(t, addr)
		defer conns[i].Close()
	}
	var wg sync.WaitGroup
	closed := make([]error, n)
	for i := range conns {
		wg.Go(func() {
			// The guard deadline only keeps a broken build from hanging; the server closes first.
			_ = conns[i].SetReadDeadline(time.Now().Add(30 * time.Second))
			_, closed[i] = readers[i].ReadByte()
		})
	}
	wg.Wait()
	for i, err := range closed {
		require.ErrorIs(t, err, io.EOF, "connection %d", i)
	}
}

// A request body that trickles in slower than limits.read_timeout answers 408 and does not
// touch the stream; a stream's own subscriber is not cut by that timeout.
func TestSlowRequestBodyTimesOut(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.ReadTimeout = 300 * time.Millisecond }})
	id := e.createStream(aliceKey, map[string]any{"id": "slow-body"})
	sub := e.subscribe(aliceKey, id, "")
	defer sub.close()

	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /v1/streams/%s/chunks HTTP/1.1\r\nHost: gw\r\nx-goog-api-key: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\":", id, aliceKey)
	require.NoError(t, err)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.JSONEq(t, errorJSON(408, "DEADLINE_EXCEEDED", "request body not received within 300ms"), string(body))
	assert.Equal(t, uint64(0), e.info(aliceKey, id).LastEventID)

	// The 408 came after the read timeout; the subscriber, connected before, still gets chunks.
	e.push(aliceKey, id, map[string]string{"text": "still here"}, "")
	ev := sub.next()
	assert.Equal(t, event{ID: "1", Type: "message", Data: `{"text":"still here"}`}, ev)
}

// With limits.max_connections held by idle clients, a running subscriber keeps receiving chunks,
// and a client waiting in the accept queue is served once a slot frees.
func TestMaxConnectionsHeldByIdleClients(t *testing.T) {
	const limit = 8
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.MaxConnections = limit }})
	addr := strings.TrimPrefix(e.url, "http://")
	id := e.createStream(aliceKey, map[string]any{"id": "held"})
	sub := e.subscribe(aliceKey, id, "")
	defer sub.close()
	e.waitClients(id, 1)
	// e.client keeps one idle keep-alive connection from the calls above; close it so that the
	// count below is exact: the subscriber's connection plus limit-1 idle ones.
	e.client.CloseIdleConnections()
	idle := make([]net.Conn, 0, limit-1)
	for range limit - 1 {
		conn, _ := dialHealthz(t, addr)
		idle = append(idle, conn)
	}

	// Every slot is taken: a new client is accepted by the kernel but not served.
	waiting, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer waiting.Close()
	_, err = io.WriteString(waiting, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
	require.NoError(t, err)

	// Not served while the slots are held (a wrong limit answers at once).
	br := bufio.NewReader(waiting)
	_ = waiting.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "the client over the limit was served: %v", err)

	for i := 1; i <= 3; i++ {
		err := e.m.PushChunk(context.Background(), id, manager.Chunk{Data: fmt.Appendf(nil, `{"n":%d}`, i)})
		require.NoError(t, err)
		assert.Equal(t, event{ID: fmt.Sprint(i), Type: "message", Data: fmt.Sprintf(`{"n":%d}`, i)}, sub.next())
	}

	for _, c := range idle {
		c.Close()
	}
	_ = waiting.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
