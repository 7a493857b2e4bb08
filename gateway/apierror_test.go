package gateway

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

func TestAnswerFor(t *testing.T) {
	own := newError(400, "alt=sse is required")
	refused := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "plugin unavailable", RetryAfter: time.Second}
	wrap := func(target error) error { return fmt.Errorf("op on stream s: %w", target) }
	for _, tt := range []struct {
		name string
		err  error
		want manager.StreamError
	}{
		{"the handler's own", own, *own},
		{"a stream error in the chain", fmt.Errorf("subscribe: %w", refused), *refused},
		{"not found", wrap(manager.ErrNotFound), manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "op on stream s: stream not found"}},
		{"reworded", reword(wrap(manager.ErrNotFound), `stream "s" not found`), manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: `stream "s" not found`}},
		{"invalid ID", wrap(manager.ErrInvalidID), manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: "op on stream s: invalid stream id"}},
		{"resume point beyond the end", wrap(manager.ErrInvalidAfterID), manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT",
			Message: "op on stream s: resume point is beyond the last chunk of the stream"}},
		{"taken ID", wrap(manager.ErrExists), manager.StreamError{Code: 409, Status: "ALREADY_EXISTS", Message: "op on stream s: stream already exists"}},
		{"closed", wrap(manager.ErrClosed), manager.StreamError{Code: 400, Status: "FAILED_PRECONDITION", Message: "op on stream s: stream closed"}},
		{"history trimmed", wrap(manager.ErrHistoryTrimmed), manager.StreamError{Code: 410, Status: "FAILED_PRECONDITION",
			Message: "op on stream s: requested chunks are no longer in the stream history"}},
		{"too many streams", wrap(manager.ErrTooManyStreams), manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED",
			Message: "op on stream s: too many concurrent streams", RetryAfter: time.Second}},
		{"too many clients", wrap(manager.ErrTooManyClients), manager.StreamError{Code: 429, Status: "RESOURCE_EXHAUSTED",
			Message: "op on stream s: too many clients on stream", RetryAfter: time.Second}},
		{"shut down", manager.ErrShutdown, manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "the gateway is shutting down"}},
		{"no key", auth.ErrNoKey, manager.StreamError{Code: 401, Status: "UNAUTHENTICATED",
			Message: "API key required: send it as x-goog-api-key, Authorization: Bearer or ?key="}},
		{"unknown key", auth.ErrUnknownKey, manager.StreamError{Code: 401, Status: "UNAUTHENTICATED", Message: "API key not valid. Please pass a valid API key."}},
		{"two keys", auth.ErrAmbiguousKey, manager.StreamError{Code: 401, Status: "UNAUTHENTICATED", Message: "different API keys presented in one request"}},
		{"not Bearer", auth.ErrMalformedAuthorization, manager.StreamError{Code: 401, Status: "UNAUTHENTICATED", Message: "authorization header is not a Bearer token"}},
		{"invalid upstream request", fmt.Errorf("generate: %w: bad URL", upstream.ErrInvalidRequest), manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT",
			Message: "generate: invalid upstream request: bad URL"}},
		{"no generateContent", fmt.Errorf("generate: %w", errors.ErrUnsupported), manager.StreamError{Code: 501, Status: "UNIMPLEMENTED",
			Message: "generateContent is not supported by the configured upstream; use streamGenerateContent?alt=sse"}},
		{"Gemini call of an OpenAI server", fmt.Errorf("generateContent with the openai provider: %w", upstream.ErrOpenAIOnly), manager.StreamError{Code: 501, Status: "UNIMPLEMENTED",
			Message: "generateContent is not served by the configured upstream (upstream.kind openai), which serves the OpenAI-compatible routes only: " +
				"POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models, also under /v1beta/openai"}},
		{"stream layer unavailable", fmt.Errorf("create stream: %w: dial tcp 127.0.0.1:6379: connection refused", storeDown{}),
			manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "the cluster store is unavailable; retry in a moment", RetryAfter: time.Second}},
		{"not unavailable after all", storeDown{no: true}, manager.StreamError{Code: 500, Status: "INTERNAL", Message: "store down"}},
		{"anything else", errors.New("encode response: boom"), manager.StreamError{Code: 500, Status: "INTERNAL", Message: "encode response: boom"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, *answerFor(tt.err))
		})
	}
}

// storeDown is an error marked as cluster.ErrUnavailable marks its own, unless no is set.
type storeDown struct{ no bool }

func (storeDown) Error() string       { return "store down" }
func (e storeDown) Unavailable() bool { return !e.no }

// Every rule answers with an error status, so that no error is ever written as a success.
func TestErrorAnswersAreErrors(t *testing.T) {
	for _, a := range errorAnswers {
		assert.GreaterOrEqual(t, a.code, 400, "%v", a.target)
		assert.LessOrEqual(t, a.code, 599, "%v", a.target)
	}
}

// Every rule pairs its code and status as Google's canonical table does, so that an SDK
// branching on the pair (UNAVAILABLE 503, FAILED_PRECONDITION 400, UNIMPLEMENTED 501) reads it
// right.
func TestErrorAnswersArePairedCanonically(t *testing.T) {
	for _, a := range errorAnswers {
		if a.target == manager.ErrHistoryTrimmed {
			continue // 410 Gone, the stream API's resume contract (see errorAnswers)
		}
		se := answerFor(a.target)
		code, ok := manager.CodeForStatus(se.Status)
		assert.True(t, ok, "%v: %s is no google.rpc.Code", a.target, se.Status)
		assert.Equal(t, code, se.Code, "%v: %s", a.target, se)
	}
	for _, se := range []*manager.StreamError{
		closeError(manager.ClosedError{Reason: manager.ReasonShuttingDown}),
		closeError(manager.ClosedError{Reason: "deleted by client"}),
		unencodable(1, errors.New("CR in data")),
	} {
		code, _ := manager.CodeForStatus(se.Status)
		assert.Equal(t, code, se.Code, "%s", se)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	writeError(c, fmt.Errorf("create stream: %w (limit 2)", manager.ErrTooManyStreams))
	assert.True(t, c.IsAborted())
	assert.Equal(t, 429, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, "application/json; charset=UTF-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, `{"error":{"code":429,"message":"create stream: too many concurrent streams (limit 2)","status":"RESOURCE_EXHAUSTED"}}`, rec.Body.String())
}
