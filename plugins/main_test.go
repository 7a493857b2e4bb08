package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/pluginstest"
)

// binDir holds the plugin binaries TestMain builds: jsonl, webhook, retry and testplugin.
var binDir string

func bin(name string) string {
	if name == "testplugin" {
		return filepath.Join(binDir, "testplugin")
	}
	return filepath.Join(binDir, "streamgate-plugin-"+name)
}

func TestMain(m *testing.M) {
	if os.Getenv(envTestHost) != "" {
		os.Exit(runTestHost())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "streamgate-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	if err := pluginstest.Build(dir, pluginstest.JSONL, pluginstest.Webhook, pluginstest.Retry,
		"github.com/streamgate/streamgate/plugins/internal/testplugin"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goroutine leak:", err)
		return 1
	}
	if pids := pluginstest.Processes(dir); len(pids) > 0 {
		fmt.Fprintln(os.Stderr, "plugin processes outlived the tests:", pids)
		return 1
	}
	return 0
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]slog.Record
	attrs []slog.Attr
}

func newRecorder() *recorder { return &recorder{mu: new(sync.Mutex), recs: new([]slog.Record)} }

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	r.mu.Lock()
	*r.recs = append(*r.recs, rec)
	r.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{mu: r.mu, recs: r.recs, attrs: append(append([]slog.Attr{}, r.attrs...), as...)}
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

// find returns the attributes of the first record whose message is msg.
func (r *recorder) find(msg string) (slog.Level, map[string]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range *r.recs {
		if rec.Message != msg {
			continue
		}
		attrs := make(map[string]string)
		rec.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		return rec.Level, attrs, true
	}
	return 0, nil, false
}

// messages returns every record's message.
func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(*r.recs))
	for _, rec := range *r.recs {
		out = append(out, rec.Message)
	}
	return out
}

// newManager returns a real manager that is shut down when the test ends.
func newManager(t *testing.T) *manager.Manager {
	t.Helper()
	m, err := manager.New(manager.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return m
}
