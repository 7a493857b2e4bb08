package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/sse"
)

// FuzzChunkFrame checks that every chunk the events route writes reads back, through the
// spec-exact SSE parser, as exactly one event with the chunk's ID, event name and data, or, for a
// chunk the format cannot carry, as an error event with the same ID. No input adds a field.
func FuzzChunkFrame(f *testing.F) {
	f.Add(uint64(1), "", []byte(`{"text":"hi"}`))
	f.Add(uint64(42), "delta", []byte("line one\nline two"))
	f.Add(uint64(7), "", []byte("carriage\rreturn"))
	f.Add(uint64(9), "message", []byte(""))
	f.Add(uint64(3), "evil\nid: 99", []byte("x"))
	f.Fuzz(func(t *testing.T, id uint64, name string, data []byte) {
		if validateEventName(name) != nil {
			name = ""
		}
		frame := appendChunkFrame(nil, manager.Chunk{ID: id, Event: name, Data: data})
		r := sse.NewReader(bytes.NewReader(frame))
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("frame %q does not parse: %v", frame, err)
		}
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("frame %q holds more than one event", frame)
		}
		if ev.LastEventID != strconv.FormatUint(id, 10) {
			t.Fatalf("id %q, want %d", ev.LastEventID, id)
		}
		if bytes.IndexByte(data, '\r') >= 0 {
			if ev.Type != "error" {
				t.Fatalf("data with CR became %q, want an error event", ev.Type)
			}
			return
		}
		want := name
		if want == "" {
			want = sse.DefaultType
		}
		if ev.Type != want || !bytes.Equal(ev.Data, data) {
			t.Fatalf("got %q %q, want %q %q", ev.Type, ev.Data, want, data)
		}
	})
}

// FuzzStreamRequests feeds arbitrary bodies to the stream API's request decoding and validation:
// each is accepted or refused with a 400, never a panic or another status.
func FuzzStreamRequests(f *testing.F) {
	f.Add([]byte(`{"model":"gemini-2.5-flash","request":{"contents":[]},"id":"a"}`))
	f.Add([]byte(`{"data":{"a":[1,2]},"event":"delta"}`))
	f.Add([]byte(`{"code":503,"status":"UNAVAILABLE","message":"x","terminate":true}`))
	f.Add([]byte(`{"model":5}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err != nil && answerFor(err).Code != http.StatusBadRequest {
				t.Fatalf("status %d for %q", answerFor(err).Code, body)
			}
		}
		var cr createRequest
		if err := decodeJSON(body, &cr); err == nil {
			_, err = cr.kind()
			check(err)
		} else {
			check(err)
		}
		var pr pushRequest
		if e := decodeJSON(body, &pr); e == nil {
			if err := validateEventName(pr.Event); err == nil && pr.Data != nil {
				var buf bytes.Buffer
				if err := json.Compact(&buf, pr.Data); err != nil {
					t.Fatalf("decoded data %q does not compact: %v", pr.Data, err)
				}
			}
		} else {
			check(e)
		}
		var er errorRequest
		if e := decodeJSON(body, &er); e == nil {
			_, e = er.streamError()
			check(e)
		} else {
			check(e)
		}
	})
}
