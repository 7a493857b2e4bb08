package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamgate/streamgate/upstream/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"-chunks", "0"}, {"-size", "-1"}, {"-framing", "crcr"}, {"extra"}, {"-nope"}} {
		err := run(context.Background(), args, io.Discard)
		require.ErrorIs(t, err, errUsage, "%v", args)
	}
}

// TestProcess builds the command, runs it, streams one reply and stops it with SIGTERM.
func TestProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fakegemini")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-chunks", "5", "-size", "10", "-interval", "1ms", "-key", "k")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	ready := lines.Text()
	require.Contains(t, ready, "fakegemini listening on http://127.0.0.1:")
	url := strings.Fields(ready)[3]

	req, err := http.NewRequest(http.MethodPost, url+"/v1beta/models/m:streamGenerateContent?alt=sse", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("x-goog-api-key", "k")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 200, resp.StatusCode)
	rd := sse.NewReader(bytes.NewReader(body))
	var n int
	for {
		ev, err := rd.Next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		require.Contains(t, string(ev.Data), `"text":"streamgate"`)
		n++
	}
	require.Equal(t, 5, n)
	http.DefaultClient.CloseIdleConnections()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.True(t, lines.Scan())
	require.Equal(t, "fakegemini served 1 requests (0 cancelled)", lines.Text())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status 0")
	case <-time.After(10 * time.Second):
		t.Fatal("fakegemini did not exit after SIGTERM")
	}
}
