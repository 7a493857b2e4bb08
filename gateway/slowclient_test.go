package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/upstreamtest"
)

// A subscriber that stops reading is dropped when its queue overflows, without slowing anyone
// else; it can resume from the last chunk it got.
func TestSlowSubscriberIsDroppedAndResumes(t *testing.T) {
	e := newEnv(t, options{
		manager: func(c *manager.Config) { c.HistorySize = 16 },
		gateway: func(c *gateway.Config) { c.ClientQueueSize = 16 },
	})
	id := e.createStream(aliceKey, map[string]any{})

	// The slow subscriber: a raw connection that reads nothing for now.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "GET /v1/streams/%s/events HTTP/1.1\r\nHost: gw\r\nx-goog-api-key: %s\r\n\r\n", id, aliceKey)
	require.NoError(t, err)

	healthy := e.subscribe(aliceKey, id, "")
	defer healthy.close()
	e.waitClients(id, 2)
	received := make(chan []event, 1)
	go func() {
		var got []event
		for {
			ev, err := healthy.r.Next()
			if err != nil {
				received <- got
				return
			}
			got = append(got, event{ID: ev.LastEventID, Type: ev.Type, Data: string(ev.Data)})
		}
	}()

	big := strings.Repeat("x", 256<<10)
	pushed := 0
	for pushed < 400 {
		pushed++
		e.push(aliceKey, id, big+strconv.Itoa(pushed), "")
		if n, err := e.m.ClientCount(context.Background(), id); err == nil && n == 1 {
			break
		}
	}
	require.Less(t, pushed, 400, "the slow subscriber was never dropped")
	for i := 0; i < 3; i++ {
		pushed++
		e.push(aliceKey, id, big+strconv.Itoa(pushed), "")
	}
	status, body := e.do("DELETE", "/v1/streams/"+id, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	got := <-received
	require.Len(t, got, pushed+1, "the healthy subscriber got every chunk")
	for i, ev := range got[:pushed] {
		require.Equal(t, strconv.Itoa(i+1), ev.ID)
	}
	assert.Equal(t, "done", got[pushed].Type)

	// The slow one reads what it was sent before it was dropped: a gap-free prefix, no done.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	slow := newEventReader(t, resp).rest()
	resp.Body.Close()
	require.NotEmpty(t, slow)
	require.Less(t, len(slow), pushed)
	for i, ev := range slow {
		require.Equal(t, strconv.Itoa(i+1), ev.ID)
		require.Equal(t, "message", ev.Type)
	}

	// It resumes from its last chunk and gets exactly the rest.
	status, body = e.do("GET", "/v1/streams/"+id+"/events", aliceKey, nil, "Last-Event-ID", slow[len(slow)-1].ID)
	require.Equal(t, http.StatusOK, status)
	var rest []string
	for _, block := range strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		rest = append(rest, strings.SplitN(block, "\n", 2)[0])
	}
	require.Len(t, rest, pushed-len(slow)+1)
	assert.Equal(t, "id: "+strconv.Itoa(len(slow)+1), rest[0])
	assert.Equal(t, "event: done", rest[len(rest)-1])
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), "client dropped: queue full") },
		5*time.Second, time.Millisecond)
}

// A Gemini-route caller that falls behind gets an error frame telling it where to resume, never a
// silent end.
func TestSlowGeminiCallerGetsAnErrorFrame(t *testing.T) {
	script := upstreamtest.Gemini(upstreamtest.Texts(64, 256<<10)...)
	e := newEnv(t, options{
		script:  &script,
		manager: func(c *manager.Config) { c.HistorySize = 16 },
		gateway: func(c *gateway.Config) {
			c.ClientQueueSize = 16
			c.OrphanGrace = time.Minute
		},
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gw\r\nx-goog-api-key: %s\r\nContent-Length: %d\r\n\r\n%s",
		streamPath, aliceKey, len(generateBody), generateBody)
	require.NoError(t, err)
	var id string
	require.Eventually(t, func() bool {
		ids, err := e.m.ActiveStreamIDs(context.Background())
		if err != nil || len(ids) != 1 {
			return false
		}
		id = ids[0]
		return true
	}, 5*time.Second, time.Millisecond)
	e.waitStatus(aliceKey, id, "completed")

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body := readAll(t, resp)
	frames := strings.Split(strings.TrimSuffix(string(body), "\r\n\r\n"), "\r\n\r\n")
	require.Less(t, len(frames), 64)
	last := frames[len(frames)-1]
	n := len(frames) - 1
	want := "data: " + errorJSON(429, "RESOURCE_EXHAUSTED", "client too slow: it fell more than the queue size behind the stream; resume from /v1/streams/"+id+"/events?after="+strconv.Itoa(n))
	assert.Equal(t, want, last)
	for i, f := range frames[:n] {
		require.Equal(t, "data: "+string(script.Events()[i]), f)
	}
}

// A subscriber that stops reading is also dropped once what is queued for it passes
// ClientQueueBytes (by default twice the history's byte bound), long before the chunk count
// would: it must not pin data the history has let go of (issue 10).
func TestStalledSubscriberIsBoundedByBytes(t *testing.T) {
	e := newEnv(t, options{manager: func(c *manager.Config) { c.HistoryBytes = 1 << 20 }})
	id := e.createStream(aliceKey, map[string]any{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "GET /v1/streams/%s/events HTTP/1.1\r\nHost: gw\r\nx-goog-api-key: %s\r\n\r\n", id, aliceKey)
	require.NoError(t, err)
	e.waitClients(id, 1)

	big := strings.Repeat("x", 100<<10)
	for pushed := 1; ; pushed++ {
		// 400 x 100 KiB is far more than the socket buffers and the 2 MiB queue bound together,
		// and far fewer chunks than the 8192 the count bound allows.
		require.Less(t, pushed, 400, "the stalled subscriber was never dropped")
		e.push(aliceKey, id, big, "")
		if n, err := e.m.ClientCount(context.Background(), id); err == nil && n == 0 {
			break
		}
	}
}
