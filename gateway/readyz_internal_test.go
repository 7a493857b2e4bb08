package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyStore is a stream layer whose Ready answers err; nothing else of it is called.
type flakyStore struct {
	Streams
	err error
}

func (f *flakyStore) Ready(context.Context) error { return f.err }

// /readyz on the public listener answers a fixed message whatever the stream layer's error says
// (a Redis address is the operator's business), and the log has that error once per change.
func TestReadyzHidesTheStoreError(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	store := &flakyStore{}
	var logs bytes.Buffer
	s := &Server{cfg: Config{Streams: store}, log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	s.ready.Store(true)
	dial := errors.New("cluster: ping: dial tcp 10.0.0.7:6379: connect: connection refused")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"ready", nil, 200, `{"status":"ready"}` + "\n"},
		{"store down", dial, 503, `{"error":{"code":503,"message":"the stream store is not ready","status":"UNAVAILABLE"}}`},
		{"store still down", dial, 503, `{"error":{"code":503,"message":"the stream store is not ready","status":"UNAVAILABLE"}}`},
		{"store back", nil, 200, `{"status":"ready"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.err = tc.err
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest(http.MethodGet, "/readyz", nil)
			handle(s.readyz)(c)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.body, rec.Body.String())
			assert.NotContains(t, rec.Body.String(), "10.0.0.7")
		})
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Equal(t, []string{
		`level=WARN msg="the stream store is not ready" error="cluster: ping: dial tcp 10.0.0.7:6379: connect: connection refused"`,
		`level=INFO msg="the stream store is ready again"`,
	}, lines)
}

var _ readier = (*flakyStore)(nil)
