package gateway_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/manager"
)

func TestResumeAfterDroppedConnection(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{})
	first := e.subscribe(aliceKey, id, "")
	for i := 1; i <= 5; i++ {
		e.push(aliceKey, id, i, "")
	}
	for i := 1; i <= 3; i++ {
		require.Equal(t, strconv.Itoa(i), first.next().ID)
	}
	first.close()
	e.waitClients(id, 0)
	for i := 6; i <= 8; i++ {
		e.push(aliceKey, id, i, "")
	}

	check := func(t *testing.T, sub *eventReader, from int) {
		t.Helper()
		defer sub.close()
		for i := from; i <= 8; i++ {
			assert.Equal(t, event{ID: strconv.Itoa(i), Type: "message", Data: strconv.Itoa(i)}, sub.next())
		}
		if from == 4 {
			e.push(aliceKey, id, 9, "")
		}
		assert.Equal(t, event{ID: "9", Type: "message", Data: "9"}, sub.next(), "replay continues live")
	}
	t.Run("after", func(t *testing.T) { check(t, e.subscribe(aliceKey, id, "?after=3"), 4) })
	t.Run("Last-Event-ID", func(t *testing.T) {
		check(t, e.subscribe(aliceKey, id, "", "Last-Event-ID", "6"), 7)
	})
	t.Run("both agreeing", func(t *testing.T) {
		sub := e.subscribe(aliceKey, id, "?after=9", "Last-Event-ID", "9")
		defer sub.close()
		e.push(aliceKey, id, 10, "")
		assert.Equal(t, event{ID: "10", Type: "message", Data: "10"}, sub.next())
	})
	t.Run("an EventSource opened with after reconnecting", func(t *testing.T) {
		sub := e.subscribe(aliceKey, id, "?after=2", "Last-Event-ID", "9")
		defer sub.close()
		assert.Equal(t, event{ID: "10", Type: "message", Data: "10"}, sub.next(), "the header wins")
	})
}

func TestResumeErrors(t *testing.T) {
	e := newEnv(t, options{manager: func(c *manager.Config) { c.HistorySize = 4 }})
	id := e.createStream(aliceKey, map[string]any{})
	for i := 1; i <= 10; i++ {
		e.push(aliceKey, id, i, "")
	}
	for _, tc := range []struct {
		name, query string
		header      []string
		code        int
		status      string
	}{
		{"history gone", "?after=2", nil, 410, "FAILED_PRECONDITION"},
		{"history gone by header", "", []string{"Last-Event-ID", "5"}, 410, "FAILED_PRECONDITION"},
		{"header before the query", "?after=8", []string{"Last-Event-ID", "7"}, 400, "INVALID_ARGUMENT"},
		{"beyond the end", "?after=11", nil, 400, "INVALID_ARGUMENT"},
		{"not a number", "?after=x", nil, 400, "INVALID_ARGUMENT"},
		{"negative", "?after=-1", nil, 400, "INVALID_ARGUMENT"},
		{"header not a number", "", []string{"Last-Event-ID", "abc"}, 400, "INVALID_ARGUMENT"},
		{"header given twice", "", []string{"Last-Event-ID", "6", "Last-Event-ID", "7"}, 400, "INVALID_ARGUMENT"},
		{"header given twice alike", "", []string{"Last-Event-ID", "7", "Last-Event-ID", "7"}, 400, "INVALID_ARGUMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("GET", "/v1/streams/"+id+"/events"+tc.query, aliceKey, nil, tc.header...)
			requireError(t, tc.code, tc.status, status, body)
		})
	}
	sub := e.subscribe(aliceKey, id, "?after=6")
	defer sub.close()
	assert.Equal(t, "7", sub.next().ID, "the oldest kept chunk still resumes")
}

// A Gemini-route caller that counted N frames resumes with ?after=N and gets exactly the rest.
func TestGeminiCallerResumes(t *testing.T) {
	script := slowScript(12, 3*time.Millisecond)
	e := newEnv(t, options{script: script, gateway: func(c *gateway.Config) { c.OrphanGrace = 10 * time.Second }})
	resp := e.request("POST", streamPath, aliceKey, generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Stream-Id")
	r := bufio.NewReader(resp.Body)
	var got []string
	for range 4 {
		frame := readFrame(t, r)
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(frame, "data: "), "\r\n\r\n"))
	}
	resp.Body.Close()

	sub := e.subscribe(aliceKey, id, "?after=4")
	defer sub.close()
	for _, ev := range sub.rest() {
		if ev.Type == "message" {
			got = append(got, ev.Data)
		}
	}
	var want []string
	for _, c := range script.Events() {
		want = append(want, string(c))
	}
	assert.Equal(t, want, got, "no gap, no duplicate")
}

func TestSubscribeToAFinishedStream(t *testing.T) {
	e := newEnv(t, options{})
	id := e.createStream(aliceKey, map[string]any{"id": "team/a"})
	require.Equal(t, "team/a", id)
	e.push(aliceKey, "team%2Fa", "one", "")
	e.push(aliceKey, "team%2Fa", "two", "x")
	status, body := e.do("DELETE", "/v1/streams/team%2Fa", aliceKey, nil)
	require.Equal(t, http.StatusOK, status, string(body))

	sub := e.subscribe(aliceKey, "team%2Fa", "")
	defer sub.close()
	assert.Equal(t, []event{
		{ID: "1", Type: "message", Data: `"one"`},
		{ID: "2", Type: "x", Data: `"two"`},
		{ID: "2", Type: "done", Data: `{"status":"completed","reason":"deleted by client"}`},
	}, sub.rest())
	late := e.subscribe(aliceKey, "team%2Fa", "?after=2")
	defer late.close()
	assert.Equal(t, []event{{ID: "", Type: "done", Data: `{"status":"completed","reason":"deleted by client"}`}}, late.rest())
}
