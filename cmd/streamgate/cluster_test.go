package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster/clustertest"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// The keys of the cluster tests: two tenants.
const (
	aliceKey    = "alice-key-0123456789"
	bobKey      = "bob-key-0123456789"
	clusterKeys = `auth: {keys: [{id: alice, key: ` + aliceKey + `, tenant: acme}, {id: bob, key: ` + bobKey + `, tenant: globex}]}
`
)

// startReplicas starts one redis-server and n streamgate processes sharing it, named a, b, c ...,
// each with the configuration common plus its cluster block. They are stopped when the test ends.
func startReplicas(t *testing.T, n int, common string) ([]*proc, *clustertest.Server) {
	t.Helper()
	redis := clustertest.StartT(t)
	dir := t.TempDir()
	procs := make([]*proc, n)
	for i := range procs {
		name := string(rune('a' + i))
		cfg := writeConfig(t, dir, name+".yaml", common+fmt.Sprintf("cluster: {redis_url: %q, node_id: %s, lease: 1s}\n", redis.URL(), name))
		procs[i] = start(t, dir, nil, "-config", cfg)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				assert.Equal(t, 0, p.stop(syscall.SIGTERM), "stderr:\n%s", p.stderr)
			}
		}
	})
	return procs, redis
}

// call sends one request with a client key and returns the status, headers and body.
func call(t *testing.T, method, url, key, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-goog-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// streamInfo is what the tests read of a stream's JSON.
type streamInfo struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Clients     int    `json:"clients"`
	LastEventID uint64 `json:"last_event_id"`
	CloseReason string `json:"close_reason"`
}

func info(t *testing.T, url, key, id string) (int, streamInfo) {
	t.Helper()
	status, _, body := call(t, "GET", url+"/v1/streams/"+id, key, "")
	var si streamInfo
	if status == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(body), &si), body)
	}
	return status, si
}

func listIDs(t *testing.T, url, key string) []string {
	t.Helper()
	status, _, body := call(t, "GET", url+"/v1/streams?all=true", key, "")
	require.Equal(t, http.StatusOK, status, body)
	var out struct{ Streams []streamInfo }
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	ids := []string{}
	for _, s := range out.Streams {
		ids = append(ids, s.ID)
	}
	return ids
}

// events is one open GET /v1/streams/{id}/events response.
type events struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// subscribe opens a stream's events on url with the query and Last-Event-ID given ("" for none)
// and requires 200.
func subscribe(t *testing.T, url, key, id, query, lastEventID string) *events {
	t.Helper()
	resp := openEvents(t, url, key, id, query, lastEventID)
	e := &events{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
	t.Cleanup(e.close)
	return e
}

// openEvents opens a stream's events on url (key, query and Last-Event-ID each "" for none) and
// requires 200.
func openEvents(t *testing.T, url, key, id, query, lastEventID string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url+"/v1/streams/"+id+"/events"+query, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-goog-api-key", key)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("events of %s on %s: %d %s", id, url, resp.StatusCode, b)
	}
	return resp
}

func (e *events) close() { e.resp.Body.Close() }

// frames reads n frames (each up to its blank line), failing after 10s.
func (e *events) frames(n int) string {
	e.t.Helper()
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		for i := 0; i < n; {
			line, err := e.r.ReadString('\n')
			b.WriteString(line)
			if err != nil {
				break
			}
			if line == "\n" {
				i++
			}
		}
		got <- b.String()
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		e.close()
		e.t.Fatalf("timed out reading %d frames; got %q", n, <-got)
		return ""
	}
}

// rest reads the response to its end, failing after 10s.
func (e *events) rest() string {
	e.t.Helper()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(e.r)
		got <- string(b)
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		e.close()
		e.t.Fatalf("the response did not end; got %q", <-got)
		return ""
	}
}

func pushFrame(id int, data string) string {
	return "id: " + strconv.Itoa(id) + "\ndata: " + data + "\n\n"
}

// eventually polls cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three replicas and one Redis: a push stream created on A is one stream on every replica, with
// the tenant rules, the statuses and the bodies of one process; pushes through every replica are
// numbered densely; a subscriber resumes on another replica without gap or duplicate, and 410
// once the history is trimmed; an error and a DELETE through other replicas reach every
// subscriber.
func TestClusterOneNamespace(t *testing.T) {
	r, _ := startReplicas(t, 3, "listen: 127.0.0.1:0\nheartbeat: 0s\nmanager: {history_size: 4}\nlimits: {rate: {per_key_rps: 0}}\n"+clusterKeys)
	a, b, c := r[0].url, r[1].url, r[2].url

	status, _, body := call(t, "POST", a+"/v1/streams", aliceKey, `{"id":"p"}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, body, `"id":"p","status":"active","model":""`)
	const taken = `{"error":{"code":409,"message":"create stream p: stream already exists","status":"ALREADY_EXISTS"}}`
	for _, tc := range []struct{ url, key string }{{b, aliceKey}, {c, bobKey}} {
		status, _, body = call(t, "POST", tc.url+"/v1/streams", tc.key, `{"id":"p"}`)
		assert.Equal(t, http.StatusConflict, status)
		assert.Equal(t, taken, body, "requested IDs are one namespace across replicas and tenants")
	}

	live := subscribe(t, c, aliceKey, "p", "", "")
	var want strings.Builder
	for i, url := range []string{a, b, c, a, b, c} {
		status, _, body = call(t, "POST", url+"/v1/streams/p/chunks", aliceKey, fmt.Sprintf(`{"data":{"n":%d}}`, i+1))
		require.Equal(t, http.StatusAccepted, status, body)
		assert.Equal(t, fmt.Sprintf(`{"id":%d}`+"\n", i+1), body, "dense IDs through every replica")
		want.WriteString(pushFrame(i+1, fmt.Sprintf(`{"n":%d}`, i+1)))
	}
	assert.Equal(t, want.String(), live.frames(6))

	_, si := info(t, b, aliceKey, "p")
	assert.Equal(t, streamInfo{ID: "p", Status: "active", LastEventID: 6}, si)
	_, si = info(t, c, aliceKey, "p")
	assert.Equal(t, 1, si.Clients, "clients are counted where they are")
	const notFound = `{"error":{"code":404,"message":"stream \"p\" not found","status":"NOT_FOUND"}}`
	for _, url := range []string{a, b, c} {
		status, _, body = call(t, "GET", url+"/v1/streams/p", bobKey, "")
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, notFound, body, "another tenant's stream is unknown")
		status, _, body = call(t, "POST", url+"/v1/streams/p/chunks", bobKey, `{"data":1}`)
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, notFound, body)
	}

	for _, tc := range []struct{ url, key, id string }{{c, aliceKey, "q"}, {b, bobKey, "r"}} {
		status, _, body = call(t, "POST", tc.url+"/v1/streams", tc.key, `{"id":"`+tc.id+`"}`)
		require.Equal(t, http.StatusCreated, status, body)
	}
	for _, url := range []string{a, b, c} {
		assert.Equal(t, []string{"p", "q"}, listIDs(t, url, aliceKey), "the tenant's own, across the cluster, oldest first")
		assert.Equal(t, []string{"r"}, listIDs(t, url, bobKey))
	}

	// Resume on other replicas: the history keeps chunks 3..6.
	fromB := subscribe(t, b, aliceKey, "p", "?after=2", "")
	assert.Equal(t, pushFrame(3, `{"n":3}`)+pushFrame(4, `{"n":4}`)+pushFrame(5, `{"n":5}`)+pushFrame(6, `{"n":6}`), fromB.frames(4))
	fromA := subscribe(t, a, aliceKey, "p", "?after=1", "5")
	assert.Equal(t, pushFrame(6, `{"n":6}`), fromA.frames(1), "Last-Event-ID wins over an earlier ?after")
	status, _, body = call(t, "POST", c+"/v1/streams/p/chunks", aliceKey, `{"data":{"n":7}}`)
	require.Equal(t, http.StatusAccepted, status, body)
	for _, e := range []*events{live, fromB, fromA} {
		assert.Equal(t, pushFrame(7, `{"n":7}`), e.frames(1))
	}
	for _, url := range []string{a, b} {
		status, _, body = call(t, "GET", url+"/v1/streams/p/events?after=2", aliceKey, "")
		assert.Equal(t, http.StatusGone, status)
		assert.Equal(t, `{"error":{"code":410,"message":"chunks after 2 of stream \"p\" are no longer kept; resume from a later chunk","status":"FAILED_PRECONDITION"}}`, body)
		status, _, body = call(t, "GET", url+"/v1/streams/p/events?after=8", aliceKey, "")
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body, `"status":"INVALID_ARGUMENT"`)
	}

	status, _, body = call(t, "POST", b+"/v1/streams/p/error", aliceKey, `{"code":503,"message":"upstream hiccup"}`)
	require.Equal(t, http.StatusAccepted, status, body)
	assert.Equal(t, "{}\n", body)
	errFrame := "id: 8\nevent: error\ndata: " + `{"error":{"code":503,"message":"upstream hiccup","status":"UNAVAILABLE"}}` + "\n\n"
	for _, e := range []*events{live, fromB, fromA} {
		assert.Equal(t, errFrame, e.frames(1))
	}
	status, _, _ = call(t, "POST", c+"/v1/streams/p/error", bobKey, `{"code":503,"message":"x"}`)
	assert.Equal(t, http.StatusNotFound, status)

	status, _, body = call(t, "DELETE", b+"/v1/streams/p", bobKey, "")
	assert.Equal(t, http.StatusNotFound, status, body)
	status, _, body = call(t, "DELETE", b+"/v1/streams/p", aliceKey, "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"status":"completed"`)
	assert.Contains(t, body, `"last_event_id":8,"close_reason":"deleted by client","error":null}`)
	const done = "event: done\ndata: {\"status\":\"completed\",\"reason\":\"deleted by client\"}\n\n"
	for _, e := range []*events{live, fromB, fromA} {
		assert.Equal(t, done, e.rest())
	}
	status, _, body = call(t, "POST", a+"/v1/streams/p/chunks", aliceKey, `{"data":9}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `"status":"FAILED_PRECONDITION"`)
	_, si = info(t, c, aliceKey, "p")
	assert.Equal(t, streamInfo{ID: "p", Status: "completed", LastEventID: 8, CloseReason: "deleted by client"}, si)
	replay := subscribe(t, a, aliceKey, "p", "?after=6", "")
	assert.Equal(t, pushFrame(7, `{"n":7}`)+errFrame+done, replay.rest(), "a closed stream replays on any replica")
}

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

// Generations in a cluster: one created on A is watched on B, and a DELETE on C ends it for
// every subscriber and cancels A's upstream request. A Gemini-route generation is cancelled after
// orphan_grace only once its last subscriber on every replica has left.
func TestClusterGenerations(t *testing.T) {
	chunks := upstreamtest.Chunks("one ", "two ", "three")
	stalled := upstreamtest.Script{Steps: []upstreamtest.Step{upstreamtest.Event(chunks[0]), upstreamtest.Event(chunks[1]), upstreamtest.Stall()}}
	fake := upstreamtest.NewServer(t, stalled)
	r, _ := startReplicas(t, 3, fmt.Sprintf(`listen: 127.0.0.1:0
heartbeat: 0s
orphan_grace: 300ms
upstream: {kind: gemini, base_url: %s, api_key: test-upstream-key-0123456789}
limits: {rate: {per_key_rps: 0}}
`, fake.URL())+clusterKeys)
	a, b, c := r[0].url, r[1].url, r[2].url
	frames := pushFrame(1, string(chunks[0])) + pushFrame(2, string(chunks[1]))

	status, _, body := call(t, "POST", a+"/v1/streams", aliceKey, `{"id":"g","model":"gemini-2.5-flash","request":`+generateBody+`}`)
	require.Equal(t, http.StatusCreated, status, body)
	onB := subscribe(t, b, aliceKey, "g", "", "")
	assert.Equal(t, frames, onB.frames(2), "the owner's chunks, numbered 1, 2 on another replica")
	require.Equal(t, 0, fake.CancelledCount())
	status, _, body = call(t, "DELETE", c+"/v1/streams/g", aliceKey, "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "event: done\ndata: {\"status\":\"completed\",\"reason\":\"deleted by client\"}\n\n", onB.rest())
	eventually(t, "the owner cancelled its upstream request", func() bool { return fake.CancelledCount() == 1 })

	// The caller of the Gemini route on A, and a watcher on B.
	req, err := http.NewRequest("POST", a+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", strings.NewReader(generateBody))
	require.NoError(t, err)
	req.Header.Set("x-goog-api-key", aliceKey)
	caller, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, caller.StatusCode)
	first, err := bufio.NewReader(caller.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "data: "+string(chunks[0])+"\r\n", first)
	id := caller.Header.Get("X-Stream-Id")
	watcher := subscribe(t, b, aliceKey, id, "", "")
	assert.Equal(t, frames, watcher.frames(2))

	require.NoError(t, caller.Body.Close())
	time.Sleep(time.Second) // three orphan graces: the watcher on B keeps the generation running
	_, si := info(t, c, aliceKey, id)
	assert.Equal(t, "active", si.Status)
	assert.Equal(t, 1, fake.CancelledCount())

	watcher.close()
	eventually(t, "the orphan was cancelled", func() bool {
		_, si = info(t, c, aliceKey, id)
		return si.Status != "active"
	})
	assert.Equal(t, streamInfo{ID: id, Status: "completed", LastEventID: 2, CloseReason: "client disconnected"}, si)
	eventually(t, "the owner cancelled the orphan's upstream request", func() bool { return fake.CancelledCount() == 2 })
}

// max_streams and a key's rate limit hold for the whole cluster, not per replica.
func TestClusterLimits(t *testing.T) {
	r, _ := startReplicas(t, 3, "listen: 127.0.0.1:0\nmanager: {max_streams: 2}\nlimits: {rate: {per_key_rps: 0.01, burst: 4}}\n"+clusterKeys)
	a, b, c := r[0].url, r[1].url, r[2].url

	for i, url := range []string{a, b} {
		status, _, body := call(t, "POST", url+"/v1/streams", bobKey, fmt.Sprintf(`{"id":"s%d"}`, i+1))
		require.Equal(t, http.StatusCreated, status, body)
	}
	status, header, body := call(t, "POST", c+"/v1/streams", aliceKey, `{"id":"s3"}`)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "1", header.Get("Retry-After"))
	assert.Equal(t, `{"error":{"code":429,"message":"create stream: too many concurrent streams (cluster limit 2)","status":"RESOURCE_EXHAUSTED"}}`, body)

	// alice has used one request of her burst of 4, bob two of his.
	for _, url := range []string{a, b, c} {
		status, _, body = call(t, "GET", url+"/v1/streams", aliceKey, "")
		require.Equal(t, http.StatusOK, status, body)
	}
	for _, url := range []string{a, b, c} {
		status, header, body = call(t, "GET", url+"/v1/streams", aliceKey, "")
		assert.Equal(t, http.StatusTooManyRequests, status)
		wait, err := strconv.Atoi(header.Get("Retry-After"))
		require.NoError(t, err)
		assert.True(t, wait > 90 && wait <= 100, "one request per 100s: Retry-After %d", wait)
		assert.Equal(t, `{"error":{"code":429,"message":"rate limit exceeded for API key alice","status":"RESOURCE_EXHAUSTED"}}`, body)
	}
	status, _, body = call(t, "DELETE", c+"/v1/streams/s1", bobKey, "")
	require.Equal(t, http.StatusOK, status, body)
	status, _, body = call(t, "POST", a+"/v1/streams", bobKey, `{"id":"s3"}`)
	assert.Equal(t, http.StatusCreated, status, "the slot the DELETE on C freed is free on A: %s", body)
}

// A replica that shuts down ends the streams it owns with "shutting down" for every replica, and
// disconnects its subscribers of streams another replica owns without `event: done`, so that
// they resume elsewhere with Last-Event-ID, with no gap.
func TestClusterShutdownHandsOffRemoteSubscribers(t *testing.T) {
	r, _ := startReplicas(t, 2, "listen: 127.0.0.1:0\nheartbeat: 0s\nlimits: {rate: {per_key_rps: 0}}\n"+clusterKeys)
	a, b := r[0].url, r[1].url
	for _, tc := range []struct{ url, id string }{{a, "theirs"}, {b, "mine"}} {
		status, _, body := call(t, "POST", tc.url+"/v1/streams", aliceKey, `{"id":"`+tc.id+`"}`)
		require.Equal(t, http.StatusCreated, status, body)
		status, _, body = call(t, "POST", tc.url+"/v1/streams/"+tc.id+"/chunks", aliceKey, `{"data":1}`)
		require.Equal(t, http.StatusAccepted, status, body)
	}
	theirsOnB := subscribe(t, b, aliceKey, "theirs", "", "")
	mineOnB := subscribe(t, b, aliceKey, "mine", "", "")
	mineOnA := subscribe(t, a, aliceKey, "mine", "", "")
	for _, e := range []*events{theirsOnB, mineOnB, mineOnA} {
		assert.Equal(t, pushFrame(1, "1"), e.frames(1))
	}

	require.Equal(t, 0, r[1].stop(syscall.SIGTERM), "stderr:\n%s", r[1].stderr)
	assert.Equal(t, "", theirsOnB.rest(), "no done: the stream goes on elsewhere")
	shutdown := "id: 2\nevent: error\ndata: {\"error\":{\"code\":503,\"message\":\"shutting down\",\"status\":\"UNAVAILABLE\"}}\n\n" +
		"event: done\ndata: {\"status\":\"error\",\"reason\":\"shutting down\"}\n\n"
	assert.Equal(t, shutdown, mineOnB.rest(), "the stream B owned ends")
	assert.Equal(t, shutdown, mineOnA.rest(), "for every replica")

	resumed := subscribe(t, a, aliceKey, "theirs", "", "1")
	status, _, body := call(t, "POST", a+"/v1/streams/theirs/chunks", aliceKey, `{"data":2}`)
	require.Equal(t, http.StatusAccepted, status, body)
	assert.Equal(t, pushFrame(2, "2"), resumed.frames(1))
}

// While Redis is unreachable /readyz (the gateway's and the admin listener's) answers 503 and a
// request needing Redis answers 503 UNAVAILABLE with Retry-After: 1; once Redis is back the
// replica is ready again.
func TestClusterRedisDownIsUnavailable(t *testing.T) {
	r, redis := startReplicas(t, 1, "listen: 127.0.0.1:0\n"+clusterKeys)
	a := r[0]
	for _, url := range []string{a.url, a.admin} {
		status, body := get(t, url+"/readyz")
		require.Equal(t, http.StatusOK, status, string(body))
	}
	require.NoError(t, redis.Stop())
	status, body := get(t, a.url+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, `{"error":{"code":503,"message":"the stream store is not ready","status":"UNAVAILABLE"}}`, string(body),
		"the public answer names no Redis address")
	status, _ = get(t, a.admin+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	code, header, text := call(t, "POST", a.url+"/v1/streams", aliceKey, `{}`)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "1", header.Get("Retry-After"))
	assert.Equal(t, `{"error":{"code":503,"message":"the cluster store is unavailable; retry in a moment","status":"UNAVAILABLE"}}`, text)

	require.NoError(t, redis.Restart())
	eventually(t, "the replica is ready again", func() bool {
		status, _ := get(t, a.url+"/readyz")
		return status == http.StatusOK
	})
}

// metric scrapes the admin listener's /metrics and returns the value of the sample named line
// (name and labels, as the scrape spells them), and whether the scrape has it.
func metric(t *testing.T, admin, line string) (float64, bool) {
	t.Helper()
	status, body := get(t, admin+"/metrics")
	require.Equal(t, http.StatusOK, status)
	for l := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(l, "\n"), line+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, "sample %q", l)
			return f, true
		}
	}
	return 0, false
}

// The cluster metrics on /metrics: both replicas hold their leases and record refreshes, with no
// failure; Redis stalled for longer than the lease makes their refreshes fail and their leases
// lapse until each takes a new one; then a replica killed with a push stream open is lost, and the
// other's sweep ends that stream and counts it.
func TestClusterMetrics(t *testing.T) {
	r, redis := startReplicas(t, 2, "listen: 127.0.0.1:0\nheartbeat: 0s\nlimits: {rate: {per_key_rps: 0}}\n"+clusterKeys)
	for _, p := range r {
		held, ok := metric(t, p.admin, "streamgate_cluster_lease_held")
		require.True(t, ok, "the gauge is exported in cluster mode")
		assert.Equal(t, 1.0, held)
		eventually(t, "a lease refresh is recorded", func() bool {
			n, _ := metric(t, p.admin, "streamgate_cluster_lease_left_seconds_count")
			return n >= 1
		})
		failed, _ := metric(t, p.admin, "streamgate_cluster_lease_refresh_failures_total")
		assert.Equal(t, 0.0, failed)
	}

	require.NoError(t, redis.Stall(2500*time.Millisecond))
	for _, p := range r {
		eventually(t, "a failed refresh, then the lease held again", func() bool {
			failed, _ := metric(t, p.admin, "streamgate_cluster_lease_refresh_failures_total")
			held, _ := metric(t, p.admin, "streamgate_cluster_lease_held")
			return failed >= 1 && held == 1
		})
	}

	status, _, body := call(t, "POST", r[0].url+"/v1/streams", aliceKey, `{"id":"p"}`)
	require.Equal(t, http.StatusCreated, status, body)
	r[0].stop(syscall.SIGKILL)
	eventually(t, "the lost replica's stream is ended", func() bool {
		_, si := info(t, r[1].url, aliceKey, "p")
		return si.Status == "error"
	})
	swept, _ := metric(t, r[1].admin, "streamgate_cluster_streams_swept_total")
	assert.Equal(t, 1.0, swept, "the one stream of the lost replica")
}

// Outside cluster mode the lease gauge is absent, so no alert on it fires for a single gateway.
func TestNoClusterMetricsWithoutCluster(t *testing.T) {
	p := start(t, t.TempDir(), nil)
	_, ok := metric(t, p.admin, "streamgate_cluster_lease_held")
	assert.False(t, ok)
}
