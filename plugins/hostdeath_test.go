package plugins

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/plugins/pluginstest"
)

// When envTestHost holds a plugin path, the test binary is a plugin host: it starts that plugin,
// prints its PID, and waits to be killed. envNoPdeathsig makes it start the plugin without
// Pdeathsig, leaving the SDK's parent watch alone to end the plugin.
const (
	envTestHost    = "STREAMGATE_PLUGINS_TEST_HOST"
	envNoPdeathsig = "STREAMGATE_PLUGINS_TEST_NO_PDEATHSIG"
)

func runTestHost() int {
	if os.Getenv(envNoPdeathsig) != "" {
		newSysProcAttr = func() *syscall.SysProcAttr { return nil }
	}
	h, err := New(Config{Plugins: []PluginConfig{{Name: "retry", Path: os.Getenv(envTestHost)}}})
	if err == nil {
		err = h.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(h.byName["retry"].current().pid())
	time.Sleep(time.Hour)
	return 0
}

func TestPluginExitsWhenHostIsKilled(t *testing.T) {
	for _, tc := range []struct {
		name        string
		noPdeathsig bool
	}{
		{name: "pdeathsig and parent watch"},
		{name: "parent watch alone", noPdeathsig: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := exec.Command(os.Args[0], "-test.run=^$")
			host.Env = append(os.Environ(), envTestHost+"="+bin("retry"))
			if tc.noPdeathsig {
				host.Env = append(host.Env, envNoPdeathsig+"=1")
			}
			out, err := host.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, host.Start())
			line, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err)
			pid, err := strconv.Atoi(line[:len(line)-1])
			require.NoError(t, err)
			require.True(t, pluginstest.Alive(pid), "plugin %d should run while its host does", pid)

			require.NoError(t, host.Process.Signal(syscall.SIGKILL))
			_ = host.Wait() // killed: the error says so
			require.Eventually(t, func() bool { return !pluginstest.Alive(pid) }, 5*time.Second, 10*time.Millisecond,
				"plugin %d outlived its host", pid)
		})
	}
}
