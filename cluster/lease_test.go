package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/internal/testlog"
	"github.com/streamgate/streamgate/manager"
)

const testLease = 300 * time.Millisecond

func TestLeaseRefreshedAndReleased(t *testing.T) {
	srv := fresh(t)
	c := inspect(t, srv)
	s, _ := newStore(t, srv, "a", cluster.Config{Lease: testLease})
	key := cluster.LeaseKey("a")
	held, err := do(t, c, "GET", key).ToString()
	require.NoError(t, err)
	assert.Equal(t, s.Epoch(), held)
	first := doInt(t, c, "PTTL", key)
	assert.True(t, first > 0 && first <= testLease.Milliseconds(), "PTTL %d", first)
	eventually(t, "the lease is refreshed", func() bool {
		ttl := doInt(t, c, "PTTL", key)
		return ttl > first
	})
	members, err := do(t, c, "SMEMBERS", cluster.NodesKey).AsStrSlice()
	require.NoError(t, err)
	assert.Equal(t, []string{"a " + s.Epoch()}, members)

	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, int64(0), doInt(t, c, "EXISTS", key), "a graceful close releases the lease")
	assert.Equal(t, int64(0), doInt(t, c, "SCARD", cluster.NodesKey), "and forgets an epoch that owns nothing")
	_, err = s.Create(context.Background(), cluster.CreateOptions{})
	require.ErrorIs(t, err, cluster.ErrUnavailable, "a closed store holds no lease")
}

func TestNodeIDInUse(t *testing.T) {
	srv := fresh(t)
	// What matters is the order (refused while a lives, taken once it died), not how fast: a
	// longer lease than testLease keeps a loaded host from lapsing a's lease meanwhile.
	const lease = time.Second
	a, _ := newStore(t, srv, "same", cluster.Config{Lease: lease})
	_, err := cluster.New(context.Background(), cluster.Config{RedisURL: srv.URL(), NodeID: "same", Lease: lease})
	require.ErrorIs(t, err, cluster.ErrNodeIDInUse)
	assert.EqualError(t, err, "cluster: node same: node id is held by another live replica (its lease was refreshed for 2s)")

	// A successor of a replica that died takes the node ID once the dead lease lapses.
	a.Kill()
	b, _ := newStore(t, srv, "same", cluster.Config{Lease: lease})
	require.NoError(t, b.Ready(context.Background()))
}

// A replica killed mid-stream: every stream it owned ends exactly once, with an error chunk 503
// UNAVAILABLE naming it, delivered live to the subscribers on the other replicas, however many
// replicas sweep at once.
func TestDeadOwnerTakeoverExactlyOnce(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	c := inspect(t, srv)
	// The owner must stay alive until it is killed, however loaded the host: its lease is longer
	// than testLease, since this test is about exactly-once, not about how fast.
	owner, _ := newStore(t, srv, "owner", cluster.Config{Lease: time.Second})
	// The detectors' own sweeps tick every third of their lease; with a long lease the explicit
	// Sweep calls below race each other and, rarely, a tick.
	var detectors []*cluster.Store
	var logs []*testlog.Buffer
	for i := range 3 {
		s, l := newStore(t, srv, fmt.Sprintf("d%d", i), cluster.Config{Lease: 10 * time.Second})
		detectors, logs = append(detectors, s), append(logs, l)
	}
	const streams = 20
	subs := make([]*collector, streams)
	for i := range streams {
		id := fmt.Sprintf("s%02d", i)
		_, err := owner.Create(ctx, cluster.CreateOptions{ID: id, Tenant: "t"})
		require.NoError(t, err)
		_, err = owner.Append(ctx, id, manager.Chunk{Data: []byte("before")})
		require.NoError(t, err)
		subs[i] = &collector{}
		del, err := detectors[i%3].Subscribe(ctx, id, subs[i].add)
		require.NoError(t, err)
		t.Cleanup(del)
	}
	ownerEpoch := owner.Epoch()
	n, err := detectors[0].Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a live owner's streams are not swept")

	owner.Kill()
	eventually(t, "the dead owner's lease lapsed", func() bool { return doInt(t, c, "EXISTS", cluster.LeaseKey("owner")) == 0 })
	var ended atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, d := range detectors {
		for range 3 {
			wg.Go(func() {
				<-start
				n, err := d.Sweep(ctx)
				assert.NoError(t, err)
				ended.Add(int64(n))
			})
		}
	}
	close(start)
	wg.Wait()
	assert.LessOrEqual(t, ended.Load(), int64(streams))
	total := 0
	for _, l := range logs {
		total += strings.Count(l.String(), "stream ended: its owner's lease lapsed")
	}
	assert.Equal(t, streams, total, "each stream was ended by exactly one sweep")

	want := &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "replica owner lost"}
	for i := range streams {
		id := fmt.Sprintf("s%02d", i)
		info, err := detectors[0].Info(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, manager.StatusError, info.Status)
		assert.Equal(t, uint64(2), info.LastChunkID, "one error chunk after the one chunk")
		assert.Equal(t, want, info.Err)
		assert.Equal(t, "Stream terminated due to error: replica owner lost", info.CloseReason)
		eventually(t, "the close reached the subscriber of "+id, func() bool { return subs[i].count(cluster.MessageClosed) == 1 })
		msgs := subs[i].all()
		require.Len(t, msgs, 2, "exactly one error chunk and one close")
		assert.Equal(t, cluster.MessageChunk, msgs[0].Kind)
		assert.Equal(t, uint64(2), msgs[0].Chunk.ID)
		assert.Equal(t, want, msgs[0].Chunk.Err)
		assert.Equal(t, cluster.Closed{Status: manager.StatusError, Reason: info.CloseReason, Err: want, LastChunkID: 2}, msgs[1].Closed)
	}
	fields, err := do(t, c, "HGETALL", cluster.ActiveKey).AsStrMap()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"*": "0"}, fields)
	assert.Equal(t, int64(0), doInt(t, c, "EXISTS", cluster.OwnedKey("owner", ownerEpoch)))
	assert.Equal(t, int64(0), doInt(t, c, "SISMEMBER", cluster.NodesKey, "owner "+ownerEpoch), "the dead epoch is forgotten")
}

// A live replica whose lease lapsed (Redis lost it, or the replica was silent too long) is told,
// takes a new lease, and its old streams end like a dead replica's.
func TestLeaseLapseOfALiveReplica(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	c := inspect(t, srv)
	lost := make(chan struct{}, 1)
	s, _ := newStore(t, srv, "a", cluster.Config{Lease: testLease, OnLeaseLost: func() { lost <- struct{}{} }})
	other, _ := newStore(t, srv, "b", cluster.Config{Lease: testLease})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "old"})
	require.NoError(t, err)
	old := s.Epoch()

	require.Equal(t, int64(1), doInt(t, c, "DEL", cluster.LeaseKey("a")))
	waitFor(t, "OnLeaseLost", lost)
	eventually(t, "a new lease", func() bool { return s.Epoch() != "" && s.Epoch() != old })
	require.NoError(t, s.Ready(ctx))
	eventually(t, "the old epoch's stream ended", func() bool {
		info, err := other.Info(ctx, "old")
		return err == nil && info.Status == manager.StatusError
	})
	info, err := other.Info(ctx, "old")
	require.NoError(t, err)
	assert.Equal(t, "replica a lost", info.Err.Message)
	created, err := s.Create(ctx, cluster.CreateOptions{ID: "new"})
	require.NoError(t, err)
	assert.Equal(t, s.Epoch(), created.Epoch)
}

// Redis stalled for half the lease (a host too loaded to schedule it): the refresh that waits
// out the stall, longer than a third of the lease, still lands in time, so the replica stays ready throughout and keeps its epoch and
// its streams; no other replica's sweep ends them.
func TestLeaseSurvivesAStallShorterThanTheLease(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	c := inspect(t, srv)
	const lease = 1500 * time.Millisecond
	var lost atomic.Bool
	s, logs := newStore(t, srv, "a", cluster.Config{Lease: lease, OnLeaseLost: func() { lost.Store(true) }})
	other, _ := newStore(t, srv, "b", cluster.Config{Lease: 10 * time.Second})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "kept"})
	require.NoError(t, err)
	epoch := s.Epoch()

	notReady := watchLease(t, s)
	// Stall from 300ms after a refresh: the next one, due at lease/3, waits out the stall for some
	// 550ms, longer than lease/3, and lands with some 450ms of the lease left.
	eventually(t, "300ms since the last refresh", func() bool {
		return doInt(t, c, "PTTL", cluster.LeaseKey("a")) <= (lease - 300*time.Millisecond).Milliseconds()
	})
	require.NoError(t, srv.Stall(lease/2))
	// Without a refresh after the stall the lease has at most lease/2 left.
	eventually(t, "the lease is refreshed after the stall", func() bool { return doInt(t, c, "PTTL", cluster.LeaseKey("a")) > (2 * lease / 3).Milliseconds() })
	// The replica hears of it a little after Redis ran it.
	eventually(t, "the late refresh is logged", func() bool { return strings.Contains(logs.String(), "cluster lease refreshed late") })
	assert.Zero(t, notReady(), "the replica was ready all along")
	assert.False(t, lost.Load(), "OnLeaseLost was not called")
	assert.Equal(t, epoch, s.Epoch())
	held, err := do(t, c, "GET", cluster.LeaseKey("a")).ToString()
	require.NoError(t, err)
	assert.Equal(t, epoch, held)
	n, err := other.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	info, err := other.Info(ctx, "kept")
	require.NoError(t, err)
	assert.Equal(t, manager.StatusActive, info.Status)
	require.NoError(t, s.Ready(ctx))
	assert.NotContains(t, logs.String(), "not refreshed")
	assert.NotContains(t, logs.String(), "lapsed")
}

// Redis stalled for longer than the lease: the lease is gone when Redis wakes, as it is for the
// other replicas, so the replica gives up exactly as after any lapse: it is not ready, it is
// told (OnLeaseLost), it takes a new epoch, and its old streams end with 503 "replica a lost".
func TestLeaseLapsesInAStallLongerThanTheLease(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	const lease = 500 * time.Millisecond
	lost := make(chan struct{}, 1)
	s, logs := newStore(t, srv, "a", cluster.Config{Lease: lease, OnLeaseLost: func() { lost <- struct{}{} }})
	other, _ := newStore(t, srv, "b", cluster.Config{Lease: 10 * time.Second})
	_, err := s.Create(ctx, cluster.CreateOptions{ID: "old"})
	require.NoError(t, err)
	old := s.Epoch()

	require.NoError(t, srv.Stall(2*lease))
	waitFor(t, "OnLeaseLost", lost)
	eventually(t, "a new lease", func() bool { return s.Epoch() != "" && s.Epoch() != old })
	eventually(t, "ready again", func() bool { return s.Ready(ctx) == nil })
	assert.Contains(t, logs.String(), "cluster lease not refreshed before it ran out; this replica is not ready")
	assert.Contains(t, logs.String(), "cluster lease lapsed; the other replicas end the streams this one owned")
	eventually(t, "the old epoch's stream ended", func() bool {
		_, err := other.Sweep(ctx)
		info, ierr := other.Info(ctx, "old")
		return err == nil && ierr == nil && info.Status == manager.StatusError
	})
	info, err := other.Info(ctx, "old")
	require.NoError(t, err)
	assert.Equal(t, "replica a lost", info.Err.Message)
}

// The replica's connections to Redis cut, and new ones refused, for 600ms from 300ms after a
// refresh: the refresh due meanwhile fails at once and is tried again with backoff until one
// gets through, while the lease lasts; the replica stays ready with its epoch.
func TestLeaseRefreshRetriedAfterAFastFailure(t *testing.T) {
	srv := fresh(t)
	c := inspect(t, srv)
	const lease = 1500 * time.Millisecond
	p := newCutProxy(t, srv.Addr())
	logs := &testlog.Buffer{}
	var lost atomic.Bool
	s, err := cluster.New(context.Background(), cluster.Config{RedisURL: "redis://" + p.addr + "/0", NodeID: "a", Lease: lease,
		OnLeaseLost: func() { lost.Store(true) }, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil && !errors.Is(err, cluster.ErrUnavailable) {
			t.Errorf("close store: %v", err)
		}
	})
	epoch := s.Epoch()

	notReady := watchLease(t, s)
	eventually(t, "300ms since the last refresh", func() bool {
		return doInt(t, c, "PTTL", cluster.LeaseKey("a")) <= (lease - 300*time.Millisecond).Milliseconds()
	})
	p.cut()
	time.Sleep(600 * time.Millisecond) // the outage, not an assertion
	p.restore(t)
	eventually(t, "the lease is refreshed after the outage", func() bool { return doInt(t, c, "PTTL", cluster.LeaseKey("a")) > (2 * lease / 3).Milliseconds() })
	eventually(t, "the late refresh is logged", func() bool { return strings.Contains(logs.String(), "cluster lease refreshed late") })
	assert.Zero(t, notReady(), "the replica was ready all along")
	assert.False(t, lost.Load(), "OnLeaseLost was not called")
	assert.Equal(t, epoch, s.Epoch())
	assert.Contains(t, logs.String(), "cluster lease refresh failed; trying again while the lease lasts")
	assert.NotContains(t, logs.String(), "not refreshed")
}

// cutProxy forwards TCP connections to a target until cut, which closes them and refuses new
// ones until restore.
type cutProxy struct {
	addr, target string
	wg           sync.WaitGroup
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, down); up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(down, up); down.Close() })
		}
	})
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

// watchLease polls s.LeaseOK every 5 ms until the returned func is called (or the test ends),
// which stops the polling and says how many polls found the lease not held.
func watchLease(t *testing.T, s *cluster.Store) (notReady func() int64) {
	stop := make(chan struct{})
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if !s.LeaseOK() {
				n.Add(1)
			}
		}
	})
	notReady = sync.OnceValue(func() int64 {
		close(stop)
		wg.Wait()
		return n.Load()
	})
	t.Cleanup(func() { notReady() })
	return notReady
}
