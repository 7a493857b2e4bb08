package gateway

import (
	"context"
	"net/http"

	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/upstream"
)

// Generator runs generations upstream; *upstream.Runner implements it.
type Generator interface {
	// Run feeds the manager stream streamID until it ends and leaves it closed: with reason
	// "completed" on success, otherwise with an error chunk. It returns an error only when it could
	// not start, and then leaves the stream untouched. It cancels the upstream request soon after
	// anyone else closes the stream.
	Run(ctx context.Context, streamID string, req upstream.Request) error
	// Generate performs a non-streaming generateContent call and returns the upstream's response
	// for passthrough; the caller closes its body.
	Generate(ctx context.Context, req upstream.Request) (*http.Response, error)
}

var _ Generator = (*upstream.Runner)(nil)

// Attacher subscribes whatever must follow a new stream from its first chunk (transport plugins)
// to it. It is called after the stream is created and before its generation starts.
type Attacher interface {
	Attach(ctx context.Context, streamID string, labels map[string]string) error
}

var _ Attacher = (*plugins.Host)(nil)
