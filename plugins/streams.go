package plugins

import (
	"context"

	"github.com/streamgate/streamgate/manager"
)

// Streams is the part of the stream manager the host uses; *manager.Manager implements it.
type Streams interface {
	RegisterClientFrom(ctx context.Context, streamID string, c manager.Client, afterID uint64) error
	DeregisterClient(ctx context.Context, streamID, clientID string) error
	Info(ctx context.Context, streamID string) (manager.StreamInfo, error)
}

var _ Streams = (*manager.Manager)(nil)
