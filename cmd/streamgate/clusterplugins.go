package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/streamgate/streamgate/cluster"
	"github.com/streamgate/streamgate/gateway"
	"github.com/streamgate/streamgate/plugins"
)

var (
	_ gateway.Plugins    = clusterPlugins{}
	_ cluster.Transports = hostTransports{}
)

// clusterPlugins is gateway.Plugins in cluster mode. Transports attached by configuration run on
// the replica that creates the stream, its owner (Attach, the local host's); a subscription asked
// through this replica, its listing and its end go through the Node to the stream's owner, whose
// host runs it (docs/cluster.md, item 10).
type clusterPlugins struct {
	gatewayPlugins
	node *cluster.Node
	log  *slog.Logger
}

func (p clusterPlugins) Subscribe(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error) {
	return p.node.Subscribe(ctx, streamID, transport, config)
}

func (p clusterPlugins) Unsubscribe(ctx context.Context, streamID, subID string) error {
	return p.node.Unsubscribe(ctx, streamID, subID)
}

// listWait bounds how long a stream's info waits for its owner's list of subscriptions: an owner
// that does not answer leaves them out rather than holding the info for the Node's whole
// ControlTimeout.
const listWait = 2 * time.Second

// Subscriptions lists the owner's subscriptions of the stream and this replica's. The wait for
// the owner ends with the request, and after listWait at most: a stream's info is not held up by
// an owner that does not answer.
func (p clusterPlugins) Subscriptions(ctx context.Context, streamID, instance string) []gateway.Subscription {
	ctx, cancel := context.WithTimeout(ctx, listWait)
	defer cancel()
	subs, err := p.node.Subscriptions(ctx, streamID, instance)
	if err != nil {
		p.log.Warn("the stream owner's subscriptions are left out of its info", "stream_id", streamID, "error", err)
	}
	out := make([]gateway.Subscription, 0, len(subs))
	for _, s := range subs {
		out = append(out, gateway.Subscription(s))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hostTransports is the plugin host as the Node serves the subscriptions of the streams this
// replica owns.
type hostTransports struct{ *plugins.Host }

func (h hostTransports) Subscriptions(streamID, instance string) []cluster.Subscription {
	var out []cluster.Subscription
	for _, info := range h.StreamSubscriptions(streamID, instance) {
		out = append(out, cluster.Subscription(info))
	}
	return out
}
