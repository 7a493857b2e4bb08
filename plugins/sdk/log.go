package sdk

import (
	"io"
	"log/slog"
	"os"
)

// hclogTimeFormat is the timestamp layout the host's log reader (go-plugin) parses.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// stderrLogger writes to the process's original standard error, captured before Serve redirects
// os.Stderr into the gRPC stdio stream.
var stderrLogger = newLogger(os.Stderr)

// Logger returns the plugin's logger. Its records reach the host's log with their level and
// attributes, tagged with the plugin's name.
func Logger() *slog.Logger { return stderrLogger }

// newLogger returns a logger writing JSON lines in the shape go-plugin's host parses: "@message",
// "@level" and "@timestamp", then the attributes.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug - 4, // hclog's trace: the host's logger decides what it keeps
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "@message"
			case slog.LevelKey:
				a = slog.String("@level", hclogLevel(a.Value.Any()))
			case slog.TimeKey:
				a = slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
			}
			return a
		},
	}))
}

func hclogLevel(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "info"
	}
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
