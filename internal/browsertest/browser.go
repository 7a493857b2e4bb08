package browsertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
)

// Timeouts: generous, since a loaded machine may take seconds to start Chromium. Chromium's
// EventSource waits 3 s before it reconnects (the gateway sends no retry: field).
const (
	Wait   = 30 * time.Second
	exited = 10 * time.Second
)

// Chromium returns the chromium binary, or skips the test saying how to get it.
func Chromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium); .ci/run installs it")
	}
	return bin
}

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

// Event is one entry of the page's record.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data string `json:"data"`
}

// Pages serves the EventSource page on its own origin and collects what the page posts.
type Pages struct {
	srv *httptest.Server
	// Origin is the page's origin, for the gateway's CORS configuration.
	Origin  string
	reports chan []Event

	mu   sync.Mutex
	seen uint64 // the highest lastEventId posted to /progress
}

// NewPages starts the page server; it stops when the test ends.
func NewPages(t *testing.T) *Pages {
	p := &Pages{reports: make(chan []Event, 1)}
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
		var got []Event
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
	p.Origin = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the page subscribing to eventsURL.
func (p *Pages) URL(eventsURL string) string {
	return p.srv.URL + "/?src=" + url.QueryEscape(eventsURL)
}

// Report waits for the page's record, then stops the browser.
func (p *Pages) Report(t *testing.T, b *Browser) []Event {
	t.Helper()
	defer b.Stop()
	select {
	case got := <-p.reports:
		return got
	case <-b.exited:
		t.Fatalf("chromium exited before the page reported: %v\n%s", b.waitErr, b.LogTail())
	case <-time.After(Wait):
		t.Fatalf("no report from the page within %v\n%s", Wait, b.LogTail())
	}
	return nil
}

// WaitProgress waits until the page has received the chunk with ID n.
func (p *Pages) WaitProgress(t *testing.T, b *Browser, n uint64) {
	t.Helper()
	p.WaitFor(t, b, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.seen >= n
	}, "the page never received chunk %d", n)
}

// WaitFor polls cond until it holds, failing early if the page reported (it gave up, or
// finished too soon) or Chromium exited, and after Wait.
func (p *Pages) WaitFor(t *testing.T, b *Browser, cond func() bool, msg string, args ...any) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(Wait)
	for !cond() {
		select {
		case got := <-p.reports:
			t.Fatalf("the page finished early with %+v; waiting: "+msg, append([]any{got}, args...)...)
		case <-b.exited:
			t.Fatalf("chromium exited (%v); waiting: "+msg+"\n%s", append(append([]any{b.waitErr}, args...), b.LogTail())...)
		case <-deadline:
			t.Fatalf("after %v: "+msg+"\n%s", append(append([]any{Wait}, args...), b.LogTail())...)
		case <-tick.C:
		}
	}
}

// Browser is a headless Chromium child process in its own process group.
type Browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	dir     string        // the temporary directory of its profile, HOME and log
	exited  chan struct{} // closed when Wait returned
	waitErr error
	once    sync.Once
}

// Start opens pageURL in a headless Chromium. The flags keep it off the network (background
// networking, component updates and sync would dial out); HOME points into the test's temporary
// directory. The cleanup kills it and checks that nothing outlived it.
func Start(t *testing.T, bin, pageURL string) *Browser {
	t.Helper()
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
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
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() {
		b.waitErr = cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(b.Stop)
	return b
}

// Stop kills Chromium's process group and waits for Chromium. Its crash handlers leave the group
// with setsid, so every process still naming the test's directory is killed too. The test fails
// if any of them is still running afterwards.
func (b *Browser) Stop() {
	b.once.Do(func() {
		pgid := b.cmd.Process.Pid
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			b.t.Errorf("kill chromium's process group %d: %v", pgid, err)
		}
		select {
		case <-b.exited:
		case <-time.After(exited):
			b.t.Errorf("chromium did not exit within %v of SIGKILL", exited)
			return
		}
		var left []int
		deadline := time.Now().Add(exited)
		for {
			left = processes(pgid, b.dir)
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(left) > 0 {
			b.t.Errorf("chromium processes outlived the test: %v", left)
		}
	})
}

// Processes lists the live (not zombie) processes whose command line names dir, from /proc: what
// is left of a Chromium whose profile, HOME and crash database are under dir.
func Processes(dir string) []int { return processes(-1, dir) }

// processes lists the live (not zombie) processes of process group pgid, and those whose command
// line names dir, from /proc.
func processes(pgid int, dir string) []int {
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
		if f[2] == strconv.Itoa(pgid) || bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// LogTail is the end of Chromium's output, for failure messages.
func (b *Browser) LogTail() string {
	out, err := os.ReadFile(filepath.Join(b.dir, "chromium.log"))
	if err != nil {
		return "chromium log: " + err.Error()
	}
	if len(out) > 4096 {
		out = out[len(out)-4096:]
	}
	return "chromium log (tail):\n" + string(out)
}
