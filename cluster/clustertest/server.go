// Package clustertest runs a real redis-server for cluster's tests: a process from the Debian
// package on a free loopback port, with no persistence, stopped by its owner. Nothing is faked: the
// scripts, pub/sub and expiry the tests exercise are Redis's own.
//
// A test package starts one Server in TestMain and flushes it per test (Flush); a test that stops
// and restarts Redis starts its own with Start so that no other test sees the outage.
package clustertest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ErrNotInstalled is returned by Start when redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server is not installed (Debian: apt-get install redis-server, or make deps)")

// startTimeout bounds how long a started redis-server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process listening on 127.0.0.1.
type Server struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

// Start starts redis-server on a free loopback port and waits until it answers PING.
func Start() (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "clustertest-redis-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{port: port, dir: dir}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// StartT is Start for one test: it skips the test when redis-server is not installed and stops the
// server when the test ends.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop redis-server: %v", err)
		}
	})
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--daemonize", "no",
		// Tests stall the server with DEBUG SLEEP, from loopback only.
		"--enable-debug-command", "local",
	)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd = cmd
	if err := s.waitReady(); err != nil {
		s.kill()
		return fmt.Errorf("redis-server on port %d: %w; log: %s", s.port, err, s.Log())
	}
	return nil
}

// waitReady polls until the server answers PING on its port.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := s.Do("PING")
		if err == nil && reply == "+PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG after %s: %v", startTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Log returns the server's log file.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Do sends one command on a fresh connection and returns the first line of the reply ("+OK",
// ":3", "$5", "-ERR ..."). It is for harness chores (PING, FLUSHALL, SHUTDOWN), not for tests of
// the client.
func (s *Server) Do(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line, nil
}

// Stall blocks the whole server for d with DEBUG SLEEP, the way a host too loaded to schedule
// redis-server does: every client waits, and the clock its keys expire by runs on. It returns
// when the server answers again.
func (s *Server) Stall(d time.Duration) error {
	reply, err := s.Do("DEBUG", "SLEEP", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	if err != nil {
		return fmt.Errorf("stall redis-server: %w", err)
	}
	if reply != "+OK" {
		return fmt.Errorf("stall redis-server: %s", reply)
	}
	return nil
}

// Flush empties every database, for a test that wants a clean server.
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	if reply, err := s.Do("FLUSHALL"); err != nil || reply != "+OK" {
		t.Fatalf("FLUSHALL: %q, %v", reply, err)
	}
}

// Stop stops the server and waits for the process to exit; the port and directory are kept for
// Restart. Its data is gone: the server keeps none on disk.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	_, _ = s.Do("SHUTDOWN", "NOSAVE")
	done := make(chan error, 1)
	cmd := s.cmd
	s.cmd = nil
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on port %d ignored SHUTDOWN; killed", s.port)
	}
}

// Restart starts the server again on the same port after Stop.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return errors.New("redis-server is running")
	}
	return s.start()
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

func (s *Server) kill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
