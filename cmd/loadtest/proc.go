package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// child is a server process this program started: a role of its own (-role) or the streamgate
// binary. Its CPU time and RSS are read from /proc.
type child struct {
	name string
	url  string
	cmd  *exec.Cmd
	stop func()
}

// startRole starts this program with -role role and the extra flags, and waits for the URL line
// it prints. The child stops when its stdin closes.
func startRole(role string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"-role", role}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	c, err := startChild(role, cmd, func(line string) (string, bool) {
		return strings.TrimSpace(line), strings.HasPrefix(line, "http://")
	})
	if err != nil {
		return nil, err
	}
	c.stop = func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: %s process: %v\n", role, err)
		}
	}
	return c, nil
}

// startChild starts cmd and reads its stdout until urlOf finds the URL in a line; the rest of
// stdout is discarded. stop (set by the caller) ends it.
func startChild(name string, cmd *exec.Cmd, urlOf func(string) (string, bool)) (*child, error) {
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if u, ok := urlOf(line); ok {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return &child{name: name, url: u, cmd: cmd}, nil
		}
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("%s process ended before it printed its URL: %w", name, err)
		}
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// cpu returns the process's user plus system CPU time so far.
func (c *child) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid()))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	// After the name: state(3) ... utime(14) stime(15), so indexes 11 and 12 here.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// rss returns the process's resident set size in bytes (VmRSS).
func (c *child) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// rssSampler records the largest RSS of a process seen every 100 ms until stopped.
type rssSampler struct {
	done chan struct{}
	max  chan int64
}

func sampleRSS(c *child) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), max: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := c.rss(); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-t.C:
			case <-s.done:
				s.max <- peak
				return
			}
		}
	}()
	return s
}

// stop returns the peak.
func (s *rssSampler) stop() int64 {
	close(s.done)
	return <-s.max
}

// raiseFileLimit raises RLIMIT_NOFILE to at least n descriptors.
func raiseFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open file limit to %d (ulimit -n; the hard limit is the ceiling without root): %w", n, err)
	}
	return nil
}

// checkPorts fails when the loopback ephemeral port range cannot hold n client connections to
// one server address.
func checkPorts(n int) error {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return nil // not Linux: nothing to check
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return nil
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if errors.Join(err1, err2) != nil {
		return nil
	}
	if hi-lo+1 < n {
		return fmt.Errorf("net.ipv4.ip_local_port_range %d-%d has %d ports, fewer than the %d connections to open: widen it (sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\")", lo, hi, hi-lo+1, n)
	}
	return nil
}

// loadAverage returns /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
