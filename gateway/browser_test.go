package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
)

// Browser test timeouts: generous, since a loaded machine may take seconds to start Chromium.
// Chromium's EventSource waits 3 s before it reconnects (the gateway sends no retry: field).
const (
	browserWait   = 30 * time.Second
	browserExited = 10 * time.Second
)

// eventSourcePage opens an EventSource on the URL in its ?src= query and records what it sees:
// every MessageEvent (default, "delta", the gateway's "error" and "done") with its type,
// lastEventId and data, and EventSource's own open and connection-error Events as "(open)" and
// "(error)". It posts each message's lastEventId to /progress, and on "done", or when the
// EventSource gives up, closes it (or it would reconnect) and posts the record to /report.
const eventSourcePage = `<!doctype html>
<meta charset="utf-8">
<title>streamgate EventSource</title>
<script>
const src = new URLSearchParams(location.search).get("src");
const got = [];
const es = new EventSource(src);
const post = (path, body) => fetch(path, {method: "POST", body: body});
function record(e) {
  got.push({type: e.type, id: e.lastEventId, data: e.data});
  post("/progress", e.lastEventId);
}
function finish() {
  es.close();
  post("/report", JSON.stringify(got));
}
es.addEventListener("open", () => got.push({type: "(open)", id: "", data: ""}));
es.addEventListener("message", record);
es.addEventListener("delta", record);
es.addEventListener("error", (e) => {
  if (e instanceof MessageEvent) {
    record(e);
    return;
  }
  got.push({type: "(error)", id: "", data: "readyState " + es.readyState});
  if (es.readyState === EventSource.CLOSED) finish();
});
es.addEventListener("done", (e) => {
  record(e);
  finish();
});
</script>
`

// browserEvent is one entry of the page's record.
type browserEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data string `json:"data"`
}

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
		pages := newPageServer(t)
		e := newEnv(t, options{gateway: func(c *gateway.Config) {
			c.CORSOrigins = []string{pages.origin}
			c.Heartbeat = 20 * time.Millisecond // pings between events are invisible to the page
		}})
		id := e.createStream(aliceKey, map[string]any{})
		e.push(aliceKey, id, map[string]any{"text": "héllo, 世界"}, "")
		e.push(aliceKey, id, map[string]any{"n": 2}, "delta")

		b := startChromium(t, chromium, pages.pageURL(e.url+"/v1/streams/"+id+"/events?key="+aliceKey))
		pages.waitClients(t, b, e, id, 1)
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
		}, pages.report(t, b))
		assert.NotContains(t, e.logs.String(), aliceKey, "the client's key is never logged")
	})

	t.Run("resume with after", func(t *testing.T) {
		t.Parallel()
		pages := newPageServer(t)
		e := newEnv(t, options{gateway: func(c *gateway.Config) { c.CORSOrigins = []string{pages.origin} }})
		id := e.createStream(aliceKey, map[string]any{})
		for i := 1; i <= 4; i++ {
			e.push(aliceKey, id, i, "")
		}

		b := startChromium(t, chromium, pages.pageURL(e.url+"/v1/streams/"+id+"/events?key="+aliceKey+"&after=2"))
		pages.waitClients(t, b, e, id, 1)
		e.push(aliceKey, id, 5, "")
		status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
		require.Equal(t, http.StatusOK, status, string(body))

		assert.Equal(t, []browserEvent{
			{Type: "(open)"},
			{Type: "message", ID: "3", Data: "3"},
			{Type: "message", ID: "4", Data: "4"},
			{Type: "message", ID: "5", Data: "5"},
			{Type: "done", ID: "5", Data: `{"status":"completed","reason":"deleted by client"}`},
		}, pages.report(t, b))
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
			pages := newPageServer(t)
			e := newEnv(t, options{gateway: func(c *gateway.Config) { c.CORSOrigins = []string{pages.origin} }})
			proxy := newCutProxy(t, strings.TrimPrefix(e.url, "http://"))
			id := e.createStream(aliceKey, map[string]any{})
			e.push(aliceKey, id, 1, "")
			e.push(aliceKey, id, 2, "")

			uri := "/v1/streams/" + id + "/events?key=" + aliceKey + tc.query
			b := startChromium(t, chromium, pages.pageURL(proxy.url()+uri))
			pages.waitClients(t, b, e, id, 1)
			e.push(aliceKey, id, 3, "")
			pages.waitProgress(t, b, 3)
			proxy.cut()
			pages.waitClients(t, b, e, id, 0)
			e.push(aliceKey, id, 4, "")
			e.push(aliceKey, id, 5, "")
			pages.waitClients(t, b, e, id, 1) // EventSource reconnected by itself
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
			assert.Equal(t, want, pages.report(t, b))

			reqs := proxy.requests(t)
			require.Len(t, reqs, 2, "the first request and the reconnection")
			for _, r := range reqs {
				assert.Equal(t, uri, r.RequestURI)
				assert.Equal(t, "text/event-stream", r.Header.Get("Accept"))
				assert.Equal(t, pages.origin, r.Header.Get("Origin"))
			}
			assert.Empty(t, reqs[0].Header.Values("Last-Event-ID"))
			assert.Equal(t, []string{"3"}, reqs[1].Header.Values("Last-Event-ID"))
		})
	}
}

// pageServer serves eventSourcePage on its own origin and collects what the page posts.
type pageServer struct {
	srv     *httptest.Server
	origin  string
	reports chan []browserEvent

	mu   sync.Mutex
	seen uint64 // the highest lastEventId posted to /progress
}

func newPageServer(t *testing.T) *pageServer {
	p := &pageServer{reports: make(chan []browserEvent, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, eventSourcePage)
	})
	mux.HandleFunc("POST /progress", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if n, err := strconv.ParseUint(string(b), 10, 64); err == nil {
			p.mu.Lock()
			p.seen = max(p.seen, n)
			p.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var got []browserEvent
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case p.reports <- got:
		default: // a second report; the first one is what the test checks
		}
		w.WriteHeader(http.StatusNoContent)
	})
	p.srv = httptest.NewServer(mux)
	p.origin = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// pageURL is the page subscribing to eventsURL.
func (p *pageServer) pageURL(eventsURL string) string {
	return p.srv.URL + "/?src=" + url.QueryEscape(eventsURL)
}

// report waits for the page's record, then stops the browser.
func (p *pageServer) report(t *testing.T, b *browser) []browserEvent {
	t.Helper()
	defer b.stop()
	select {
	case got := <-p.reports:
		return got
	case <-b.exited:
		t.Fatalf("chromium exited before the page reported: %v\n%s", b.waitErr, b.logTail())
	case <-time.After(browserWait):
		t.Fatalf("no report from the page within %v\n%s", browserWait, b.logTail())
	}
	return nil
}

// waitClients waits until the stream has n clients, failing early if the page gave up or
// Chromium exited.
func (p *pageServer) waitClients(t *testing.T, b *browser, e *env, id string, n int) {
	t.Helper()
	p.waitFor(t, b, func() bool {
		c, err := e.m.ClientCount(context.Background(), id)
		return err == nil && c == n
	}, "stream %s never had %d clients", id, n)
}

// waitProgress waits until the page has received the chunk with ID n.
func (p *pageServer) waitProgress(t *testing.T, b *browser, n uint64) {
	t.Helper()
	p.waitFor(t, b, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.seen >= n
	}, "the page never received chunk %d", n)
}

func (p *pageServer) waitFor(t *testing.T, b *browser, cond func() bool, msg string, args ...any) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(browserWait)
	for !cond() {
		select {
		case got := <-p.reports:
			t.Fatalf("the page finished early with %+v; waiting: "+msg, append([]any{got}, args...)...)
		case <-b.exited:
			t.Fatalf("chromium exited (%v); waiting: "+msg+"\n%s", append(append([]any{b.waitErr}, args...), b.logTail())...)
		case <-deadline:
			t.Fatalf("after %v: "+msg+"\n%s", append(append([]any{browserWait}, args...), b.logTail())...)
		case <-tick.C:
		}
	}
}

// browser is a headless Chromium child process in its own process group.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	dir     string        // the temporary directory of its profile, HOME and log
	exited  chan struct{} // closed when Wait returned
	waitErr error
	once    sync.Once
}

// startChromium opens pageURL in a headless Chromium. The flags keep it off the network
// (background networking, component updates and sync would dial out); HOME points into the
// test's temporary directory. The cleanup kills it and checks that nothing outlived it.
func startChromium(t *testing.T, bin, pageURL string) *browser {
	t.Helper()
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "chromium.log"))
	require.NoError(t, err)
	defer log.Close()
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), pageURL)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir)
	cmd.Stdout = log
	cmd.Stderr = log
	// Its own process group, so that one kill reaches every process it forks; Pdeathsig kills it
	// if the test binary dies first (go test -timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	b := &browser{t: t, cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() {
		b.waitErr = cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(b.stop)
	return b
}

// stop kills Chromium's process group and waits for Chromium. Its crash handlers (chrome_crashpad_handler)
// leave the group with setsid, so every process still naming the test's directory (their crash
// database is under HOME) is killed too. The test fails if any of them is still running afterwards.
func (b *browser) stop() {
	b.once.Do(func() {
		pgid := b.cmd.Process.Pid
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			b.t.Errorf("kill chromium's process group %d: %v", pgid, err)
		}
		select {
		case <-b.exited:
		case <-time.After(browserExited):
			b.t.Errorf("chromium did not exit within %v of SIGKILL", browserExited)
			return
		}
		var left []int
		deadline := time.Now().Add(browserExited)
		for {
			left = b.processes(pgid)
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		assert.Empty(b.t, left, "chromium processes outlived the test")
	})
}

// processes lists the live (not zombie) processes of Chromium's process group, and those whose
// command line names the test's directory, from /proc.
func (b *browser) processes(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if f[2] == strconv.Itoa(pgid) || bytes.Contains(cmdline, []byte(b.dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// logTail is the end of Chromium's output, for failure messages.
func (b *browser) logTail() string {
	out, err := os.ReadFile(filepath.Join(b.dir, "chromium.log"))
	if err != nil {
		return "chromium log: " + err.Error()
	}
	if len(out) > 4096 {
		out = out[len(out)-4096:]
	}
	return "chromium log (tail):\n" + string(out)
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
