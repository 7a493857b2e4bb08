package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pushLoop is the number of ~10 MiB pushes TestPushLoopStaysWithinTheMemoryBudget makes; issue 10
// names 250 (go test -run PushLoop ./cmd/streamgate -pushloop 250), the default keeps make test
// quick while still running far past the tenant's budget.
var pushLoop = flag.Int("pushloop", 40, "pushes of ~10 MiB in TestPushLoopStaysWithinTheMemoryBudget")

// With the shipped defaults, one tenant pushing ~10 MiB chunks into new streams as fast as it can
// is refused with 429 once its budget is used, the process stays far below 1.5 GiB, and another
// tenant's stream keeps streaming throughout (issue 10).
func TestPushLoopStaysWithinTheMemoryBudget(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "gw.yaml", `
listen: 127.0.0.1:0
auth: {keys: [{id: alice, key: alice-budget-key, tenant: acme}, {id: bob, key: bob-budget-key, tenant: globex}]}
`)
	p := start(t, dir, nil, "-config", cfg)
	// bob's stream and its subscriber, reading while alice floods.
	resp, body := post(t, p.url+"/v1/streams", "bob-budget-key", `{"id":"steady"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	received := subscribeData(t, p.url+"/v1/streams/steady/events", "bob-budget-key")

	// A JSON body just under limits.max_body_bytes (10 MiB).
	big := []byte(`{"data":"` + strings.Repeat("x", 10<<20-64) + `"}`)
	refused := map[string]int{}
	for i := 1; i <= *pushLoop; i++ {
		// Every fifth turn, so that bob stays within his own rate limit (50 requests/s).
		if i%5 == 0 {
			resp, body := post(t, p.url+"/v1/streams/steady/chunks", "bob-budget-key", fmt.Sprintf(`{"data":%d}`, i))
			require.Equal(t, http.StatusAccepted, resp.StatusCode, "bob is refused while alice floods: %s", body)
		}
		resp, body := post(t, p.url+"/v1/streams", "alice-budget-key", `{}`)
		if resp.StatusCode == http.StatusCreated {
			var created struct{ ID string }
			require.NoError(t, json.Unmarshal(body, &created))
			resp, body = postBytes(t, p.url+"/v1/streams/"+created.ID+"/chunks", "alice-budget-key", big)
			if resp.StatusCode == http.StatusAccepted {
				continue
			}
		}
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(body))
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		var e struct {
			Error struct {
				Code            int
				Status, Message string
			}
		}
		require.NoError(t, json.Unmarshal(body, &e), string(body))
		require.Equal(t, 429, e.Error.Code)
		require.Equal(t, "RESOURCE_EXHAUSTED", e.Error.Status)
		refused[strings.SplitN(e.Error.Message, ":", 2)[0]]++
	}
	t.Logf("refusals by operation: %v", refused)
	assert.NotEmpty(t, refused, "alice was never refused")
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS after %d pushes: %d MiB", *pushLoop, peak>>20)
	assert.Less(t, peak, int64(1536<<20), "peak RSS")

	require.Equal(t, 0, p.stop(syscall.SIGTERM))
	got := <-received
	var want []string
	for i := 5; i <= *pushLoop; i += 5 {
		want = append(want, strconv.Itoa(i))
	}
	assert.Equal(t, want, got, "bob's subscriber got every chunk bob pushed, in order")
}

// subscribeData reads a stream's events in the background and hands over their data lines once
// the stream ends.
func subscribeData(t *testing.T, url, key string) <-chan []string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("x-goog-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(chan []string, 1)
	go func() {
		defer resp.Body.Close()
		var data []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok && !strings.HasPrefix(line, "{") {
				data = append(data, line)
			}
		}
		out <- data
	}()
	return out
}

func postBytes(t *testing.T, url, key string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return post(t, url, key, string(body))
}

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}

// With every connection slot of the main listener held by idle clients, the admin listener still
// answers /healthz and /metrics: it has a connection budget of its own (issue 10 item 4).
func TestAdminAnswersWhileTheMainListenerIsSaturated(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "gw.yaml", "listen: 127.0.0.1:0\nlimits: {max_connections: 4}\n")
	p := start(t, dir, nil, "-config", cfg)
	require.NotEmpty(t, p.admin)
	addr := strings.TrimPrefix(p.url, "http://")
	for range 4 {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	// The main listener serves no one else now (a wrong limit answers at once).
	_, err := (&http.Client{Timeout: 300 * time.Millisecond}).Get(p.url + "/healthz")
	require.Error(t, err, "the main listener was not saturated")
	for _, path := range []string{"/healthz", "/metrics"} {
		status, _ := get(t, p.admin+path)
		assert.Equal(t, http.StatusOK, status, path)
	}
	require.Equal(t, 0, p.stop(syscall.SIGTERM))
}
