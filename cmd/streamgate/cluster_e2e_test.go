package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster/clustertest"
)

// clusterLease is the replicas' lease in the end-to-end cluster tests: short, so that a killed
// owner's streams end soon, and long enough for a loaded machine to refresh it (every third).
const clusterLease = time.Second

// testCluster is n streamgate processes sharing one redis-server of their own, named r1, r2 ...
type testCluster struct {
	t     *testing.T
	redis *clustertest.Server
	dir   string
	extra func(i int) string // more YAML for replica i, "" for none
	procs []*proc
}

// startCluster starts a redis-server and n replicas on it; it skips the test, saying why, when
// redis-server is not installed (CI installs it: make deps, .ci/run). upstream is the YAML of
// the simulator every replica runs.
func startCluster(t *testing.T, n int, upstream string, extra func(i int) string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, redis: clustertest.StartT(t), dir: t.TempDir(), extra: extra}
	for i := range n {
		c.procs = append(c.procs, c.startReplica(i, upstream))
	}
	return c
}

func (c *testCluster) startReplica(i int, upstream string) *proc {
	c.t.Helper()
	extra := ""
	if c.extra != nil {
		extra = c.extra(i)
	}
	cfg := writeConfig(c.t, c.dir, fmt.Sprintf("r%d.yaml", i+1), fmt.Sprintf(`
listen: 127.0.0.1:0
heartbeat: 100ms
shutdown_grace: 100ms
upstream: {kind: simulator, simulator: %s}
cluster: {redis_url: %q, node_id: r%d, lease: %s}
%s`, upstream, c.redis.URL(), i+1, clusterLease, extra))
	p := start(c.t, c.dir, nil, "-config", cfg)
	c.t.Cleanup(func() {
		if !c.t.Failed() {
			return
		}
		if p.cmd.ProcessState == nil { // stopped first: its output is written by os/exec
			_ = p.cmd.Process.Kill()
			<-p.waited
		}
		c.t.Logf("r%d's stderr:\n%s", i+1, p.stderr)
	})
	return p
}

func (c *testCluster) url(i int) string { return c.procs[i].url }

// kill stops replica i with SIGKILL, as kill -9 does, and waits for it to be gone.
func (c *testCluster) kill(i int) time.Time {
	c.t.Helper()
	p := c.procs[i]
	require.NoError(c.t, p.cmd.Process.Signal(syscall.SIGKILL))
	at := time.Now()
	select {
	case <-p.waited:
	case <-time.After(10 * time.Second):
		c.t.Fatal("a killed replica did not exit")
	}
	return at
}

// hit sends one request to a replica and returns its status, headers and body.
func hit(t *testing.T, method, url, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	status, h, b, err := sendHeaders(method, url, body, header...)
	require.NoError(t, err)
	return status, h, b
}

// send is hit for a goroutine other than the test's: a failure to send is status 0.
func send(method, url, body string) (int, http.Header, string) {
	status, h, b, err := sendHeaders(method, url, body)
	if err != nil {
		return 0, nil, err.Error()
	}
	return status, h, b
}

func sendHeaders(method, url, body string, header ...string) (int, http.Header, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// createGeneration creates generation stream id through the replica at url.
func createGeneration(t *testing.T, url, id string) {
	t.Helper()
	status, _, body := hit(t, "POST", url+"/v1/streams",
		fmt.Sprintf(`{"id":%q,"model":"gemini-2.5-flash","request":%s}`, id, generateBody))
	require.Equal(t, http.StatusCreated, status, body)
}

// createPush creates push stream id through the replica at url.
func createPush(t *testing.T, url, id string) {
	t.Helper()
	status, _, body := hit(t, "POST", url+"/v1/streams", fmt.Sprintf(`{"id":%q}`, id))
	require.Equal(t, http.StatusCreated, status, body)
}

// pushData pushes one chunk through the replica at url and returns its ID.
func pushData(t *testing.T, url, id, data string) uint64 {
	t.Helper()
	status, _, body := hit(t, "POST", url+"/v1/streams/"+id+"/chunks", fmt.Sprintf(`{"data":%s}`, data))
	require.Equal(t, http.StatusAccepted, status, body)
	var out struct {
		ID uint64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out.ID
}

// sseEvent is one event of a /v1/streams/{id}/events response; ID is "" for done.
type sseEvent struct {
	ID, Event, Data string
	At              time.Time // when it arrived
}

// sseSub reads one events response in a goroutine of its own until it ends.
type sseSub struct {
	t    *testing.T
	resp *http.Response

	mu     sync.Mutex
	events []sseEvent
	ended  chan struct{} // closed when the body ended (EOF or error)
	grew   chan struct{} // signalled on every event
}

// follow opens the events of stream id on the replica at url, resuming after lastID ("" for
// the start).
func follow(t *testing.T, url, id, lastID string) *sseSub {
	t.Helper()
	resp := openEvents(t, url, "", id, "", lastID)
	s := &sseSub{t: t, resp: resp, ended: make(chan struct{}), grew: make(chan struct{}, 1)}
	go s.read()
	t.Cleanup(func() {
		resp.Body.Close()
		<-s.ended
	})
	return s
}

func (s *sseSub) read() {
	defer close(s.ended)
	r := bufio.NewReader(s.resp.Body)
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.Event != "" || ev.Data != "" {
				ev.At = time.Now()
				s.mu.Lock()
				s.events = append(s.events, ev)
				s.mu.Unlock()
				select {
				case s.grew <- struct{}{}:
				default:
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *sseSub) all() []sseEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sseEvent(nil), s.events...)
}

// waitEvents waits until the subscriber has at least n events.
func (s *sseSub) waitEvents(n int) {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for len(s.all()) < n {
		select {
		case <-s.grew:
		case <-s.ended:
			if len(s.all()) < n {
				s.t.Fatalf("the response ended after %d events, want %d: %+v", len(s.all()), n, s.all())
			}
		case <-deadline:
			s.t.Fatalf("only %d events after 20s, want %d", len(s.all()), n)
		}
	}
}

// waitEnd waits for the response to end and returns its events.
func (s *sseSub) waitEnd() []sseEvent {
	s.t.Helper()
	select {
	case <-s.ended:
	case <-time.After(20 * time.Second):
		s.t.Fatalf("the response did not end within 20s; events: %d", len(s.all()))
	}
	return s.all()
}

// chunksOf splits a response's events into its chunks (events with an ID) and its done event.
func chunksOf(events []sseEvent) (chunks []sseEvent, done *sseEvent) {
	for i, ev := range events {
		if ev.Event == "done" {
			return chunks, &events[i]
		}
		chunks = append(chunks, ev)
	}
	return chunks, nil
}

// requireDense fails unless the chunks are numbered from, from+1, ... with no gap or duplicate.
func requireDense(t *testing.T, chunks []sseEvent, from uint64, what string) {
	t.Helper()
	for i, ch := range chunks {
		require.Equal(t, fmt.Sprint(from+uint64(i)), ch.ID, "%s: chunk %d of %d", what, i, len(chunks))
	}
}

// sameChunks fails unless got holds exactly ref's chunks from ID first on, same bytes.
func sameChunks(t *testing.T, ref, got []sseEvent, first uint64, what string) {
	t.Helper()
	require.NotEmpty(t, ref)
	start := int(first) - 1
	require.LessOrEqual(t, start, len(ref))
	want := ref[start:]
	require.Len(t, got, len(want), what)
	for i := range want {
		require.Equal(t, want[i].ID, got[i].ID, what)
		require.Equal(t, want[i].Event, got[i].Event, "%s: chunk %s", what, got[i].ID)
		require.Equal(t, want[i].Data, got[i].Data, "%s: chunk %s", what, got[i].ID)
	}
}

// readyz returns a replica's /readyz status.
func readyz(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// longGeneration is a simulator making 4,000 chunks, 200 a second: it lasts longer than the tests
// that run it, which end it with their faults. The simulator splits its text at word boundaries.
var longGeneration = fmt.Sprintf(`{chunks: 4000, interval: 5ms, text: %q}`, strings.Repeat("word ", 4000))

// kill -9 of a stream's owner mid-stream: every subscriber on the other replicas gets the error
// chunk 503 UNAVAILABLE naming the lost replica within lease + 1 s, then the end; a subscriber
// resuming on yet another replica after the fault gets the rest, no gap, no duplicate.
func TestClusterOwnerKilled(t *testing.T) {
	c := startCluster(t, 3, longGeneration, nil)
	createGeneration(t, c.url(0), "gen")
	sb, sc := follow(t, c.url(1), "gen", ""), follow(t, c.url(2), "gen", "")
	sb.waitEvents(20)

	killed := c.kill(0)
	lost := `{"error":{"code":503,"message":"replica r1 lost","status":"UNAVAILABLE"}}`
	var ref []sseEvent
	for _, s := range []*sseSub{sb, sc} {
		chunks, done := chunksOf(s.waitEnd())
		require.NotNil(t, done, "the response ends with done")
		assert.Equal(t, `{"status":"error","reason":"Stream terminated due to error: replica r1 lost"}`, done.Data)
		requireDense(t, chunks, 1, "subscriber")
		last := chunks[len(chunks)-1]
		assert.Equal(t, "error", last.Event)
		assert.Equal(t, lost, last.Data)
		assert.LessOrEqual(t, last.At.Sub(killed), clusterLease+time.Second, "the 503 came within lease + 1s of the kill")
		ref = chunks
	}
	sameChunks(t, ref, chunksOf1(sb.all()), 1, "both replicas' subscribers saw the same chunks")

	mid := len(ref) / 2
	resumed, done := chunksOf(follow(t, c.url(2), "gen", fmt.Sprint(mid)).waitEnd())
	require.NotNil(t, done)
	sameChunks(t, ref, resumed, uint64(mid+1), "resumed on another replica after the kill")
}

// chunksOf1 is the chunks of chunksOf.
func chunksOf1(events []sseEvent) []sseEvent {
	chunks, _ := chunksOf(events)
	return chunks
}

// redis-server stopped mid-stream and started again: /readyz turns 503 and new streams are
// refused with 503 UNAVAILABLE and Retry-After; the owner's next chunk cannot be appended, so the
// stream ends for its local subscriber with an error chunk (never a silent gap) and for the other
// replica's with an error end; once Redis is back new streams work again on the same processes.
// The restarted Redis kept nothing (it has no persistence), so a resume of the old stream on
// another replica is a clear 404, not a silent empty stream.
func TestClusterRedisStoppedMidStream(t *testing.T) {
	c := startCluster(t, 2, longGeneration, nil)
	createGeneration(t, c.url(0), "gen")
	owner, other := follow(t, c.url(0), "gen", ""), follow(t, c.url(1), "gen", "")
	owner.waitEvents(10)
	other.waitEvents(10)

	require.NoError(t, c.redis.Stop())
	chunks, done := chunksOf(owner.waitEnd())
	require.NotNil(t, done, "the owner's subscriber gets the end")
	requireDense(t, chunks, 1, "owner's subscriber")
	last := chunks[len(chunks)-1]
	assert.Equal(t, "error", last.Event)
	assert.Equal(t, `{"error":{"code":503,"message":"the cluster store did not take the stream's next chunk","status":"UNAVAILABLE"}}`, last.Data)
	assert.Contains(t, done.Data, `"status":"error"`)

	for i := range 2 {
		waitUntil(t, fmt.Sprintf("r%d's /readyz answers 503", i+1), func() bool { return readyz(t, c.url(i)) == http.StatusServiceUnavailable })
		status, header, body := hit(t, "POST", c.url(i)+"/v1/streams", `{}`)
		assert.Equal(t, http.StatusServiceUnavailable, status, body)
		assert.Equal(t, "1", header.Get("Retry-After"))
		assert.Contains(t, body, `"status":"UNAVAILABLE"`)
	}

	require.NoError(t, c.redis.Restart())
	otherChunks, otherDone := chunksOf(other.waitEnd())
	require.NotNil(t, otherDone, "the other replica's subscriber gets an end too")
	assert.Contains(t, otherDone.Data, `"status":"error"`, "never a clean end")
	requireDense(t, otherChunks, 1, "other replica's subscriber")
	// The owner's error chunk is its own (Redis did not take it): the other replica has the
	// chunks before it, or the first of them if it lagged.
	require.Less(t, len(otherChunks), len(chunks))
	sameChunks(t, chunks[:len(otherChunks)], otherChunks, 1, "the other replica's chunks are the owner's")

	for i := range 2 {
		waitUntil(t, fmt.Sprintf("r%d's /readyz answers 200", i+1), func() bool { return readyz(t, c.url(i)) == http.StatusOK })
	}
	status, _, body := hit(t, "GET", c.url(1)+"/v1/streams/gen/events", "", "Last-Event-ID", "3")
	assert.Equal(t, http.StatusNotFound, status, body)
	assert.Contains(t, body, `"status":"NOT_FOUND"`)

	createPush(t, c.url(1), "after")
	s := follow(t, c.url(0), "after", "")
	assert.Equal(t, uint64(1), pushData(t, c.url(0), "after", `"one"`))
	assert.Equal(t, uint64(2), pushData(t, c.url(1), "after", `"two"`))
	status, _, body = hit(t, "DELETE", c.url(0)+"/v1/streams/after", "")
	require.Equal(t, http.StatusOK, status, body)
	got, end := chunksOf(s.waitEnd())
	assert.Equal(t, []sseEvent{{ID: "1", Data: `"one"`}, {ID: "2", Data: `"two"`}}, withoutTimes(got))
	require.NotNil(t, end)
	assert.Equal(t, `{"status":"completed","reason":"deleted by client"}`, end.Data)
}

// withoutTimes drops the arrival times, for comparing events.
func withoutTimes(events []sseEvent) []sseEvent {
	out := make([]sseEvent, len(events))
	for i, ev := range events {
		ev.At = time.Time{}
		out[i] = ev
	}
	return out
}

// A replica shut down gracefully (SIGTERM) ends its own streams with "shutting down" for every
// replica, and disconnects its subscribers of streams owned elsewhere without `event: done`, so
// that they resume on another replica: there, with Last-Event-ID, no gap and no duplicate.
func TestClusterGracefulShutdown(t *testing.T) {
	c := startCluster(t, 3, longGeneration, nil)
	createGeneration(t, c.url(0), "own")
	createGeneration(t, c.url(1), "elsewhere")
	ownHere, ownThere := follow(t, c.url(0), "own", ""), follow(t, c.url(1), "own", "")
	leaving, ref := follow(t, c.url(0), "elsewhere", ""), follow(t, c.url(2), "elsewhere", "")
	leaving.waitEvents(10)
	ownThere.waitEvents(10)

	assert.Equal(t, 0, c.procs[0].stop(syscall.SIGTERM))
	shutting := `{"error":{"code":503,"message":"shutting down","status":"UNAVAILABLE"}}`
	for _, s := range []*sseSub{ownHere, ownThere} {
		chunks, done := chunksOf(s.waitEnd())
		require.NotNil(t, done)
		requireDense(t, chunks, 1, "subscriber of the stopped replica's stream")
		last := chunks[len(chunks)-1]
		assert.Equal(t, "error", last.Event)
		assert.Equal(t, shutting, last.Data)
		assert.Equal(t, `{"status":"error","reason":"shutting down"}`, done.Data)
	}

	got, done := chunksOf(leaving.waitEnd())
	assert.Nil(t, done, "no done: the stream goes on elsewhere")
	requireDense(t, got, 1, "the stopped replica's subscriber of another's stream")
	lastID := got[len(got)-1].ID
	resumed := follow(t, c.url(2), "elsewhere", lastID)
	resumed.waitEvents(5)
	status, _, body := hit(t, "DELETE", c.url(2)+"/v1/streams/elsewhere", "")
	require.Equal(t, http.StatusOK, status, body)
	rest, end := chunksOf(resumed.waitEnd())
	require.NotNil(t, end)
	refChunks, _ := chunksOf(ref.waitEnd())
	all := append(got, rest...)
	requireDense(t, all, 1, "before and after the resume")
	sameChunks(t, refChunks, all, 1, "the resumed subscriber saw every chunk once")
}

// A subscription created through a replica that does not own the stream runs on the owner, in
// a real plugin process (jsonl): it gets every chunk, whichever replica pushed it, and the
// stream's end; it is listed through any replica. An unknown plugin is a 404 through any replica.
func TestClusterPluginSubscriptionThroughANonOwner(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	c := startCluster(t, 2, longGeneration, func(i int) string {
		return fmt.Sprintf("plugins: [{name: jsonl, path: %s, config: {dir: %s}}]\n", jsonlPlugin, dirs[i])
	})
	createPush(t, c.url(0), "s")
	pushData(t, c.url(0), "s", `"before"`)
	status, _, body := hit(t, "POST", c.url(1)+"/v1/streams/s/subscriptions", `{"transport":"jsonl"}`)
	require.Equal(t, http.StatusCreated, status, body)
	var sub struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &sub))

	status, _, body = hit(t, "GET", c.url(1)+"/v1/streams/s", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, fmt.Sprintf(`"subscriptions":[{"id":%q,"transport":"jsonl","attached":false,"failed":false}]`, sub.ID))
	status, _, body = hit(t, "POST", c.url(1)+"/v1/streams/s/subscriptions", `{"transport":"nope"}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, `{"error":{"code":404,"message":"no transport plugin named \"nope\"","status":"NOT_FOUND"}}`, body)

	pushData(t, c.url(1), "s", `"through r2"`)
	pushData(t, c.url(0), "s", `"through r1"`)
	status, _, body = hit(t, "DELETE", c.url(1)+"/v1/streams/s", "")
	require.Equal(t, http.StatusOK, status, body)

	var got []byte
	waitUntil(t, "the owner's plugin wrote the stream and its end", func() bool {
		paths, _ := filepath.Glob(filepath.Join(dirs[0], "s.*.jsonl"))
		if len(paths) != 1 {
			return false
		}
		got, _ = os.ReadFile(paths[0])
		return strings.Contains(string(got), `"closed":true`)
	})
	assert.Equal(t, `{"stream_id":"s","id":1,"event":"","data":"before"}
{"stream_id":"s","id":2,"event":"","data":"through r2"}
{"stream_id":"s","id":3,"event":"","data":"through r1"}
{"stream_id":"s","closed":true,"reason":"deleted by client"}
`, string(got))
	others, _ := filepath.Glob(filepath.Join(dirs[1], "*"))
	assert.Empty(t, others, "nothing ran on the replica asked")
}
