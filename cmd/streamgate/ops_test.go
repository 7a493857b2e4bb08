package main_test

import (
	"bytes"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runOutput runs streamgate expecting it to exit by itself, and returns its code, stdout and
// stderr.
func runOutput(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("streamgate did not exit; stderr:\n%s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

var versionRe = regexp.MustCompile(`^streamgate (\S+) \(revision (\S+), (go1\.\S+)\)\n$`)

func TestVersion(t *testing.T) {
	code, stdout, stderr := runOutput(t, "-version")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	assert.Regexp(t, versionRe, stdout)
}

func TestHelpExits0AndDescribesTheCommand(t *testing.T) {
	for _, flag := range []string{"-h", "-help", "--help"} {
		t.Run(flag, func(t *testing.T) {
			code, stdout, stderr := runOutput(t, flag)
			assert.Equal(t, 0, code)
			assert.Empty(t, stderr)
			for _, want := range []string{
				"Usage: streamgate [-config PATH] [-listen ADDR] [-admin ADDR]",
				"  -config PATH", "  -listen ADDR", "  -admin ADDR", "  -version", "  -h, -help",
				"configs/streamgate.yaml from the working directory", "built-in defaults",
				"GEMINI_API_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
				"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED",
				"Exit codes: 0",
			} {
				assert.Contains(t, stdout, want)
			}
			for i, line := range strings.Split(stdout, "\n") {
				assert.LessOrEqual(t, len(line), 100, "line %d of the help is wider than 100 columns: %q", i+1, line)
			}
		})
	}
	t.Run("a bad flag prints the help to stderr and exits 2", func(t *testing.T) {
		code, stdout, stderr := runOutput(t, "-bogus")
		assert.Equal(t, 2, code)
		assert.Empty(t, stdout)
		assert.True(t, strings.HasPrefix(stderr, "flag provided but not defined: -bogus\nUsage: streamgate"), stderr)
	})
}

// The admin listener serves the metrics of the running binary, its health and readiness, and
// no pprof unless asked.
func TestAdminListener(t *testing.T) {
	_, version, _ := runOutput(t, "-version")
	m := versionRe.FindStringSubmatch(version)
	require.NotNil(t, m, version)

	p := start(t, t.TempDir(), nil, "-listen", "127.0.0.1:0")
	require.NotEmpty(t, p.admin)
	status, body := get(t, p.admin+"/metrics")
	require.Equal(t, 200, status)
	for _, line := range []string{
		`streamgate_build_info{goversion="` + m[3] + `",revision="` + m[2] + `",version="` + m[1] + `"} 1`,
		"streamgate_slow_clients_total 0",
		"streamgate_chunk_bytes_total 0",
		"streamgate_retained_bytes 0",
		"streamgate_retained_streams 0",
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
	} {
		assert.Contains(t, string(body), "\n"+line+"\n")
	}
	status, body = get(t, p.admin+"/healthz")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"status":"ok"}`+"\n", string(body))
	status, body = get(t, p.admin+"/readyz")
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"status":"ready"}`+"\n", string(body))
	status, _ = get(t, p.admin+"/debug/pprof/")
	assert.Equal(t, 404, status)
	status, _ = get(t, p.url+"/metrics")
	assert.Equal(t, 404, status, "metrics are on the admin listener only")
	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	assert.Contains(t, p.stderr.String(), `"admin":"`+strings.TrimPrefix(p.admin, "http://")+`"`)
}

func TestAdminPprofAndDisabled(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "gw.yaml", "listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0, pprof: true}\n")
	p := launch(t, dir, nil, "-config", cfg)
	assert.Equal(t, cfg, p.source)
	status, body := get(t, p.admin+"/debug/pprof/goroutine?debug=1")
	assert.Equal(t, 200, status)
	assert.True(t, strings.HasPrefix(string(body), "goroutine profile: total "))
	assert.Equal(t, 0, p.stop(syscall.SIGTERM))

	off := launch(t, dir, nil, "-config", cfg, "-admin", "")
	assert.Empty(t, off.admin)
	assert.Contains(t, off.ready, "(upstream: simulator) from "+cfg+", admin off; try:")
	assert.Equal(t, 0, off.stop(syscall.SIGTERM))
}

func TestAdminAddressProblems(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	t.Run("in use exits 1", func(t *testing.T) {
		code, stdout, stderr := runOutput(t, "-listen", "127.0.0.1:0", "-admin", busy.Addr().String())
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout, "no ready line")
		assert.Contains(t, stderr, "admin.listen: listen on "+busy.Addr().String())
		assert.Contains(t, stderr, "address already in use")
	})
	t.Run("same as listen exits 2", func(t *testing.T) {
		code, _, stderr := runOutput(t, "-listen", "127.0.0.1:18080", "-admin", "127.0.0.1:18080")
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "admin.listen: must differ from listen")
	})
	t.Run("not host:port exits 2", func(t *testing.T) {
		code, _, stderr := runOutput(t, "-admin", "9464")
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "-admin: admin.listen: must be host:port")
	})
}

// Tracing configured by the standard variables starts and stops cleanly; a variable it cannot
// use is a configuration error.
func TestTracingVariables(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318", "OTEL_SERVICE_NAME=sg-test"}, "-listen", "127.0.0.1:0")
	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	assert.Contains(t, p.stderr.String(), `"msg":"tracing on","endpoint":"http://127.0.0.1:4318/v1/traces","protocol":"http/protobuf"`)

	code, stderr := runToExit(t, dir, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL=udp"}, "-listen", "127.0.0.1:0", "-admin", "")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `OTLP protocol "udp" is not supported`)
}
