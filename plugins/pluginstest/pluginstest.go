// Package pluginstest builds streamgate's plugin binaries for tests and finds plugin processes
// that outlived them. It is for tests only; it imports nothing else from streamgate.
package pluginstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Import paths of the example plugins.
const (
	JSONL   = "github.com/streamgate/streamgate/cmd/streamgate-plugin-jsonl"
	Webhook = "github.com/streamgate/streamgate/cmd/streamgate-plugin-webhook"
	Retry   = "github.com/streamgate/streamgate/cmd/streamgate-plugin-retry"
)

// Build compiles the packages into dir, each binary named after its package directory. The go
// command's output goes to stderr.
func Build(dir string, pkgs ...string) error {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build plugins %s: %w", strings.Join(pkgs, " "), err)
	}
	return nil
}

// Processes lists the live (not zombie) processes running a binary from dir.
func Processes(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, dir) && Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Alive reports whether pid is a running process (a zombie is not).
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
