package cluster_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/manager"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  cluster.Config
		want string
	}{
		{"no url", cluster.Config{}, "RedisURL is required"},
		{"bad scheme", cluster.Config{RedisURL: "http://u:secret@127.0.0.1:1"}, "RedisURL http://u:xxxxx@127.0.0.1:1: scheme must be redis or rediss"},
		{"no host", cluster.Config{RedisURL: "redis://"}, "host is missing"},
		{"bad node id", cluster.Config{RedisURL: "redis://127.0.0.1:1", NodeID: "a b"}, `NodeID "a b": byte 1 is ' '`},
		{"long node id", cluster.Config{RedisURL: "redis://127.0.0.1:1", NodeID: strings.Repeat("n", 129)}, "at most 128 bytes"},
		{"short lease", cluster.Config{RedisURL: "redis://127.0.0.1:1", NodeID: "n", Lease: time.Millisecond}, "Lease must be at least 100ms"},
		{"negative", cluster.Config{RedisURL: "redis://127.0.0.1:1", NodeID: "n", MaxStreams: -1}, "MaxStreams must not be negative"},
		{"bad db", cluster.Config{RedisURL: "redis://127.0.0.1:1/x", NodeID: "n"}, "invalid database number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cluster.New(context.Background(), tc.cfg)
			require.ErrorIs(t, err, cluster.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestNewUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	_, err = cluster.New(context.Background(), cluster.Config{RedisURL: "redis://:hunter2@" + addr + "/0"})
	require.ErrorIs(t, err, cluster.ErrUnavailable)
	assert.Contains(t, err.Error(), "cluster: redis at redis://:xxxxx@"+addr+"/0 is unreachable")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestDefaults(t *testing.T) {
	srv := fresh(t)
	s, _ := newStore(t, srv, "", cluster.Config{})
	cfg := s.Config()
	assert.Regexp(t, `^.+-[0-9]+$`, s.NodeID(), "hostname-pid")
	assert.Equal(t, cluster.DefaultLease, cfg.Lease)
	assert.Equal(t, manager.DefaultHistorySize, cfg.HistorySize)
	assert.Equal(t, int64(cluster.DefaultHistoryBytes), cfg.HistoryBytes)
	assert.Equal(t, manager.DefaultRetainClosed, cfg.RetainClosed)
	assert.Equal(t, manager.DefaultMaxConcurrentStreams, cfg.MaxStreams)
	require.NoError(t, s.Ready(context.Background()))
}

func TestCreateInfoAcrossStores(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, _ := newStore(t, srv, "a", cluster.Config{})
	b, _ := newStore(t, srv, "b", cluster.Config{})

	created, err := a.Create(ctx, cluster.CreateOptions{ID: "s1", Tenant: "t1", Labels: map[string]string{"model": "m", "tenant": "t1"}})
	require.NoError(t, err)
	info, err := b.Info(ctx, "s1")
	require.NoError(t, err)
	assert.Equal(t, created, info, "every replica sees the stream as it was created")
	assert.Equal(t, "a", info.Owner)
	assert.Equal(t, a.Epoch(), info.Epoch)
	assert.Equal(t, manager.StatusActive, info.Status)
	assert.Equal(t, uint64(1), info.FirstChunkID)
	assert.Len(t, info.Instance, 36)

	_, err = b.Create(ctx, cluster.CreateOptions{ID: "s1", Tenant: "t2"})
	require.ErrorIs(t, err, manager.ErrExists, "requested IDs are one namespace across replicas and tenants")
	_, err = b.Create(ctx, cluster.CreateOptions{ID: "bad id"})
	require.ErrorIs(t, err, manager.ErrInvalidID)
	_, err = b.Info(ctx, "nope")
	require.ErrorIs(t, err, manager.ErrNotFound)

	gen, err := b.Create(ctx, cluster.CreateOptions{Tenant: "t1"})
	require.NoError(t, err)
	assert.Len(t, gen.ID, 36, "an empty ID is a new UUID")
	assert.NotEqual(t, created.Instance, gen.Instance)
}

func TestList(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, _ := newStore(t, srv, "a", cluster.Config{RetainClosed: time.Millisecond})
	b, _ := newStore(t, srv, "b", cluster.Config{})
	for i, st := range []*cluster.Store{a, b, a, b} {
		_, err := st.Create(ctx, cluster.CreateOptions{ID: "t1-" + strconv.Itoa(i), Tenant: "t1"})
		require.NoError(t, err)
	}
	_, err := a.Create(ctx, cluster.CreateOptions{ID: "t2-0", Tenant: "t2"})
	require.NoError(t, err)

	list, err := b.List(ctx, "t1")
	require.NoError(t, err)
	var ids []string
	for _, m := range list {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{"t1-0", "t1-1", "t1-2", "t1-3"}, ids, "the tenant's streams of every replica, oldest first")

	// t1-0 expires one millisecond after it closes; another tenant then takes its ID.
	closed, err := a.CloseStream(ctx, "t1-0", "completed", nil)
	require.NoError(t, err)
	require.True(t, closed)
	eventually(t, "t1-0 expired", func() bool {
		_, err := a.Info(ctx, "t1-0")
		return errors.Is(err, manager.ErrNotFound)
	})
	_, err = b.Create(ctx, cluster.CreateOptions{ID: "t1-0", Tenant: "t2"})
	require.NoError(t, err)
	list, err = a.List(ctx, "t1")
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, "t1-1", list[0].ID)
	c := inspect(t, srv)
	assert.Equal(t, int64(3), doInt(t, c, "ZCARD", cluster.TenantKey("t1")), "List dropped the expired stream from the index")
	list, err = a.List(ctx, "t2")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{"t2-0", "t1-0"}, []string{list[0].ID, list[1].ID})
}

func TestLimits(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, _ := newStore(t, srv, "a", cluster.Config{MaxStreams: 3})
	b, _ := newStore(t, srv, "b", cluster.Config{MaxStreams: 3})
	c := inspect(t, srv)
	active := func(field string) int64 {
		n, err := do(t, c, "HGET", cluster.ActiveKey, field).AsInt64()
		if err != nil {
			return 0
		}
		return n
	}

	for _, id := range []string{"x1", "x2"} {
		_, err := a.Create(ctx, cluster.CreateOptions{ID: id, Tenant: "t1", TenantMax: 2})
		require.NoError(t, err)
	}
	_, err := b.Create(ctx, cluster.CreateOptions{ID: "x3", Tenant: "t1", TenantMax: 2})
	require.ErrorIs(t, err, manager.ErrTooManyStreams)
	assert.EqualError(t, err, `create stream: too many concurrent streams (limit 2 for tenant "t1")`)
	_, err = b.Create(ctx, cluster.CreateOptions{ID: "y1", Tenant: "t2", TenantMax: 2})
	require.NoError(t, err, "another tenant has its own count")
	assert.Equal(t, []int64{3, 2, 1}, []int64{active("*"), active("t:t1"), active("t:t2")})

	_, err = b.Create(ctx, cluster.CreateOptions{ID: "y2", Tenant: "t2"})
	require.ErrorIs(t, err, manager.ErrTooManyStreams)
	assert.EqualError(t, err, "create stream: too many concurrent streams (cluster limit 3)")
	_, err = b.Create(ctx, cluster.CreateOptions{ID: "x1", Tenant: "t2"})
	require.ErrorIs(t, err, manager.ErrTooManyStreams, "capacity is checked before the ID, as in manager")

	closed, err := b.CloseStream(ctx, "x1", "completed", nil)
	require.NoError(t, err)
	require.True(t, closed, "any replica closes any stream")
	closed, err = a.CloseStream(ctx, "x1", "completed", nil)
	require.NoError(t, err)
	require.False(t, closed, "closing a closed stream does nothing")
	assert.Equal(t, []int64{2, 1, 1}, []int64{active("*"), active("t:t1"), active("t:t2")})
	_, err = b.Create(ctx, cluster.CreateOptions{ID: "y2", Tenant: "t2"})
	require.NoError(t, err)

	for _, id := range []string{"x2", "y1", "y2"} {
		_, err := a.CloseStream(ctx, id, "completed", nil)
		require.NoError(t, err)
	}
	fields, err := do(t, c, "HGETALL", cluster.ActiveKey).AsStrMap()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"*": "0"}, fields, "a tenant with no active stream leaves no counter behind")
	_, err = a.CloseStream(ctx, "nope", "completed", nil)
	require.ErrorIs(t, err, manager.ErrNotFound)
}

func TestCloseAndRetention(t *testing.T) {
	srv := fresh(t)
	ctx := context.Background()
	a, _ := newStore(t, srv, "a", cluster.Config{RetainClosed: 30 * time.Second})
	b, _ := newStore(t, srv, "b", cluster.Config{RetainClosed: 30 * time.Second})
	c := inspect(t, srv)

	for _, id := range []string{"done", "failed"} {
		_, err := a.Create(ctx, cluster.CreateOptions{ID: id})
		require.NoError(t, err)
		_, err = b.Append(ctx, id, manager.Chunk{Data: []byte(`{"n":1}`)})
		require.NoError(t, err)
		assert.Equal(t, int64(-1), doInt(t, c, "PTTL", cluster.MetaKey(id)), "an active stream never expires")
	}
	owned := cluster.OwnedKey("a", a.Epoch())
	assert.Equal(t, int64(2), doInt(t, c, "SCARD", owned))

	closed, err := b.CloseStream(ctx, "done", "completed", nil)
	require.NoError(t, err)
	require.True(t, closed)
	se := &manager.StreamError{Code: 502, Message: "upstream broke"}
	closed, err = b.CloseStream(ctx, "failed", manager.ReasonTerminatedPrefix+"upstream broke", se)
	require.NoError(t, err)
	require.True(t, closed)

	for _, key := range []string{cluster.MetaKey("done"), cluster.HistKey("done"), cluster.MetaKey("failed"), cluster.HistKey("failed")} {
		ttl := doInt(t, c, "PTTL", key)
		assert.True(t, ttl > 29_000 && ttl <= 30_000, "%s expires after retain_closed, PTTL %d", key, ttl)
	}
	assert.Equal(t, int64(0), doInt(t, c, "SCARD", owned), "closed streams leave their owner's set")

	info, err := a.Info(ctx, "done")
	require.NoError(t, err)
	assert.Equal(t, manager.StatusCompleted, info.Status)
	assert.Equal(t, "completed", info.CloseReason)
	assert.Equal(t, uint64(1), info.LastChunkID)
	assert.False(t, info.ClosedAt.IsZero())
	assert.Nil(t, info.Err)

	info, err = a.Info(ctx, "failed")
	require.NoError(t, err)
	want := &manager.StreamError{Code: 502, Status: "INTERNAL", Message: "upstream broke"}
	assert.Equal(t, manager.StatusError, info.Status)
	assert.Equal(t, want, info.Err)
	assert.Equal(t, uint64(2), info.LastChunkID, "the error chunk comes after the last chunk")
	page, err := a.ReadRange(ctx, "failed", 1, 0)
	require.NoError(t, err)
	require.Len(t, page.Chunks, 1)
	errChunk := page.Chunks[0]
	assert.Equal(t, uint64(2), errChunk.ID)
	assert.Equal(t, "error", errChunk.Event)
	assert.Equal(t, `{"error":{"code":502,"message":"upstream broke","status":"INTERNAL"}}`, string(errChunk.Data))
	assert.Equal(t, want, errChunk.Err)
	assert.Equal(t, &cluster.Closed{Status: manager.StatusError, Reason: "Stream terminated due to error: upstream broke", Err: want, LastChunkID: 2}, page.Closed)

	_, err = a.Append(ctx, "done", manager.Chunk{Data: []byte("late")})
	require.ErrorIs(t, err, manager.ErrClosed)
	_, err = a.Append(ctx, "nope", manager.Chunk{Data: []byte("x")})
	require.ErrorIs(t, err, manager.ErrNotFound)
	_, err = b.Create(ctx, cluster.CreateOptions{ID: "done"})
	require.ErrorIs(t, err, manager.ErrExists, "a retained closed stream keeps its ID")
}
