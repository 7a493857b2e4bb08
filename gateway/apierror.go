package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// handlerFunc is a route's handler: it writes its answer, or returns the error to answer instead.
type handlerFunc func(c *gin.Context) error

// handle adapts h to gin: an error h returns is answered by writeError and ends the handler chain.
func handle(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			writeError(c, err)
		}
	}
}

// errorAnswers says what the client is told of the errors handlers return, other than a
// *manager.StreamError, which says it itself (the handlers' own errors made with newError, the
// plugin host's refusals, the upstream's answers). The first rule whose target the error matches
// with errors.Is wins; an error matching none is a 500 INTERNAL with its text. Every rule pairs
// its code and status as Google's canonical table does (manager.CodeForStatus; a test checks).
var errorAnswers = []struct {
	target     error
	code       int
	status     string        // "" means the one Gemini pairs with code
	message    string        // "" means the error's own text
	retryAfter time.Duration // sent as Retry-After; 0 sends none
}{
	{target: manager.ErrNotFound, code: http.StatusNotFound},
	{target: manager.ErrInvalidID, code: http.StatusBadRequest},
	{target: manager.ErrInvalidAfterID, code: http.StatusBadRequest},
	{target: manager.ErrExists, code: http.StatusConflict},
	{target: manager.ErrClosed, code: http.StatusBadRequest, status: "FAILED_PRECONDITION"},
	// 410 Gone, not the canonical 400: the stream API's contract since wave 1 (a resume point
	// that left the history), and a browser or proxy tells it from a bad request without a body.
	{target: manager.ErrHistoryTrimmed, code: http.StatusGone, status: "FAILED_PRECONDITION"},
	{target: manager.ErrTooManyStreams, code: http.StatusTooManyRequests, retryAfter: time.Second},
	{target: manager.ErrTooManyClients, code: http.StatusTooManyRequests, retryAfter: time.Second},
	{target: manager.ErrBudgetExhausted, code: http.StatusTooManyRequests, retryAfter: manager.LimitRetryAfter},
	{target: manager.ErrShutdown, code: http.StatusServiceUnavailable, message: "the gateway is shutting down"},
	// The stream layer cannot serve now but may in a moment (cluster mode: Redis unreachable, or
	// this replica's lease lapsed); answerFor marks such errors with errUnavailable.
	{target: errUnavailable, code: http.StatusServiceUnavailable, retryAfter: time.Second,
		message: "the cluster store is unavailable; retry in a moment"},
	// None of auth's errors holds the key.
	{target: auth.ErrNoKey, code: http.StatusUnauthorized, message: "API key required: send it as x-goog-api-key, Authorization: Bearer or ?key="},
	{target: auth.ErrUnknownKey, code: http.StatusUnauthorized, message: "API key not valid. Please pass a valid API key."},
	{target: auth.ErrAmbiguousKey, code: http.StatusUnauthorized},
	{target: auth.ErrMalformedAuthorization, code: http.StatusUnauthorized},
	// The token route. A refused token matches ErrUnknownKey above (a Verify with tokens off
	// wraps ErrTokensOff too), so only Mint's own errors reach these.
	{target: auth.ErrTokensOff, code: http.StatusNotImplemented, status: "UNIMPLEMENTED"},
	{target: auth.ErrInvalidTTL, code: http.StatusBadRequest},
	// Generator.Generate: a request that cannot be made, or an upstream with no such call.
	{target: upstream.ErrInvalidRequest, code: http.StatusBadRequest},
	{target: upstream.ErrOpenAIOnly, code: http.StatusNotImplemented, message: "generateContent " + openAIOnly},
	{target: errors.ErrUnsupported, code: http.StatusNotImplemented,
		message: "generateContent is not supported by the configured upstream; use streamGenerateContent?alt=sse"},
}

// openAIOnly ends the answer of a Gemini route whose upstream serves the OpenAI-compatible API
// only (upstream.kind openai): advice to use streamGenerateContent would be wrong there.
const openAIOnly = "is not served by the configured upstream (upstream.kind openai), which serves the OpenAI-compatible routes only: " +
	"POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models, also under /v1beta/openai"

// errUnavailable stands in errorAnswers for every error of the stream layer that says it is
// temporarily unavailable (see unavailable).
var errUnavailable = errors.New("stream layer unavailable")

// unavailable is how an error of the stream layer says "not now, try again shortly" without the
// gateway importing its package: cluster.ErrUnavailable has this method (architecture.md keeps
// cluster out of the gateway's imports).
type unavailable interface{ Unavailable() bool }

// answerFor is what the client is told of err: the one place where an error becomes a status.
func answerFor(err error) *manager.StreamError {
	var se *manager.StreamError
	if errors.As(err, &se) {
		return se
	}
	if u := unavailable(nil); errors.As(err, &u) && u.Unavailable() {
		err = fmt.Errorf("%w: %w", errUnavailable, err)
	}
	for _, a := range errorAnswers {
		if errors.Is(err, a.target) {
			msg := cmp.Or(a.message, err.Error())
			var rw *reworded
			if errors.As(err, &rw) {
				msg = rw.msg
			}
			return &manager.StreamError{
				Code:       a.code,
				Status:     cmp.Or(a.status, manager.StatusForCode(a.code)),
				Message:    msg,
				RetryAfter: a.retryAfter,
			}
		}
	}
	return &manager.StreamError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
}

// newError returns the error a handler answers with code, the Google RPC status Gemini pairs with
// it, and msg.
func newError(code int, msg string) *manager.StreamError {
	return &manager.StreamError{Code: code, Status: manager.StatusForCode(code), Message: msg}
}

// newErrorStatus is newError with a Google RPC status of the handler's choosing.
func newErrorStatus(code int, status, msg string) *manager.StreamError {
	return &manager.StreamError{Code: code, Status: status, Message: msg}
}

// reworded is an error the client is told in the handler's words, whatever message its rule in
// errorAnswers has; its status is the wrapped error's.
type reworded struct {
	msg string
	err error
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }

// reword returns err, to be answered with msg as its message.
func reword(err error, msg string) error { return &reworded{msg: msg, err: err} }

// writeError answers err (see answerFor) and aborts the handler chain.
func writeError(c *gin.Context, err error) {
	writeStreamError(c.Writer, answerFor(err))
	c.Abort()
}

// writeStreamError answers se as the whole response: its HTTP status, Retry-After when it has
// one, and Gemini's error body.
func writeStreamError(w http.ResponseWriter, se *manager.StreamError) {
	h := w.Header()
	if se.RetryAfter > 0 {
		h.Set("Retry-After", retryAfterSeconds(se.RetryAfter))
	}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(httpStatus(se.Code))
	// A failed write means the client left; there is no one left to tell.
	_, _ = w.Write(se.JSON())
}

// retryAfterSeconds is d as a Retry-After value: whole seconds, rounded up.
func retryAfterSeconds(d time.Duration) string {
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return strconv.FormatInt(int64(s), 10)
}

// httpStatus turns an error code into an HTTP status: codes outside 400-599 (an upstream that
// sent something odd) become 500, INTERNAL's.
func httpStatus(code int) int {
	if code < 400 || code > 599 {
		return http.StatusInternalServerError
	}
	return code
}
