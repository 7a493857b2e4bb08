package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/plugins/pluginstest"
)

// pluginDir holds the plugin binaries TestMain builds for the plugin tests.
var pluginDir string

func pluginBin(name string) string { return filepath.Join(pluginDir, "streamgate-plugin-"+name) }

// TestMain builds the example plugins, runs the tests, and checks that no test leaked a goroutine
// or a plugin process. The Gemini SDK's opencensus dependency starts a worker goroutine in its
// package init; it belongs to no test.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "streamgate-gateway-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginDir = dir
	if err := pluginstest.Build(dir, pluginstest.JSONL, pluginstest.Retry); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if code := m.Run(); code != 0 {
		return code
	}
	if err := goleak.Find(goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
		fmt.Fprintln(os.Stderr, "goroutine leak:", err)
		return 1
	}
	if pids := pluginstest.Processes(dir); len(pids) > 0 {
		fmt.Fprintln(os.Stderr, "plugin processes outlived the tests:", pids)
		return 1
	}
	return 0
}
