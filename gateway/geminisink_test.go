package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/manager"
)

// closeError is what a Gemini-route caller is told of a stream that closed without completing.
func TestCloseError(t *testing.T) {
	stalled := &manager.StreamError{Code: 504, Status: "DEADLINE_EXCEEDED", Message: "no chunk for 40ms"}
	for _, tt := range []struct {
		name string
		end  manager.ClosedError
		want manager.StreamError
	}{
		{"shutting down", manager.ClosedError{Reason: "shutting down", Status: manager.StatusError,
			Err: &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "shutting down"}},
			manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "shutting down"}},
		{"closed while the server stops", manager.ClosedError{Reason: "shutting down", Status: manager.StatusCompleted},
			manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "shutting down"}},
		{"ended by an error", manager.ClosedError{Reason: "Stream terminated due to error: no chunk for 40ms", Status: manager.StatusError, Err: stalled},
			*stalled},
		{"deleted", manager.ClosedError{Reason: "deleted by client", Status: manager.StatusCompleted},
			manager.StreamError{Code: 499, Status: "CANCELLED", Message: "stream stopped: deleted by client"}},
		{"orphaned", manager.ClosedError{Reason: "client disconnected", Status: manager.StatusCompleted},
			manager.StreamError{Code: 499, Status: "CANCELLED", Message: "stream stopped: client disconnected"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, *closeError(tt.end))
		})
	}
}
