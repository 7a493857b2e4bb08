package cluster

import (
	"context"
	"fmt"
	"strings"
)

// ControlKind names a control request.
type ControlKind string

// Control kinds.
const (
	// ControlStop tells a stream's owner that another replica closed the stream in Redis, so that
	// it ends its local copy at once (and with it the upstream call that feeds it) rather than
	// when the close reaches it through the stream's own live channel.
	ControlStop ControlKind = "stop"
)

// Control is one request on a node's control channel, sg:{node:<id>}:ctl. Delivery is at most
// once: a request published while the owner's live connection is down is lost, so every request
// must also be implied by the stream's own state in Redis (a stop by the stream's close, which the
// owner's follower of the stream reads on its resync).
type Control struct {
	Kind     ControlKind
	StreamID string
}

// encode writes "<kind> <stream id>": stream IDs hold no spaces.
func (c Control) encode() string { return string(c.Kind) + " " + c.StreamID }

func decodeControl(payload string) (Control, error) {
	kind, id, ok := strings.Cut(payload, " ")
	if !ok || ControlKind(kind) != ControlStop || id == "" {
		return Control{}, fmt.Errorf("control message %q is not a stop", payload)
	}
	return Control{Kind: ControlKind(kind), StreamID: id}, nil
}

// SendControl publishes c on node's control channel.
func (s *Store) SendControl(ctx context.Context, node string, c Control) error {
	err := s.client.Do(ctx, s.client.B().Spublish().Channel(controlChannel(node)).Message(c.encode()).Build()).Error()
	return wrap("send "+string(c.Kind)+" to node "+node, err)
}

// SubscribeControl registers fn for the requests on this node's control channel; it returns once
// Redis confirmed the subscription. fn runs on the live connection's goroutines, one call at a
// time, and must not block. del removes the registration.
func (s *Store) SubscribeControl(ctx context.Context, fn func(Control)) (del func(), err error) {
	del, err = s.sub.subscribe(ctx, controlChannel(s.cfg.NodeID), func(payload string) {
		c, err := decodeControl(payload)
		if err != nil {
			s.log.Error("undecodable control message; ignored", "error", err)
			return
		}
		fn(c)
	}, func() {})
	if err != nil {
		return nil, fmt.Errorf("subscribe to the control channel of node %s: %w", s.cfg.NodeID, err)
	}
	return del, nil
}
