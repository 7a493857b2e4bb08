package gateway

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRequestLoggerWritesAsWith checks that a request's lazily made logger writes exactly what
// the server's logger With request_id writes, for lines of its own, extended ones and the
// access line's form (request_id as the first attribute of the server's logger).
func TestRequestLoggerWritesAsWith(t *testing.T) {
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime})
		},
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime})
		},
	}
	for name, newHandler := range handlers {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			with := slog.New(newHandler(&want)).With("request_id", "r-1")
			with.Debug("one", "a", 1)
			with.WithGroup("g").With("b", 2).Info("two", "c", 3)
			with.Info("request", "method", "POST")

			h := newHandler(&got)
			r := newRequest(h, "r-1", nil)
			r.log.Debug("one", "a", 1)
			r.log.WithGroup("g").With("b", 2).Info("two", "c", 3)
			slog.New(h).Info("request", "request_id", "r-1", "method", "POST")
			assert.Equal(t, want.String(), got.String())
		})
	}
}

func TestRequestLoggerDisabledLevel(t *testing.T) {
	var out bytes.Buffer
	r := newRequest(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}), "r-1", nil)
	r.log.Debug("not written")
	assert.Empty(t, out.String())
	assert.Nil(t, r.handler.with, "a line not written makes no handler")
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
