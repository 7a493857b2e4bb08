package gateway

import (
	"context"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// Streams is the stream layer the gateway serves: the in-process manager, or cluster mode's
// replica view (cluster.Node), which answers the same questions for streams owned by any replica.
// Every method but List has the manager's name, signature and meaning; List takes the tenant
// because that is the one question whose cheap answer differs (the manager filters its map, the
// cluster reads the tenant's index). Errors are the manager's sentinels, plus what the optional
// unavailable interface marks.
type Streams interface {
	CreateStreamWith(ctx context.Context, opts manager.StreamOptions) (string, error)
	Info(ctx context.Context, id string) (manager.StreamInfo, error)
	// List describes the tenant's streams, active and retained closed, oldest first.
	List(ctx context.Context, tenant string) ([]manager.StreamInfo, error)
	Push(ctx context.Context, id string, ch manager.Chunk) (uint64, error)
	PushChunk(ctx context.Context, id string, ch manager.Chunk) error
	CloseStream(ctx context.Context, id, reason string) error
	HandleStreamError(ctx context.Context, id string, err error, terminate bool) error
	RegisterClientFrom(ctx context.Context, id string, c manager.Client, afterID uint64) error
	DeregisterClient(ctx context.Context, id, clientID string) error
	Done(ctx context.Context, id string) (<-chan struct{}, error)
}

// The optional sides of a Streams, found by type assertion (Caddy's habit): the manager has none
// of them, cluster.Node has all.
type (
	// readier is asked by /readyz: an error answers 503.
	readier interface {
		Ready(ctx context.Context) error
	}
	// closer is a stream layer the server's shutdown closes before the manager: cluster mode
	// ends the streams this replica owns for every replica, and lets go of the others.
	closer interface {
		Close(ctx context.Context) error
	}
	// owner tells the streams this replica owns (created, and runs the upstream call of) from
	// those it only mirrors.
	owner interface {
		Owns(id string) bool
	}
	// watchedAnywhere tells whether any replica has a non-passive client of a stream (cluster
	// mode): a Gemini-route stream is orphaned when nobody anywhere watches it, wherever its last
	// subscriber left.
	watchedAnywhere interface {
		Watched(ctx context.Context, id string) (bool, error)
	}
)

// managerStreams is the default Streams: the manager itself, with List by tenant.
type managerStreams struct{ *manager.Manager }

var _ Streams = managerStreams{}

func (m managerStreams) List(ctx context.Context, tenant string) ([]manager.StreamInfo, error) {
	infos, err := m.Manager.List(ctx)
	if err != nil {
		return nil, err
	}
	out := infos[:0]
	for _, info := range infos {
		if visibleTo(info, tenant) {
			out = append(out, info)
		}
	}
	return out, nil
}

// RateLimiter takes one request from a client key's budget of perSecond sustained and burst at
// once: it answers 0 when the request may go, or how long until one may. The default is an
// in-process token bucket per key; cluster mode shares each key's budget across the replicas
// (cmd adapts cluster.Store.Allow, a GCRA limiter in Redis).
type RateLimiter interface {
	Allow(ctx context.Context, keyID string, perSecond float64, burst int) (time.Duration, error)
}
