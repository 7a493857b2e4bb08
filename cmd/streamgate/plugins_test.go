package main_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/plugins/pluginstest"
)

// A transport plugin from the configuration follows every stream, and stops with the gateway.
func TestConfiguredPluginFollowsStreams(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "streams")
	require.NoError(t, os.Mkdir(out, 0o755))
	cfg := writeConfig(t, dir, "gw.yaml", fmt.Sprintf(`
listen: 127.0.0.1:0
upstream: {kind: simulator, simulator: {chunks: 3, interval: 1ms, text: "one two three four five six"}}
plugins:
  - name: jsonl
    path: %s
    config: {dir: %s}
    attach: {all: true}
`, jsonlPlugin, out))
	p := start(t, dir, nil, "-config", cfg)

	resp, body := post(t, p.url+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "", generateBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	id := resp.Header.Get("X-Stream-Id")
	frames := strings.Split(strings.TrimSuffix(string(body), "\r\n\r\n"), "\r\n\r\n")
	require.Len(t, frames, 3)

	var want strings.Builder
	for i, f := range frames {
		fmt.Fprintf(&want, `{"stream_id":%q,"id":%d,"event":"","data":%s}`+"\n", id, i+1, strings.TrimPrefix(f, "data: "))
	}
	fmt.Fprintf(&want, `{"stream_id":%q,"closed":true,"reason":"completed"}`+"\n", id)
	var got []byte
	require.Eventually(t, func() bool {
		// Open mode has no tenant: the file is <out>/<id>.<instance>.jsonl.
		paths, _ := filepath.Glob(filepath.Join(out, id+".*.jsonl"))
		if len(paths) != 1 {
			return false
		}
		got, _ = os.ReadFile(paths[0])
		return strings.Contains(string(got), `"closed":true`)
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, want.String(), string(got))

	assert.Equal(t, 0, p.stop(syscall.SIGTERM))
	assert.Empty(t, pluginstest.Processes(binDir), "the plugin stops with the gateway")
}

func TestPluginThatCannotStartExits2(t *testing.T) {
	dir := t.TempDir()
	notExec := writeConfig(t, dir, "not-executable", "#!/bin/sh\n")
	for _, tc := range []struct {
		name, path, sha string
		want            []string
	}{
		{"missing binary", filepath.Join(dir, "no-such-plugin"), "", []string{"plugins", "no-such-plugin", "not found"}},
		{"not executable", notExec, "", []string{"plugins", "not executable"}},
		{"checksum mismatch", jsonlPlugin, strings.Repeat("0", 64), []string{"plugins", "checksum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", fmt.Sprintf(`
listen: 127.0.0.1:0
plugins: [{name: p, path: %q, sha256: %q, config: {dir: %q}}]
`, tc.path, tc.sha, dir))
			code, stderr := runToExit(t, dir, nil, "-config", cfg)
			assert.Equal(t, 2, code, stderr)
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
}
