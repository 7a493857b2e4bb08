package gateway

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/manager"
)

// TestArraySinkEnds pins how a JSON array stream ends in each case: it is always closed, and
// only a completed stream ends without an error element.
func TestArraySinkEnds(t *testing.T) {
	ctx := context.Background()
	a, b := manager.Chunk{ID: 1, Data: []byte(`{"a":1}`)}, manager.Chunk{ID: 2, Data: []byte(`{"b":2}`)}
	for _, tt := range []struct {
		name string
		run  func(s *arraySink)
		want string
	}{
		{"completed without a chunk", func(s *arraySink) { _ = s.Closed(ctx, manager.ClosedError{Reason: manager.ReasonCompleted}) },
			"[\r\n]"},
		{"completed", func(s *arraySink) {
			_ = s.Deliver(ctx, []manager.Chunk{a})
			_ = s.Deliver(ctx, []manager.Chunk{b})
			_ = s.Closed(ctx, manager.ClosedError{Reason: manager.ReasonCompleted})
		}, "[" + `{"a":1}` + "\r\n,\r\n" + `{"b":2}` + "\r\n]"},
		{"deleted", func(s *arraySink) {
			_ = s.Deliver(ctx, []manager.Chunk{a, b})
			_ = s.Closed(ctx, manager.ClosedError{Reason: "deleted by client"})
		}, "[" + `{"a":1}` + "\r\n,\r\n" + `{"b":2}` + "\r\n,\r\n" +
			`{"error":{"code":499,"message":"stream stopped: deleted by client","status":"CANCELLED"}}` + "\r\n]"},
		{"error chunk, then the close", func(s *arraySink) {
			err := &manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "upstream sent nothing for 1s"}
			assert.ErrorIs(t, s.Deliver(ctx, []manager.Chunk{a, {ID: 2, Err: err}}), errResponseEnded)
			assert.NoError(t, s.Closed(ctx, manager.ClosedError{Reason: "Stream terminated due to error", Err: err}))
		}, "[" + `{"a":1}` + "\r\n,\r\n" + `{"error":{"code":504,"message":"upstream sent nothing for 1s","status":"DEADLINE_EXCEEDED"}}` + "\r\n]"},
		{"slow client", func(s *arraySink) {
			_ = s.Deliver(ctx, []manager.Chunk{a})
			s.slowClient()
		}, "[" + `{"a":1}` + "\r\n,\r\n" + `{"error":{"code":429,"message":"client too slow: it fell more than the queue size behind the stream; resume from /v1/streams/s/events?after=1","status":"RESOURCE_EXHAUSTED"}}` + "\r\n]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s := newArraySink(rec, "s", time.Minute)
			tt.run(s)
			assert.Equal(t, 200, rec.Code)
			assert.Equal(t, "application/json; charset=UTF-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, "s", rec.Header().Get("X-Stream-Id"))
			assert.Equal(t, tt.want, rec.Body.String())
		})
	}
}
