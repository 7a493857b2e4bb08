package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"

	"github.com/streamgate/streamgate/manager"
)

// Meta is a stream as the cluster knows it.
type Meta struct {
	// StreamInfo holds what every replica can tell; Clients and Passive stay zero, since clients
	// are local to each replica.
	manager.StreamInfo
	Tenant string
	// Owner is the node ID of the replica that owns the stream: it created it, runs its upstream
	// call, its inactivity timeout and its configured transports.
	Owner string
	// Epoch is the owner's lease epoch when it created the stream; the stream ends with the lease.
	Epoch string
	// Instance is unique per creation, so that a reused stream ID is told apart.
	Instance string
	// FirstChunkID is the oldest chunk still in the history; LastChunkID+1 when it holds none.
	FirstChunkID uint64
	// HistoryBytes is the chunk data the history holds.
	HistoryBytes int64
}

// CreateOptions configures Create.
type CreateOptions struct {
	// ID is the requested stream ID; empty means a new UUID v4. Requested IDs are one namespace
	// across the cluster and its tenants.
	ID string
	// Tenant owns the stream: List lists by tenant and TenantMax counts per tenant.
	Tenant string
	// Labels are free-form attributes returned in Meta.Labels.
	Labels map[string]string
	// TenantMax bounds the tenant's active streams across the cluster; zero means no bound.
	TenantMax int
}

// Create creates an active stream owned by this replica. Capacity is checked first
// (manager.ErrTooManyStreams, cluster-wide then per tenant), then the requested ID
// (manager.ErrInvalidID, manager.ErrExists, also for a closed stream still retained).
func (s *Store) Create(ctx context.Context, opts CreateOptions) (Meta, error) {
	if opts.TenantMax < 0 {
		return Meta{}, fmt.Errorf("create stream: TenantMax must not be negative (got %d)", opts.TenantMax)
	}
	if opts.ID != "" {
		if err := manager.ValidateID(opts.ID); err != nil {
			return Meta{}, err
		}
	}
	epoch := s.epoch.Load()
	if epoch == nil {
		return Meta{}, fmt.Errorf("cluster: create stream: node %s: %w: no lease held", s.cfg.NodeID, ErrUnavailable)
	}
	labels, err := json.Marshal(opts.Labels)
	if err != nil {
		return Meta{}, fmt.Errorf("create stream: labels: %w", err)
	}
	now := time.Now()
	m := Meta{
		StreamInfo: manager.StreamInfo{Status: manager.StatusActive, CreatedAt: time.UnixMicro(now.UnixMicro()), Labels: maps.Clone(opts.Labels)},
		Tenant:     opts.Tenant, Owner: s.cfg.NodeID, Epoch: *epoch, Instance: uuid.NewString(), FirstChunkID: 1,
	}
	for {
		m.ID = opts.ID
		if m.ID == "" {
			m.ID = uuid.NewString()
		}
		n, err := createScript.Exec(ctx, s.client,
			[]string{metaKey(m.ID), histKey(m.ID), activeKey, tenantKey(opts.Tenant), ownedKey(m.Owner, m.Epoch), leaseKey(m.Owner)},
			[]string{m.ID, opts.Tenant, string(labels), m.Owner, m.Epoch, m.Instance, micros(now),
				strconv.Itoa(s.cfg.MaxStreams), strconv.Itoa(opts.TenantMax),
				strconv.Itoa(s.cfg.HistorySize), strconv.FormatInt(s.cfg.HistoryBytes, 10)}).AsInt64()
		switch {
		case err != nil:
			return Meta{}, wrap("create stream", err)
		case n == resTooMany:
			return Meta{}, fmt.Errorf("create stream: %w (cluster limit %d)", manager.ErrTooManyStreams, s.cfg.MaxStreams)
		case n == resTenantMax:
			return Meta{}, fmt.Errorf("create stream: %w (limit %d for tenant %q)", manager.ErrTooManyStreams, opts.TenantMax, opts.Tenant)
		case n == resLeaseLost:
			return Meta{}, fmt.Errorf("cluster: create stream: node %s: %w: lease lapsed", s.cfg.NodeID, ErrUnavailable)
		case n == resExists && opts.ID != "":
			return Meta{}, fmt.Errorf("create stream %s: %w", m.ID, manager.ErrExists)
		case n == resExists:
			continue // a generated ID that collides: draw another, as manager does
		}
		return m, nil
	}
}

// Info describes one stream, active or retained closed.
func (s *Store) Info(ctx context.Context, id string) (Meta, error) {
	h, err := s.client.Do(ctx, s.client.B().Hgetall().Key(metaKey(id)).Build()).AsStrMap()
	if err != nil {
		return Meta{}, wrap("stream "+id, err)
	}
	if len(h) == 0 {
		return Meta{}, fmt.Errorf("stream %s: %w", id, manager.ErrNotFound)
	}
	return decodeMeta(id, h)
}

// List describes a tenant's streams across the cluster, active and retained closed, oldest
// first. It drops from the tenant's index the streams that expired.
func (s *Store) List(ctx context.Context, tenant string) ([]Meta, error) {
	index := tenantKey(tenant)
	ids, err := s.client.Do(ctx, s.client.B().Zrange().Key(index).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		return nil, wrap("list streams", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = s.client.B().Hgetall().Key(metaKey(id)).Build()
	}
	var metas []Meta
	var gone []string
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		h, err := r.AsStrMap()
		if err != nil {
			return nil, wrap("list streams", err)
		}
		if len(h) == 0 || h["tenant"] != tenant {
			gone = append(gone, ids[i]) // expired, or expired and created again by another tenant
			continue
		}
		m, err := decodeMeta(ids[i], h)
		if err != nil {
			return nil, err
		}
		metas = append(metas, m)
	}
	if len(gone) > 0 {
		if err := s.client.Do(ctx, s.client.B().Zrem().Key(index).Member(gone...).Build()).Error(); err != nil {
			return nil, wrap("list streams", err)
		}
	}
	return metas, nil
}

// Append appends ch to an active stream's history, trimmed to the stream's bounds, and publishes
// it for live delivery, in one atomic step; it returns the chunk's ID, the stream's next one
// cluster-wide. Any replica may append (push streams); a generation's owner appends its chunks.
// ch.ID is ignored; a zero ch.Time is stamped now; an error chunk (ch.Err set) is stored as the
// manager makes one: Event "error", Data ch.Err's JSON. manager.ErrClosed refuses a closed stream.
func (s *Store) Append(ctx context.Context, id string, ch manager.Chunk) (uint64, error) {
	return s.AppendBatch(ctx, id, []manager.Chunk{ch})
}

// AppendBatch is Append for several chunks in one script call: they get consecutive IDs, and the
// ID of the last one is returned. A producer that coalesces the chunks that queued up while its
// previous call was in flight pays one round trip and one script run per batch instead of per
// chunk.
func (s *Store) AppendBatch(ctx context.Context, id string, chs []manager.Chunk) (uint64, error) {
	if len(chs) == 0 {
		return 0, fmt.Errorf("append to stream %s: no chunk", id)
	}
	args := make([]string, 1, 1+4*len(chs))
	args[0] = liveChannel(id)
	now := time.Now()
	for _, ch := range chs {
		if ch.Time.IsZero() {
			ch.Time = now
		}
		flag := "0"
		if ch.Err != nil {
			flag, ch.Event, ch.Data = "1", "error", ch.Err.JSON()
		}
		// BinaryString shares ch.Data, which every holder of a chunk treats as read-only,
		// instead of copying it.
		args = append(args, rueidis.BinaryString(ch.Data), ch.Event, flag, micros(ch.Time))
	}
	n, err := appendScript.Exec(ctx, s.client, []string{metaKey(id), histKey(id)}, args).AsInt64()
	switch {
	case err != nil:
		return 0, wrap("append to stream "+id, err)
	case n == resNotFound:
		return 0, fmt.Errorf("append to stream %s: %w", id, manager.ErrNotFound)
	case n == resClosed:
		return 0, fmt.Errorf("append to stream %s: %w", id, manager.ErrClosed)
	}
	return uint64(n), nil
}

// CloseStream closes an active stream for every replica: status completed, or status error after
// an error chunk made from se when se is not nil (manager.HandleStreamError's terminate). Counters
// go down, a close message is published and every key of the stream expires after RetainClosed.
// It reports whether this call closed the stream; closing a closed stream does nothing.
func (s *Store) CloseStream(ctx context.Context, id, reason string, se *manager.StreamError) (bool, error) {
	errJSON := ""
	if se != nil {
		errJSON = string(se.Normalized().JSON())
	}
	for {
		owner, err := s.client.Do(ctx, s.client.B().Hmget().Key(metaKey(id)).Field("owner", "epoch").Build()).AsStrSlice()
		if err != nil && !rueidis.IsRedisNil(err) {
			return false, wrap("close stream "+id, err)
		}
		if len(owner) != 2 || owner[0] == "" {
			return false, fmt.Errorf("close stream %s: %w", id, manager.ErrNotFound)
		}
		n, err := closeScript.Exec(ctx, s.client,
			[]string{metaKey(id), histKey(id), activeKey, ownedKey(owner[0], owner[1])},
			[]string{liveChannel(id), id, owner[0], owner[1], reason, errJSON, micros(time.Now()), ms(s.cfg.RetainClosed)}).AsInt64()
		switch {
		case err != nil:
			return false, wrap("close stream "+id, err)
		case n == resNotFound:
			return false, fmt.Errorf("close stream %s: %w", id, manager.ErrNotFound)
		case n == resNotOwner:
			continue // the stream expired and was created again in between: close the new one
		}
		return n == 1, nil
	}
}

// decodeMeta reads a stream's meta hash.
func decodeMeta(id string, h map[string]string) (Meta, error) {
	m := Meta{
		StreamInfo: manager.StreamInfo{ID: id, Status: manager.Status(h["status"]), CloseReason: h["reason"]},
		Tenant:     h["tenant"], Owner: h["owner"], Epoch: h["epoch"], Instance: h["inst"],
	}
	bad := func(field string, err error) (Meta, error) {
		return Meta{}, fmt.Errorf("cluster: stream %s: meta field %s: %w", id, field, err)
	}
	var err error
	if m.CreatedAt, err = parseMicros(h["created"]); err != nil {
		return bad("created", err)
	}
	if h["closed"] != "" {
		if m.ClosedAt, err = parseMicros(h["closed"]); err != nil {
			return bad("closed", err)
		}
	}
	if m.LastChunkID, err = strconv.ParseUint(h["last"], 10, 64); err != nil {
		return bad("last", err)
	}
	if m.FirstChunkID, err = strconv.ParseUint(h["first"], 10, 64); err != nil {
		return bad("first", err)
	}
	if m.HistoryBytes, err = strconv.ParseInt(h["bytes"], 10, 64); err != nil {
		return bad("bytes", err)
	}
	if err := json.Unmarshal([]byte(h["labels"]), &m.Labels); err != nil {
		return bad("labels", err)
	}
	if m.Err, err = decodeError(h["err"]); err != nil {
		return bad("err", err)
	}
	return m, nil
}

func parseMicros(s string) (time.Time, error) {
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(us), nil
}

// decodeError reads Gemini's error body back into a StreamError; "" is no error.
func decodeError(body string) (*manager.StreamError, error) {
	if body == "" {
		return nil, nil
	}
	var e struct {
		Error *manager.StreamError `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return nil, err
	}
	if e.Error == nil {
		return nil, fmt.Errorf("no error object in %q", body)
	}
	return e.Error, nil
}

// Subscribe registers fn for the live messages of one stream: its chunks as they are appended,
// its close, and a MessageResync after the live connection was lost and came back. It returns
// once Redis confirmed the subscription, so every chunk appended afterwards reaches fn. All of a
// Store's subscriptions share one connection and one SSUBSCRIBE per stream.
//
// fn is called for one message at a time, in publish order, on the connection's goroutines; it
// must not block and must not call Subscribe. del removes the registration; it never blocks and
// may be called from fn.
func (s *Store) Subscribe(ctx context.Context, id string, fn func(Message)) (del func(), err error) {
	resync := func() { fn(Message{Kind: MessageResync}) }
	del, err = s.sub.subscribe(ctx, liveChannel(id), func(payload string) {
		m, err := decodeMessage(payload)
		if err != nil {
			s.log.Error("undecodable live message; resyncing from the history", "stream_id", id, "error", err)
			resync()
			return
		}
		fn(m)
	}, resync)
	if err != nil {
		return nil, fmt.Errorf("subscribe to stream %s: %w", id, err)
	}
	return del, nil
}
