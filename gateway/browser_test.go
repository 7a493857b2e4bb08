package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/internal/browsertest"
)

// browserWait bounds each step of a browser test: generous, since a loaded machine may take
// seconds to start Chromium.
const browserWait = browsertest.Wait

// browserEvent is one entry of the EventSource page's record (internal/browsertest).
type browserEvent = browsertest.Event

// The stream API in a real browser: a headless Chromium page on its own origin subscribes with
// EventSource (key in ?key=, CORS from the configured origin) and sees exactly the gateway's
// events: replay, live, named, error and done, resumes with ?after=N, and after a dropped
// connection reconnects by itself with Last-Event-ID.
func TestBrowserEventSource(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium); .ci/run installs it")
	}

	t.Run("replay, live, named, error and done", func(t *testing.T) {
		t.Parallel()
		pages := browsertest.NewPages(t)
		e := newEnv(t, options{gateway: func(c *gateway.Config) {
			c.CORSOrigins = []string{pages.Origin}
			c.Heartbeat = 20 * time.Millisecond // pings between events are invisible to the page
		}})
		id := e.createStream(aliceKey, map[string]any{})
		e.push(aliceKey, id, map[string]any{"text": "héllo, 世界"}, "")
		e.push(aliceKey, id, map[string]any{"n": 2}, "delta")

		b := browsertest.Start(t, chromium, pages.URL(e.url+"/v1/streams/"+id+"/events?key="+aliceKey))
		waitClients(t, pages, b, e, id, 1)
		e.push(aliceKey, id, "live", "")
		e.push(aliceKey, id, map[string]any{"n": 4}, "delta")
		status, body := e.do("POST", "/v1/streams/"+id+"/error", aliceKey, `{"code":503,"message":"upstream hiccup"}`)
		require.Equal(t, http.StatusAccepted, status, string(body))
		e.push(aliceKey, id, "after the error", "")
		status, body = e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
		require.Equal(t, http.StatusOK, status, string(body))

		assert.Equal(t, []browserEvent{
			{Type: "(open)"},
			{Type: "message", ID: "1", Data: `{"text":"héllo, 世界"}`},
			{Type: "delta", ID: "2", Data: `{"n":2}`},
			{Type: "message", ID: "3", Data: `"live"`},
			{Type: "delta", ID: "4", Data: `{"n":4}`},
			{Type: "error", ID: "5", Data: errorJSON(503, "UNAVAILABLE", "upstream hiccup")},
			{Type: "message", ID: "6", Data: `"after the error"`},
			// done carries no id: the page's lastEventId stays at the last chunk.
			{Type: "done", ID: "6", Data: `{"status":"completed","reason":"deleted by client"}`},
		}, pages.Report(t, b))
		assert.NotContains(t, e.logs.String(), aliceKey, "the client's key is never logged")
	})

	t.Run("resume with after", func(t *testing.T) {
		t.Parallel()
		pages := browsertest.NewPages(t)
		e := newEnv(t, options{gateway: func(c *gateway.Config) { c.CORSOrigins = []string{pages.Origin} }})
		id := e.createStream(aliceKey, map[string]any{})
		for i := 1; i <= 4; i++ {
			e.push(aliceKey, id, i, "")
		}

		b := browsertest.Start(t, chromium, pages.URL(e.url+"/v1/streams/"+id+"/events?key="+aliceKey+"&after=2"))
		waitClients(t, pages, b, e, id, 1)
		e.push(aliceKey, id, 5, "")
		status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
		require.Equal(t, http.StatusOK, status, string(body))

		assert.Equal(t, []browserEvent{
			{Type: "(open)"},
			{Type: "message", ID: "3", Data: "3"},
			{Type: "message", ID: "4", Data: "4"},
			{Type: "message", ID: "5", Data: "5"},
			{Type: "done", ID: "5", Data: `{"status":"completed","reason":"deleted by client"}`},
		}, pages.Report(t, b))
	})

	// A proxy between the page and the gateway drops the connection: what a network failure or
	// the gateway's slow-client drop look like to the browser (a browser cannot be made to read
	// slowly enough for the latter without megabytes of stream). EventSource reconnects after its
	// default 3 s with Last-Event-ID, and the gateway replays from there.
	for _, tc := range []struct {
		name, query string
		first       int // the first chunk the page gets
	}{
		{"reconnects with Last-Event-ID", "", 1},
		// The reconnection carries both ?after=1 and Last-Event-ID: 3; the header wins.
		{"reconnects with Last-Event-ID after starting with ?after", "&after=1", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pages := browsertest.NewPages(t)
			e := newEnv(t, options{gateway: func(c *gateway.Config) { c.CORSOrigins = []string{pages.Origin} }})
			proxy := newCutProxy(t, strings.TrimPrefix(e.url, "http://"))
			id := e.createStream(aliceKey, map[string]any{})
			e.push(aliceKey, id, 1, "")
			e.push(aliceKey, id, 2, "")

			uri := "/v1/streams/" + id + "/events?key=" + aliceKey + tc.query
			b := browsertest.Start(t, chromium, pages.URL(proxy.url()+uri))
			waitClients(t, pages, b, e, id, 1)
			e.push(aliceKey, id, 3, "")
			pages.WaitProgress(t, b, 3)
			proxy.cut()
			waitClients(t, pages, b, e, id, 0)
			e.push(aliceKey, id, 4, "")
			e.push(aliceKey, id, 5, "")
			waitClients(t, pages, b, e, id, 1) // EventSource reconnected by itself
			e.push(aliceKey, id, 6, "")
			status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
			require.Equal(t, http.StatusOK, status, string(body))

			want := []browserEvent{{Type: "(open)"}}
			for n := tc.first; n <= 3; n++ {
				want = append(want, browserEvent{Type: "message", ID: fmt.Sprint(n), Data: fmt.Sprint(n)})
			}
			want = append(want,
				browserEvent{Type: "(error)", Data: "readyState 0"}, // connection lost; reconnecting
				browserEvent{Type: "(open)"},
				browserEvent{Type: "message", ID: "4", Data: "4"},
				browserEvent{Type: "message", ID: "5", Data: "5"},
				browserEvent{Type: "message", ID: "6", Data: "6"},
				browserEvent{Type: "done", ID: "6", Data: `{"status":"completed","reason":"deleted by client"}`},
			)
			assert.Equal(t, want, pages.Report(t, b))

			reqs := proxy.requests(t)
			require.Len(t, reqs, 2, "the first request and the reconnection")
			for _, r := range reqs {
				assert.Equal(t, uri, r.RequestURI)
				assert.Equal(t, "text/event-stream", r.Header.Get("Accept"))
				assert.Equal(t, pages.Origin, r.Header.Get("Origin"))
			}
			assert.Empty(t, reqs[0].Header.Values("Last-Event-ID"))
			assert.Equal(t, []string{"3"}, reqs[1].Header.Values("Last-Event-ID"))
		})
	}
}

// waitClients waits until the stream has n clients, failing early if the page gave up or
// Chromium exited.
func waitClients(t *testing.T, pages *browsertest.Pages, b *browsertest.Browser, e *env, id string, n int) {
	t.Helper()
	pages.WaitFor(t, b, func() bool {
		c, err := e.m.ClientCount(context.Background(), id)
		return err == nil && c == n
	}, "stream %s never had %d clients", id, n)
}

// cutProxy forwards TCP connections to a target and can cut them all at once, as a network
// failure would. It records the bytes each client sent.
type cutProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	sent   []*bytes.Buffer // per connection, what the client sent; read once closed
	closed bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		sent := &bytes.Buffer{}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[client] = struct{}{}
		p.conns[server] = struct{}{}
		p.sent = append(p.sent, sent)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(server, io.TeeReader(client, sent), client, server)
		go p.pipe(client, server, client, server)
	}
}

// pipe copies src to dst; when either side ends, both connections are closed.
func (p *cutProxy) pipe(dst io.Writer, src io.Reader, conns ...net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// cut closes every open connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// close stops accepting, cuts every connection and waits for the proxy's goroutines.
func (p *cutProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// requests closes the proxy and parses the request each connection opened with; connections
// on which the client sent nothing (speculative ones) are left out.
func (p *cutProxy) requests(t *testing.T) []*http.Request {
	t.Helper()
	p.close()
	var reqs []*http.Request
	for _, sent := range p.sent {
		if sent.Len() == 0 {
			continue
		}
		r, err := http.ReadRequest(bufio.NewReader(sent))
		require.NoError(t, err, sent.String())
		reqs = append(reqs, r)
	}
	return reqs
}
