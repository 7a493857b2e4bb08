package plugins

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is the slog level hclog's Trace maps to.
const levelTrace = slog.LevelDebug - 4

// hclogSlog is an hclog.Logger that writes to a *slog.Logger. go-plugin logs through it, and so
// does every line a plugin writes to its stderr (its hclog JSON records keep their level and
// attributes).
type hclogSlog struct {
	log  *slog.Logger
	name string
	args []any
}

var _ hclog.Logger = (*hclogSlog)(nil)

func newHclogSlog(l *slog.Logger) *hclogSlog { return &hclogSlog{log: l} }

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hclogSlog) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	lvl := slogLevel(level)
	ctx := context.Background()
	if !h.log.Enabled(ctx, lvl) {
		return
	}
	if len(h.args) > 0 {
		args = append(append([]any{}, h.args...), args...)
	}
	for i := 0; i+1 < len(args); i += 2 {
		// go-plugin names the plugin by its path; the logger's own plugin attribute has its name.
		if args[i] == "plugin" {
			args[i] = "plugin_path"
		}
	}
	h.log.Log(ctx, lvl, msg, args...)
}

func (h *hclogSlog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogSlog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogSlog) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogSlog) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogSlog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogSlog) enabled(l slog.Level) bool { return h.log.Enabled(context.Background(), l) }

func (h *hclogSlog) IsTrace() bool { return h.enabled(levelTrace) }
func (h *hclogSlog) IsDebug() bool { return h.enabled(slog.LevelDebug) }
func (h *hclogSlog) IsInfo() bool  { return h.enabled(slog.LevelInfo) }
func (h *hclogSlog) IsWarn() bool  { return h.enabled(slog.LevelWarn) }
func (h *hclogSlog) IsError() bool { return h.enabled(slog.LevelError) }

func (h *hclogSlog) ImpliedArgs() []any { return h.args }

func (h *hclogSlog) With(args ...any) hclog.Logger {
	return &hclogSlog{log: h.log, name: h.name, args: append(append([]any{}, h.args...), args...)}
}

func (h *hclogSlog) Name() string { return h.name }

// Named keeps the logger's attributes; the plugin attribute already says whose record it is.
func (h *hclogSlog) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return &hclogSlog{log: h.log, name: name, args: h.args}
}

func (h *hclogSlog) ResetNamed(name string) hclog.Logger {
	return &hclogSlog{log: h.log, name: name, args: h.args}
}

// SetLevel does nothing: the slog handler decides what is logged.
func (h *hclogSlog) SetLevel(hclog.Level) {}

// GetLevel reports the lowest level the slog handler accepts.
func (h *hclogSlog) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(slogLevel(l)) {
			return l
		}
	}
	return hclog.Off
}

func (h *hclogSlog) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.log.Handler(), slog.LevelInfo)
}

func (h *hclogSlog) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(nil).Writer()
}

// lineLogger is an io.Writer that logs each complete line written to it; go-plugin copies a
// plugin's os.Stdout and os.Stderr into one each.
type lineLogger struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.Info(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 {
		w.log.Info(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// tailBuffer keeps the last bytes written to it: a failed launch reports the end of the
// plugin's stderr.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
