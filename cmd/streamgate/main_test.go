package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/plugins/pluginstest"
)

// binary is the streamgate command and jsonlPlugin the jsonl transport plugin, built once by
// TestMain into binDir.
var binary, jsonlPlugin, binDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "streamgate-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	binary = filepath.Join(dir, "streamgate")
	jsonlPlugin = filepath.Join(dir, "streamgate-plugin-jsonl")
	if err := pluginstest.Build(dir, "github.com/streamgate/streamgate/cmd/streamgate", pluginstest.JSONL); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if code := m.Run(); code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		return 1
	}
	if pids := pluginstest.Processes(dir); len(pids) > 0 {
		fmt.Fprintln(os.Stderr, "plugin processes outlived streamgate:", pids)
		return 1
	}
	return 0
}

// proc is a running streamgate process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	url    string
	admin  string // the admin listener's URL, "" when it is off
	source string // the configuration file the ready line names, or "built-in defaults"
	ready  string
	waited chan error
}

var readyRe = regexp.MustCompile(`^streamgate ready on (http://127\.0\.0\.1:(\d+)) \(upstream: (\w+)\) from (.+), admin (?:on (http://127\.0\.0\.1:\d+)|off); try: curl -N '(\S+)'`)

// start runs streamgate in dir with args and waits for its ready line. Unless args set -admin,
// the admin listener takes a free port, so tests never contend for the default 9464.
func start(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	if !slices.ContainsFunc(args, func(a string) bool { return a == "-admin" || strings.HasPrefix(a, "-admin=") }) {
		args = append(args, "-admin", "127.0.0.1:0")
	}
	return launch(t, dir, env, args...)
}

// launch runs streamgate in dir with exactly args and waits for its ready line.
func launch(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return startProgram(t, dir, env, binary, args...)
}

// startProgram is launch with another program in front of streamgate (prlimit, say).
func startProgram(t *testing.T, dir string, env []string, program string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p := &proc{t: t, cmd: cmd, stderr: &bytes.Buffer{}, waited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.waited
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
		p.waited <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		p.ready = strings.TrimSpace(line)
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line; stderr:\n%s", p.stderr)
	}
	m := readyRe.FindStringSubmatch(p.ready)
	require.NotNil(t, m, "ready line %q; stderr:\n%s", p.ready, p.stderr)
	require.NotEqual(t, "0", m[2], "the ready line shows the real port")
	p.url, p.source, p.admin = m[1], m[4], m[5]
	return p
}

// stop sends sig and returns the exit code.
func (p *proc) stop(sig os.Signal) int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	select {
	case <-p.waited:
	case <-time.After(15 * time.Second):
		p.t.Fatalf("streamgate did not exit after %v; stderr:\n%s", sig, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// runToExit runs streamgate expecting it to exit by itself, and returns its code and stderr.
func runToExit(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("streamgate did not exit; stderr:\n%s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

func writeConfig(t *testing.T, dir, name, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

const generateBody = `{"contents":[{"parts":[{"text":"Hello"}]}]}`

func post(t *testing.T, url, key, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-goog-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestDefaultsWithoutConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, nil, "-listen", "127.0.0.1:0")
	assert.Contains(t, p.ready, "(upstream: simulator)")
	assert.Equal(t, "built-in defaults", p.source)
	assert.NotEmpty(t, p.admin)
	assert.Contains(t, p.ready, p.url+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")

	resp, body := post(t, p.url+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "", generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(string(body), `data: {"candidates":`), "%q", body)
	assert.True(t, strings.HasSuffix(string(body), "\r\n\r\n"))
	assert.Contains(t, string(body), `"finishReason":"STOP"`)

	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	assert.Contains(t, p.stderr.String(), "no client keys configured")
	assert.Contains(t, p.stderr.String(), "streamgate stopped")
}

// With no flags streamgate loads configs/streamgate.yaml from the working directory.
func TestNoFlagsLoadsDefaultConfigFile(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "configs/streamgate.yaml", "listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nlog: {level: debug, format: text}\n")
	p := launch(t, dir, nil)
	assert.Equal(t, "configs/streamgate.yaml", p.source)
	status, _ := get(t, p.url+"/readyz")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, 0, p.stop(syscall.SIGINT))
	assert.Contains(t, p.stderr.String(), "level=INFO msg=\"streamgate ready\"")
}

// The shipped configuration file loads and runs the simulator without GEMINI_API_KEY.
func TestShippedConfig(t *testing.T) {
	shipped, err := filepath.Abs("../../configs/streamgate.yaml")
	require.NoError(t, err)
	p := start(t, t.TempDir(), nil, "-config", shipped, "-listen", "127.0.0.1:0")
	assert.Contains(t, p.ready, "(upstream: simulator)")
	assert.Equal(t, shipped, p.source)
	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestKeysAndGracefulShutdownWithLiveStream(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "gw.yaml", `
listen: 127.0.0.1:0
shutdown_grace: 5s
upstream: {kind: simulator, simulator: {chunks: 50, interval: 100ms}}
auth: {keys: [{id: alice, key: "${ALICE_KEY}", tenant: acme}]}
`)
	p := start(t, dir, []string{"ALICE_KEY=alice-secret-key"}, "-config", cfg)
	assert.Contains(t, p.ready, `-H "x-goog-api-key: $STREAMGATE_KEY"`)

	resp, body := post(t, p.url+"/v1/streams", "", `{}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `"status":"UNAUTHENTICATED"`)

	req, err := http.NewRequest("POST", p.url+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", strings.NewReader(generateBody))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer alice-secret-key")
	live, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer live.Body.Close()
	require.Equal(t, http.StatusOK, live.StatusCode)
	r := bufio.NewReader(live.Body)
	first, err := r.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, "data: "))

	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(rest),
		`data: {"error":{"code":503,"message":"shutting down","status":"UNAVAILABLE"}}`+"\r\n\r\n"), "%q", rest)
	assert.NotContains(t, p.stderr.String(), "alice-secret-key")
}

func TestInvalidConfigExits2NamingTheField(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       []string
	}{
		{"negative heartbeat", "heartbeat: -1s\n", nil, []string{"heartbeat", "must not be negative"}},
		{"unknown key", "listen: 127.0.0.1:0\nheartbeats: 1s\n", nil, []string{"heartbeats"}},
		{"bad listen flag", "", []string{"-listen", "nowhere"}, []string{"listen", "host:port"}},
		{"queue below history", "client_queue_size: 10\nmanager: {history_size: 20}\n", nil, []string{"client_queue_size"}},
		{"unset variable", "upstream: {api_key: \"${NO_SUCH_VARIABLE_X}\"}\n", nil, []string{"upstream.api_key", "NO_SUCH_VARIABLE_X"}},
		{"open on every interface", "listen: 0.0.0.0:0\n", nil, []string{"listen", "not a loopback address", "auth.keys"}},
		{"open on every interface by flag", "", []string{"-listen", ":0"}, []string{"listen", "not a loopback address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.yaml)
			code, stderr := runToExit(t, dir, nil, append([]string{"-config", cfg}, tc.args...)...)
			assert.Equal(t, 2, code, stderr)
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
	t.Run("missing explicit file", func(t *testing.T) {
		code, stderr := runToExit(t, dir, nil, "-config", filepath.Join(dir, "nope.yaml"))
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "nope.yaml")
	})
	t.Run("bad flag", func(t *testing.T) {
		code, _ := runToExit(t, dir, nil, "-bogus")
		assert.Equal(t, 2, code)
	})
}

// TestRaisesFileLimit starts streamgate with a soft open-file limit of 256 and a hard one of 4096:
// it raises the soft limit to 4096 and warns that 4096 is too few for 10,000 connections.
func TestRaisesFileLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	p := startProgram(t, t.TempDir(), nil, prlimit, "--nofile=256:4096", binary, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0")
	require.Equal(t, 0, p.stop(syscall.SIGTERM))
	var warned bool
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, "the open-file limit is low") {
			warned = true
			assert.Contains(t, line, `"fd_limit":4096`)
			assert.Contains(t, line, `"max_connections":10000`)
		}
	}
	assert.True(t, warned, "no fd-limit warning; stderr:\n%s", p.stderr)
}
