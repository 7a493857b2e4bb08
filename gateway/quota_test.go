package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// One tenant holding all of its stream slots is answered 429 with Retry-After, on the API and the
// Gemini route, while another tenant still creates streams and a running stream of the first keeps
// streaming.
func TestTenantQuotaLeavesOtherTenantsServed(t *testing.T) {
	e := newEnv(t, options{manager: func(c *manager.Config) { c.DefaultQuota = manager.Quota{MaxStreams: 2} }})
	running := e.createStream(aliceKey, map[string]any{})
	sub := e.subscribe(aliceKey, running, "")
	defer sub.close()
	e.waitClients(running, 1)
	e.createStream(aliceKey, map[string]any{})

	for _, key := range []string{aliceKey, carolKey} { // carol is in alice's tenant
		resp := e.request("POST", "/v1/streams", key, map[string]any{})
		body := readAll(t, resp)
		se := requireError(t, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", resp.StatusCode, body)
		require.Equal(t, `create stream: too many concurrent streams (tenant "acme" limit 2)`, se.Message)
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
	}
	status, body := e.do("POST", streamPath, aliceKey, generateBody)
	requireError(t, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", status, body)

	other := e.createStream(bobKey, map[string]any{})
	e.push(bobKey, other, "globex is served", "")
	e.push(aliceKey, running, "still streaming", "")
	ev := sub.next()
	require.Equal(t, event{ID: "1", Type: "message", Data: `"still streaming"`}, ev)
}

// A subscriber resuming from the start of a long history gets it whole and exact, however the
// replay is cut into write batches.
func TestLongReplayArrivesWholeAndExact(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{})
	var want strings.Builder
	for i := 1; i <= 40; i++ {
		text := strings.Repeat(string(rune('a'+i%26)), 100<<10)
		e.push(aliceKey, id, text, "")
		fmt.Fprintf(&want, "id: %d\ndata: %q\n\n", i, text)
	}
	status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	want.WriteString("event: done\ndata: {\"status\":\"completed\",\"reason\":\"deleted by client\"}\n\n")

	resp := e.request("GET", "/v1/streams/"+id+"/events?after=0", aliceKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := readAll(t, resp)
	require.Equal(t, want.String(), string(got))
}

// A push past the byte budget is answered 429 RESOURCE_EXHAUSTED with Retry-After and leaves the
// stream active; a generation whose chunk the budget refuses ends with that error chunk instead
// of going on with a gap (issue 10).
func TestBudgetRefusals(t *testing.T) {
	big := strings.Repeat("x", 3000)
	script := upstreamtest.Gemini("small", big, "never sent")
	e := newEnv(t, options{script: &script, manager: func(c *manager.Config) {
		c.HistoryBytes, c.MaxBytes = 2048, 2048
		c.DefaultQuota = manager.Quota{MaxBytes: 2048}
	}})
	id := e.createStream(aliceKey, map[string]any{})
	resp := e.request("POST", "/v1/streams/"+id+"/chunks", aliceKey, map[string]any{"data": big})
	body := readAll(t, resp)
	se := requireError(t, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", resp.StatusCode, body)
	require.Contains(t, se.Message, "memory budget exhausted")
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	e.push(aliceKey, id, "still open", "")
	require.Equal(t, "active", e.info(aliceKey, id).Status)
	status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	resp = e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	frames := string(readAll(t, resp))
	require.True(t, strings.HasPrefix(frames, "data: "+string(script.Events()[0])+"\r\n\r\n"), frames)
	last := frames[strings.LastIndex(frames[:len(frames)-4], "\r\n\r\n")+4:]
	require.True(t, strings.HasPrefix(last, `data: {"error":{"code":429,`), last)
	require.Contains(t, last, `"status":"RESOURCE_EXHAUSTED"`)
	require.NotContains(t, frames, "never sent")
}
