package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// loadtest and streamgate are the two commands, built once by TestMain: the load test starts its
// servers as child processes of itself, so it is tested as the binary it is.
var loadtest, streamgate string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "loadtest-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	loadtest, streamgate = filepath.Join(dir, "loadtest"), filepath.Join(dir, "streamgate")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/streamgate/streamgate/cmd/loadtest", "github.com/streamgate/streamgate/cmd/streamgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	if code := m.Run(); code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		return 1
	}
	return 0
}

// run runs the load test with args and returns what it printed on stdout.
func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(loadtest, args...)
	out, err := cmd.Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, stderr)
	return string(out)
}

// TestFanout runs a small fan-out against the gateway and the raw-TCP floor: every subscriber
// gets every event of both, in order, and the side-by-side table is printed.
func TestFanout(t *testing.T) {
	t.Parallel()
	out := run(t, "-subscribers", "20", "-rate", "20", "-duration", "1s", "-dialers", "20")
	for _, server := range []string{"gateway", "floor"} {
		assert.Contains(t, out, server+": subscribers 20 (failed 0), events pushed 20 (push errors 0), deliveries 400, missed 0, chunk ID gaps or repeats 0\n")
	}
	assert.Regexp(t, `(?m)^missed +0 +0$`, out)
	assert.Regexp(t, `(?m)^gaps or repeats +0 +0$`, out)
	assert.Regexp(t, `(?m)^delivery p99 +\S+ +\S+ +\d+\.\d\dx$`, out)
}

// TestGeminiLadder runs a two-rung ladder of the Gemini route through streamgate and the
// ReverseProxy baseline, with the shipped retain_closed and a short one: every stream of both is
// read whole (each of its 4 events), and the summary compares CPU and RSS at the rung -cpu-at
// names.
func TestGeminiLadder(t *testing.T) {
	t.Parallel()
	for _, retain := range []string{"0", "1s"} {
		t.Run("retain-closed="+retain, func(t *testing.T) {
			t.Parallel()
			out := run(t, "-mode", "gemini", "-streamgate", streamgate, "-ladder", "2,4", "-events", "4",
				"-interval", "10ms", "-level-time", "300ms", "-cpu-at", "4", "-retain-closed", retain)
			checkLadder(t, out)
		})
	}
}

// checkLadder checks the output of TestGeminiLadder's ladder.
func checkLadder(t *testing.T, out string) {
	t.Helper()
	rung := regexp.MustCompile(`(?m)^  (proxy|streamgate) +(\d+) streams: (\d+) streams done \((\d+) failed\), (\d+) chunks, `)
	rungs := rung.FindAllStringSubmatch(out, -1)
	require.Len(t, rungs, 4, out)
	for i, want := range []struct{ target, streams string }{{"proxy", "2"}, {"streamgate", "2"}, {"proxy", "4"}, {"streamgate", "4"}} {
		got := rungs[i]
		assert.Equal(t, []string{want.target, want.streams}, got[1:3], out)
		done, _ := strconv.Atoi(got[3])
		chunks, _ := strconv.Atoi(got[5])
		assert.Positive(t, done, out)
		assert.Equal(t, "0", got[4], "failed streams: %s", out)
		assert.Equal(t, 4*done, chunks, "every stream's 4 events: %s", out)
	}
	// The ratio is "-" when a rung this short used less CPU than the clock's 10 ms tick.
	assert.Regexp(t, `(?m)^CPU per stream at 4 streams +\S+ +\S+ +(\d+\.\d\dx|-)$`, out)
	assert.Regexp(t, `(?m)^RSS at 4 streams +\d+ MiB +\d+ MiB +\d+\.\d\dx$`, out)
}

// TestBadFlags: a flag the load test cannot use stops it with exit status 1 and says why.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"mode", []string{"-mode", "nope"}, "loadtest: unknown -mode \"nope\"\n"},
		{"ladder", []string{"-mode", "gemini", "-ladder", "4,x"}, "loadtest: -ladder: \"x\" is not a number of streams\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(loadtest, tt.args...).CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, 1, ee.ExitCode())
			assert.Equal(t, tt.want, string(out))
		})
	}
}
