package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

// feedStream is the data of a lifecycle event.
type feedStream struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Model        string     `json:"model"`
	Kind         string     `json:"kind"`
	Source       string     `json:"source"`
	Clients      int        `json:"clients"`
	LastEventID  uint64     `json:"last_event_id"`
	CloseReason  string     `json:"close_reason"`
	CreatedAt    time.Time  `json:"created_at"`
	ClosedAt     *time.Time `json:"closed_at"`
	FirstChunkAt *time.Time `json:"first_chunk_at"`
}

// feedEvent is one lifecycle event: its SSE id and type, and its data.
type feedEvent struct {
	ID     string
	Type   string
	Stream feedStream
	Raw    string
}

// watcher reads the lifecycle feed.
type watcher struct {
	t *testing.T
	r *eventReader
}

func (e *env) watch(t *testing.T, key, query string, header ...string) *watcher {
	t.Helper()
	resp := e.request("GET", "/v1/streams?watch=true"+query, key, nil, header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %d %s", resp.StatusCode, readAllTB(t, resp))
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	require.Empty(t, resp.Header.Values("X-Stream-Id"), "the feed is no one stream")
	w := &watcher{t: t, r: newEventReader(t, resp)}
	t.Cleanup(w.r.close)
	return w
}

func (w *watcher) next() feedEvent {
	w.t.Helper()
	ev := w.r.next()
	var s feedStream
	require.NoError(w.t, json.Unmarshal([]byte(ev.Data), &s), ev.Data)
	return feedEvent{ID: ev.ID, Type: ev.Type, Stream: s, Raw: ev.Data}
}

// until skips the "updated" events of stream id that do not match want yet, and returns the
// first that does; any other event fails the test. It is how a test waits for the tick without
// depending on when it comes.
func (w *watcher) until(id string, want func(feedStream) bool) feedEvent {
	w.t.Helper()
	for {
		ev := w.next()
		require.Equal(w.t, "updated", ev.Type, "%+v", ev)
		require.Equal(w.t, id, ev.Stream.ID, "%+v", ev)
		if want(ev.Stream) {
			return ev
		}
	}
}

// The feed of one tenant, live: a created event for a stream made through either route, updated
// ones (at most one per tick) as its clients and chunks change, closed when it ends, whoever ends
// it; other tenants' streams are never seen.
func TestWatchFeed(t *testing.T) {
	e := newEnv(t, options{})
	before := e.createStream(aliceKey, map[string]any{"id": "before"})
	w := e.watch(t, aliceKey, "")

	// The snapshot: the active streams, with the tenant's latest event ID, that of before's
	// creation.
	ev := w.next()
	assert.Equal(t, "1", ev.ID)
	assert.Equal(t, "created", ev.Type)
	assert.Equal(t, feedStream{ID: before, Status: "active", Kind: "push", Source: "api",
		CreatedAt: ev.Stream.CreatedAt}, ev.Stream)
	var keys map[string]any
	require.NoError(t, json.Unmarshal([]byte(ev.Raw), &keys))
	assert.Equal(t, []string{"clients", "close_reason", "closed_at", "created_at", "error", "first_chunk_at",
		"id", "kind", "last_event_id", "model", "source", "status"}, sortedKeys(keys),
		"a stream's info as GET /v1/streams/{id} gives it, and kind, source and first_chunk_at")

	e.createStream(bobKey, map[string]any{"id": "bobs"}) // another tenant: never seen
	pushed := e.createStream(carolKey, map[string]any{"id": "pushed"})
	ev = w.next()
	assert.Equal(t, "2", ev.ID)
	assert.Equal(t, "created", ev.Type)
	assert.Equal(t, "pushed", ev.Stream.ID)

	e.push(carolKey, pushed, "one", "")
	e.push(carolKey, pushed, "two", "")
	ev = w.until(pushed, func(s feedStream) bool { return s.LastEventID == 2 })
	require.NotNil(t, ev.Stream.FirstChunkAt)
	assert.False(t, ev.Stream.FirstChunkAt.Before(ev.Stream.CreatedAt))

	r := e.subscribe(aliceKey, pushed, "")
	w.until(pushed, func(s feedStream) bool { return s.Clients == 1 })
	r.close()
	w.until(pushed, func(s feedStream) bool { return s.Clients == 0 })

	status, body := e.do("DELETE", "/v1/streams/"+pushed, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	ev = w.next() // a push stream's close is seen by the tick
	assert.Equal(t, "closed", ev.Type)
	assert.Equal(t, "pushed", ev.Stream.ID)
	assert.Equal(t, "completed", ev.Stream.Status)
	assert.Equal(t, "deleted by client", ev.Stream.CloseReason)
	assert.Equal(t, uint64(2), ev.Stream.LastEventID)
	require.NotNil(t, ev.Stream.ClosedAt)

	// A Gemini-route generation: created, then closed the moment its runner returns.
	status, body = e.do("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, status, string(body))
	created := w.next()
	assert.Equal(t, "created", created.Type)
	assert.Equal(t, "generate", created.Stream.Kind)
	assert.Equal(t, "gemini", created.Stream.Source)
	assert.Equal(t, "gemini-2.5-flash", created.Stream.Model)
	for {
		ev = w.next()
		require.Equal(t, created.Stream.ID, ev.Stream.ID)
		if ev.Type == "closed" {
			break
		}
		require.Equal(t, "updated", ev.Type)
	}
	assert.Equal(t, "completed", ev.Stream.Status)
	assert.Equal(t, "completed", ev.Stream.CloseReason)
	assert.Equal(t, uint64(3), ev.Stream.LastEventID)
	require.NotNil(t, ev.Stream.FirstChunkAt)
	id, err := strconv.ParseUint(ev.ID, 10, 64)
	require.NoError(t, err)
	assert.Greater(t, id, uint64(2))
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A watcher that reconnects with Last-Event-ID (or ?after=) gets exactly the events it missed;
// one whose position is no longer kept, or never was, is told 410.
func TestWatchResume(t *testing.T) {
	e := newEnv(t, options{manager: func(c *manager.Config) { c.MaxConcurrentStreams = 2000 }})
	w := e.watch(t, aliceKey, "")
	e.createStream(aliceKey, map[string]any{"id": "s1"})
	ev := w.next()
	require.Equal(t, feedEvent{ID: "1", Type: "created"}, feedEvent{ID: ev.ID, Type: ev.Type})
	w.r.close()

	// Missed: two generations, each created and closed (updated events may come between them,
	// from the tick). The first one's close is published by its generation after its response
	// ended, so it may follow the second one's creation: the order holds per stream.
	for range 2 {
		status, body := e.do("POST", streamPath, aliceKey, generateBody)
		require.Equal(t, http.StatusOK, status, string(body))
	}
	for _, resume := range []struct {
		name   string
		query  string
		header []string
	}{
		{"Last-Event-ID", "", []string{"Last-Event-ID", "1"}},
		{"after", "&after=1", nil},
	} {
		t.Run(resume.name, func(t *testing.T) {
			w := e.watch(t, aliceKey, resume.query, resume.header...)
			types := map[string][]string{}
			last := uint64(1)
			for seen := 0; seen < 4; {
				ev := w.next()
				id, err := strconv.ParseUint(ev.ID, 10, 64)
				require.NoError(t, err)
				require.Equal(t, last+1, id, "no event is missed or repeated")
				last = id
				if ev.Type != "updated" {
					types[ev.Stream.ID] = append(types[ev.Stream.ID], ev.Type)
					seen++
				}
			}
			require.Len(t, types, 2, "two generations")
			for stream, got := range types {
				assert.Equal(t, []string{"created", "closed"}, got, stream)
			}
		})
	}

	t.Run("from the start", func(t *testing.T) {
		ev := e.watch(t, aliceKey, "&after=0").next()
		assert.Equal(t, feedEvent{ID: "1", Type: "created"}, feedEvent{ID: ev.ID, Type: ev.Type})
		assert.Equal(t, "s1", ev.Stream.ID)
	})
	t.Run("a position never given", func(t *testing.T) {
		status, body := e.do("GET", "/v1/streams?watch=true", aliceKey, nil, "Last-Event-ID", "100000")
		se := requireError(t, http.StatusGone, "FAILED_PRECONDITION", status, body)
		assert.Contains(t, se.Message, "lifecycle event 100000 is not one of this gateway's")
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct{ query, header, msg string }{
			{"&after=x", "", `after must be a chunk ID (a decimal number), got "x"`},
			{"", "x", `Last-Event-ID must be a chunk ID (a decimal number), got "x"`},
		} {
			var header []string
			if tc.header != "" {
				header = []string{"Last-Event-ID", tc.header}
			}
			status, body := e.do("GET", "/v1/streams?watch=true"+tc.query, aliceKey, nil, header...)
			se := requireError(t, http.StatusBadRequest, "INVALID_ARGUMENT", status, body)
			assert.Equal(t, tc.msg, se.Message)
		}
		status, body := e.do("GET", "/v1/streams?watch=maybe", aliceKey, nil)
		se := requireError(t, http.StatusBadRequest, "INVALID_ARGUMENT", status, body)
		assert.Equal(t, `watch must be true or false, got "maybe"`, se.Message)
	})

	// Push the tenant's first events out of its ring: a resume from them is 410, another
	// tenant's feed is untouched.
	for i := range 1030 {
		e.createStream(aliceKey, map[string]any{"id": fmt.Sprintf("bulk-%d", i)})
	}
	status, body := e.do("GET", "/v1/streams?watch=true&after=1", aliceKey, nil)
	se := requireError(t, http.StatusGone, "FAILED_PRECONDITION", status, body)
	assert.Contains(t, se.Message, "lifecycle events after 1 are no longer kept")
	e.createStream(bobKey, map[string]any{"id": "bobs"})
	ev = e.watch(t, bobKey, "&after=0").next()
	assert.Equal(t, feedEvent{ID: "1", Type: "created"}, feedEvent{ID: ev.ID, Type: ev.Type})
	assert.Equal(t, "bobs", ev.Stream.ID)
}

// With all=true the snapshot has the retained closed streams too, as closed events; the
// heartbeat is the events route's.
func TestWatchSnapshotAllAndHeartbeat(t *testing.T) {
	e := newEnv(t, options{gateway: func(c *gateway.Config) { c.Heartbeat = 20 * time.Millisecond }})
	done := e.createStream(aliceKey, map[string]any{"id": "done"})
	status, body := e.do("DELETE", "/v1/streams/"+done, aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	e.createStream(aliceKey, map[string]any{"id": "live"})

	w := e.watch(t, aliceKey, "&all=true")
	first, second := w.next(), w.next()
	assert.Equal(t, []string{"closed done", "created live"},
		[]string{first.Type + " " + first.Stream.ID, second.Type + " " + second.Stream.ID})
	assert.Equal(t, first.ID, second.ID)

	resp := e.request("GET", "/v1/streams?watch=true", bobKey, nil)
	defer resp.Body.Close()
	buf := make([]byte, len(": ping\n\n"))
	_, err := io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	assert.Equal(t, ": ping\n\n", string(buf), "bob has no stream: the first thing he gets is a ping")
}
