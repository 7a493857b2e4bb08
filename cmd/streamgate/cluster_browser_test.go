package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/internal/browsertest"
)

// A browser's EventSource behind a load balancer resumes across replicas by itself: the
// replica serving it is killed (SIGKILL), Chromium reconnects after its 3 s with Last-Event-ID,
// the balancer sends the new connection to a live replica, and the page sees every chunk once,
// in order, then the end.
func TestClusterBrowserEventSourceResumesOnAnotherReplica(t *testing.T) {
	chromium := browsertest.Chromium(t)
	pages := browsertest.NewPages(t)
	c := startCluster(t, 3, longGeneration, func(int) string {
		return fmt.Sprintf("cors: {allowed_origins: [%q]}\n", pages.Origin)
	})
	// The owner, r1, stays up: the balancer sends the page to r2, then to r3 once r2 is gone.
	lb := newBalancer(t, c.url(1), c.url(2))
	createPush(t, c.url(0), "b")

	stop, pushed := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { pushed <- n }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				status, _, body := send("POST", c.url(0)+"/v1/streams/b/chunks", fmt.Sprintf(`{"data":{"n":%d}}`, n+1))
				if want := fmt.Sprintf(`{"id":%d}`, n+1); status != http.StatusAccepted || strings.TrimSpace(body) != want {
					t.Errorf("push %d: %d %s, want 202 %s", n+1, status, body, want)
					return
				}
				n++
			}
		}
	}()

	b := browsertest.Start(t, chromium, pages.URL(lb.url()+"/v1/streams/b/events"))
	pages.WaitProgress(t, b, 10)
	c.kill(1)
	pages.WaitProgress(t, b, 10+uint64(3*time.Second/(20*time.Millisecond))) // past the reconnection
	close(stop)
	n := <-pushed
	status, _, body := hit(t, "DELETE", c.url(2)+"/v1/streams/b", "")
	require.Equal(t, http.StatusOK, status, body)

	var frames, messages []browsertest.Event
	for _, ev := range pages.Report(t, b) {
		if ev.Type == "message" {
			messages = append(messages, ev)
			continue
		}
		frames = append(frames, ev)
	}
	want := make([]browsertest.Event, n)
	for i := range want {
		want[i] = browsertest.Event{Type: "message", ID: fmt.Sprint(i + 1), Data: fmt.Sprintf(`{"n":%d}`, i+1)}
	}
	assert.Equal(t, want, messages, "every chunk once, in order")
	assert.Equal(t, []browsertest.Event{
		{Type: "(open)"},
		{Type: "(error)", Data: "readyState 0"}, // r2 gone; reconnecting
		{Type: "(open)"},
		{Type: "done", ID: fmt.Sprint(n), Data: `{"status":"completed","reason":"deleted by client"}`},
	}, frames)
	served := lb.served()
	require.GreaterOrEqual(t, len(served), 2)
	assert.Equal(t, c.url(1), served[0], "r2 served the page first")
	assert.Equal(t, c.url(2), served[len(served)-1], "r3 served it after r2 was gone")
}

// balancer forwards each new TCP connection to the first of its targets that accepts it, as a
// load balancer's health check would: a dead replica gets no new connection.
type balancer struct {
	ln      net.Listener
	targets []string
	wg      sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	picked []string // the target of each connection, in order
}

func newBalancer(t *testing.T, targets ...string) *balancer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &balancer{ln: ln, targets: targets, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) url() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) accept() {
	defer b.wg.Done()
	for {
		client, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.forward(client)
		}()
	}
}

func (b *balancer) forward(client net.Conn) {
	var backend net.Conn
	for _, target := range b.targets {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(target, "http://"), time.Second)
		if err == nil {
			backend = c
			b.mu.Lock()
			b.picked = append(b.picked, target)
			b.mu.Unlock()
			break
		}
	}
	if backend == nil {
		client.Close()
		return
	}
	b.mu.Lock()
	b.conns[client], b.conns[backend] = struct{}{}, struct{}{}
	b.mu.Unlock()
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			backend.Close()
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(backend, client)
		closeBoth()
	}()
	_, _ = io.Copy(client, backend)
	closeBoth()
	<-done
	b.mu.Lock()
	delete(b.conns, client)
	delete(b.conns, backend)
	b.mu.Unlock()
}

// served lists the target each connection went to.
func (b *balancer) served() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.picked...)
}

func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
