package gateway

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
)

// The OpenAI sink's answers, byte for byte: frames and [DONE] on completion, an error first as
// the whole answer, an error later as one error frame, and never [DONE] after an error.
func TestOpenAISinkAnswers(t *testing.T) {
	ctx := context.Background()
	chunk := func(id uint64, data string) manager.Chunk { return manager.Chunk{ID: id, Data: []byte(data)} }
	quota := &manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "quota", RetryAfter: 1500 * time.Millisecond}
	for _, tc := range []struct {
		name    string
		run     func(o *openAISink)
		status  int
		headers map[string]string
		body    string
	}{
		{"completed", func(o *openAISink) {
			require.NoError(t, o.Deliver(ctx, []manager.Chunk{chunk(1, `{"a":1}`), chunk(2, `{"b":2}`)}))
			require.NoError(t, o.Closed(ctx, manager.ClosedError{Reason: manager.ReasonCompleted, Status: manager.StatusCompleted}))
		}, 200, map[string]string{"Content-Type": "text/event-stream", "X-Stream-Id": "s1"},
			"data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n"},
		{"completed without chunks", func(o *openAISink) {
			require.NoError(t, o.Closed(ctx, manager.ClosedError{Reason: manager.ReasonCompleted, Status: manager.StatusCompleted}))
		}, 200, nil, "data: [DONE]\n\n"},
		{"error first", func(o *openAISink) {
			require.ErrorIs(t, o.Deliver(ctx, []manager.Chunk{{ID: 1, Err: quota}}), errResponseEnded)
			require.NoError(t, o.Closed(ctx, manager.ClosedError{Reason: "error", Status: manager.StatusError, Err: quota}))
		}, 429, map[string]string{"Content-Type": "application/json; charset=UTF-8", "Retry-After": "2", "X-Stream-Id": "s1"},
			`{"error":{"message":"quota","type":"rate_limit_error","param":null,"code":null}}`},
		{"error after a chunk, in one batch", func(o *openAISink) {
			err := o.Deliver(ctx, []manager.Chunk{chunk(1, `{"a":1}`), {ID: 2, Err: &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "dropped"}}})
			require.ErrorIs(t, err, errResponseEnded)
			require.ErrorIs(t, o.Deliver(ctx, []manager.Chunk{chunk(3, `{"c":3}`)}), errResponseEnded)
			require.NoError(t, o.Closed(ctx, manager.ClosedError{Reason: manager.ReasonCompleted, Status: manager.StatusCompleted}))
		}, 200, nil, "data: {\"a\":1}\n\n" + `data: {"error":{"message":"dropped","type":"server_error","param":null,"code":null}}` + "\n\n"},
		{"deleted mid-stream", func(o *openAISink) {
			require.NoError(t, o.Deliver(ctx, []manager.Chunk{chunk(1, `{"a":1}`)}))
			require.NoError(t, o.Closed(ctx, manager.ClosedError{Reason: ReasonDeleted, Status: manager.StatusCompleted}))
		}, 200, nil, "data: {\"a\":1}\n\n" + `data: {"error":{"message":"stream stopped: deleted by client","type":"invalid_request_error","param":null,"code":null}}` + "\n\n"},
		{"slow client", func(o *openAISink) {
			require.NoError(t, o.Deliver(ctx, []manager.Chunk{chunk(1, `{"a":1}`), chunk(2, `{"b":2}`)}))
			o.slowClient()
		}, 200, nil, "data: {\"a\":1}\n\ndata: {\"b\":2}\n\n" +
			`data: {"error":{"message":"client too slow: it fell more than the queue size behind the stream; resume from /v1/streams/s1/events?after=2","type":"rate_limit_error","param":null,"code":null}}` + "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			o := &openAISink{sseWriter: newSSEWriter(rec, "s1", time.Minute)}
			tc.run(o)
			o.finish()
			assert.Equal(t, tc.status, rec.Code)
			for k, v := range tc.headers {
				assert.Equal(t, v, rec.Header().Get(k), k)
			}
			assert.Equal(t, tc.body, rec.Body.String())
		})
	}
}
