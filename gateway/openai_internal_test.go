package gateway

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/manager"
)

// TestOpenAIErrorFor pins the OpenAI error type of every status an error can answer with.
func TestOpenAIErrorFor(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{newError(http.StatusBadRequest, "bad"), 400, "invalid_request_error"},
		{manager.ErrExists, 409, "invalid_request_error"},
		{manager.ErrHistoryTrimmed, 410, "invalid_request_error"},
		{newError(http.StatusUnauthorized, "who"), 401, "authentication_error"},
		{newError(http.StatusForbidden, "no"), 403, "permission_error"},
		{manager.ErrNotFound, 404, "not_found_error"},
		{manager.ErrTooManyStreams, 429, "rate_limit_error"},
		{manager.ErrBudgetExhausted, 429, "rate_limit_error"},
		{fmt.Errorf("boom"), 500, "server_error"},
		{newError(http.StatusNotImplemented, "later"), 501, "server_error"},
		{&manager.StreamError{Code: 200, Message: "odd"}, 500, "server_error"},
		{manager.ErrShutdown, 503, "server_error"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			status, oe, _ := openAIErrorFor(tc.err)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.want, oe.Type)
			assert.Equal(t, tc.status == 401, oe.Code != nil)
		})
	}
}
