package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/streamgate/streamgate/manager"
)

// apiError is an error answered to a client: an HTTP status with Gemini's error body,
// {"error":{"code","message","status"}}, and a Retry-After when se.RetryAfter is set.
type apiError struct {
	se manager.StreamError
}

func (e *apiError) Error() string { return e.se.Error() }

// newError returns an apiError with the Google RPC status Gemini pairs with code.
func newError(code int, msg string) *apiError {
	return &apiError{se: manager.StreamError{Code: code, Status: manager.StatusForCode(code), Message: msg}}
}

// newErrorStatus returns an apiError with an explicit Google RPC status.
func newErrorStatus(code int, status, msg string) *apiError {
	return &apiError{se: manager.StreamError{Code: code, Status: status, Message: msg}}
}

// writeError answers e and aborts the handler chain.
func writeError(c *gin.Context, e *apiError) {
	writeStreamError(c.Writer, &e.se)
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
// sent something odd) become 502.
func httpStatus(code int) int {
	if code < 400 || code > 599 {
		return http.StatusBadGateway
	}
	return code
}

// managerError maps an error of the manager (or an *apiError) to what the client is told.
func managerError(err error) *apiError {
	var e *apiError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, manager.ErrNotFound):
		return newError(http.StatusNotFound, err.Error())
	case errors.Is(err, manager.ErrInvalidID), errors.Is(err, manager.ErrInvalidAfterID):
		return newError(http.StatusBadRequest, err.Error())
	case errors.Is(err, manager.ErrExists):
		return newError(http.StatusConflict, err.Error())
	case errors.Is(err, manager.ErrClosed):
		return newErrorStatus(http.StatusConflict, "FAILED_PRECONDITION", err.Error())
	case errors.Is(err, manager.ErrHistoryTrimmed):
		return newError(http.StatusGone, err.Error())
	case errors.Is(err, manager.ErrTooManyStreams), errors.Is(err, manager.ErrTooManyClients):
		e := newError(http.StatusTooManyRequests, err.Error())
		e.se.RetryAfter = time.Second
		return e
	case errors.Is(err, manager.ErrShutdown):
		return newError(http.StatusServiceUnavailable, "the gateway is shutting down")
	}
	return newError(http.StatusInternalServerError, err.Error())
}
