package sse_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/upstream/sse"
)

func TestAppendEvent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ev     sse.Event
		withID bool
		nl     sse.Newline
		want   string
	}{
		{"gemini", sse.Event{Data: []byte(`{"a":1}`)}, false, sse.CRLF, "data: {\"a\":1}\r\n\r\n"},
		{"gateway", sse.Event{Type: "delta", Data: []byte("x"), LastEventID: "12"}, true, sse.LF, "id: 12\nevent: delta\ndata: x\n\n"},
		{"id not asked for", sse.Event{Data: []byte("x"), LastEventID: "12"}, false, sse.LF, "data: x\n\n"},
		{"default type omitted", sse.Event{Type: "message", Data: []byte("x")}, false, sse.LF, "data: x\n\n"},
		{"cr line endings", sse.Event{Type: "t", Data: []byte("a\nb")}, false, sse.CR, "event: t\rdata: a\rdata: b\r\r"},
		{"multi-line data", sse.Event{Data: []byte("a\n\nb\n")}, false, sse.LF, "data: a\ndata:\ndata: b\ndata:\n\n"},
		{"empty data", sse.Event{}, false, sse.LF, "data:\n\n"},
		{"empty id resets", sse.Event{Data: []byte("x")}, true, sse.LF, "id:\ndata: x\n\n"},
		{"leading spaces kept", sse.Event{Type: " t", Data: []byte("  x"), LastEventID: " 1"}, true, sse.LF, "id:  1\nevent:  t\ndata:   x\n\n"},
		{"colons and NUL kept", sse.Event{Type: "a:\x00", Data: []byte("b: \x00")}, false, sse.LF, "event: a:\x00\ndata: b: \x00\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sse.AppendEvent([]byte("prefix|"), tc.ev, tc.withID, tc.nl)
			require.NoError(t, err)
			require.Equal(t, "prefix|"+tc.want, string(got))

			r := sse.NewReader(strings.NewReader(tc.want))
			ev, err := r.Next()
			require.NoError(t, err)
			assert.Equal(t, normalize(tc.ev, tc.withID), sse.Event{Type: ev.Type, Data: append([]byte{}, ev.Data...), LastEventID: ev.LastEventID})
		})
	}
}

// normalize returns the event a fresh Reader reads back for ev.
func normalize(ev sse.Event, withID bool) sse.Event {
	if ev.Type == "" {
		ev.Type = sse.DefaultType
	}
	if !withID {
		ev.LastEventID = ""
	}
	ev.Data = append([]byte{}, ev.Data...)
	return ev
}

func TestAppendEventRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ev     sse.Event
		withID bool
		want   string
	}{
		{"LF in type", sse.Event{Type: "a\nb"}, false, "sse: event type has a line break at byte 1: sse: field cannot be encoded"},
		{"CR in type", sse.Event{Type: "\r"}, false, "sse: event type has a line break at byte 0: sse: field cannot be encoded"},
		{"LF in id", sse.Event{LastEventID: "1\n"}, true, "sse: event ID has a line break at byte 1: sse: field cannot be encoded"},
		{"CR in id", sse.Event{LastEventID: "1\r2"}, true, "sse: event ID has a line break at byte 1: sse: field cannot be encoded"},
		{"NUL in id", sse.Event{LastEventID: "1\x00"}, true, "sse: event ID has a NUL at byte 1, which readers ignore: sse: field cannot be encoded"},
		{"CRLF in data", sse.Event{Data: []byte("a\r\nb")}, false, "sse: event data has a CR at byte 1, which would read back as LF: sse: field cannot be encoded"},
		{"CR in data", sse.Event{Data: []byte("a\rb")}, false, "sse: event data has a CR at byte 1, which would read back as LF: sse: field cannot be encoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("kept")
			got, err := sse.AppendEvent(dst, tc.ev, tc.withID, sse.LF)
			require.ErrorIs(t, err, sse.ErrInvalidField)
			require.EqualError(t, err, tc.want)
			require.Equal(t, "kept", string(got))
		})
	}
	_, err := sse.AppendEvent(nil, sse.Event{LastEventID: "1\n"}, false, sse.LF)
	require.NoError(t, err, "an ID that is not written is not checked")
	_, err = sse.AppendEvent(nil, sse.Event{}, false, sse.Newline(3))
	require.EqualError(t, err, "sse: invalid Newline value 3")
}

func TestEncoderCommentAndRetry(t *testing.T) {
	var buf bytes.Buffer
	e := sse.NewEncoder(&buf, sse.CRLF)
	require.NoError(t, e.Comment("keep-alive"))
	require.NoError(t, e.Comment(""))
	require.NoError(t, e.Retry(2500*time.Millisecond+999*time.Microsecond))
	require.NoError(t, e.Encode(sse.Event{Data: []byte("x")}, false))
	require.Equal(t, ": keep-alive\r\n\r\n:\r\n\r\nretry: 2500\r\n\r\ndata: x\r\n\r\n", buf.String())

	r := sse.NewReader(&buf)
	requireEvent(t, r, "message", "x", "")
	require.Equal(t, 2500*time.Millisecond, r.Retry())

	require.ErrorIs(t, e.Comment("a\nb"), sse.ErrInvalidField)
	require.ErrorIs(t, e.Retry(-time.Second), sse.ErrInvalidField)
	_, err := sse.AppendComment(nil, "x", sse.Newline(9))
	require.Error(t, err)
	_, err = sse.AppendRetry(nil, time.Second, sse.Newline(9))
	require.Error(t, err)
}

func TestEncoderWriteError(t *testing.T) {
	e := sse.NewEncoder(failWriter{}, sse.LF)
	err := e.Encode(sse.Event{Data: []byte("x")}, false)
	require.ErrorIs(t, err, io.ErrClosedPipe)
	require.EqualError(t, err, "sse: write event stream: io: read/write on closed pipe")
	require.ErrorIs(t, sse.WriteEvent(failWriter{}, sse.Event{}, false), io.ErrClosedPipe)
	require.ErrorIs(t, e.Comment("x"), io.ErrClosedPipe)
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteEvent(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sse.WriteEvent(&buf, sse.Event{Type: "x", Data: []byte("a\nb"), LastEventID: "9"}, true))
	require.Equal(t, "id: 9\nevent: x\ndata: a\ndata: b\n\n", buf.String())
	err := sse.WriteEvent(&buf, sse.Event{Type: "x\ny"}, false)
	require.True(t, errors.Is(err, sse.ErrInvalidField))
}

// One Write per block, and no allocation once the buffer has grown.
func TestEncoderAllocations(t *testing.T) {
	w := &countingWriter{}
	e := sse.NewEncoder(w, sse.LF)
	ev := sse.Event{Type: "delta", Data: []byte("line one\nline two"), LastEventID: "42"}
	require.NoError(t, e.Encode(ev, true))
	allocs := testing.AllocsPerRun(100, func() {
		if err := e.Encode(ev, true); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 102, w.writes)
}

type countingWriter struct{ writes int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return len(p), nil
}

func TestEncoderLargeEvent(t *testing.T) {
	var buf bytes.Buffer
	e := sse.NewEncoder(&buf, sse.LF)
	data := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<17)
	require.NoError(t, e.Encode(sse.Event{Data: data}, false))
	require.NoError(t, e.Encode(sse.Event{Data: []byte("small")}, false))
	r := sse.NewReader(&buf)
	ev, err := r.Next()
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, ev.Data))
	requireEvent(t, r, "message", "small", "")
}
