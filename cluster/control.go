package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// ControlKind names a control message.
type ControlKind string

// Control kinds.
const (
	// ControlStop tells a stream's owner that another replica closed the stream in Redis, so that
	// it ends its local copy at once (and with it the upstream call that feeds it) rather than
	// when the close reaches it through the stream's own live channel.
	ControlStop ControlKind = "stop"
	// ControlSubscribe asks a stream's owner to subscribe one of its transport plugins to the
	// stream (Node.Subscribe); ControlUnsubscribe to end such a subscription;
	// ControlSubscriptions to list them. Each is answered with a ControlReply on the asker's
	// channel.
	ControlSubscribe     ControlKind = "subscribe"
	ControlUnsubscribe   ControlKind = "unsubscribe"
	ControlSubscriptions ControlKind = "subscriptions"
	// ControlReply answers a request, named by its Request ID.
	ControlReply ControlKind = "reply"
)

// Control is one message on a node's control channel, sg:{node:<id>}:ctl. Delivery is at most
// once: a message published while the receiver's live connection is down is lost, so a stop must
// also be implied by the stream's own state in Redis (its close, which the owner's follower of
// the stream reads on its resync), and an asker bounds its wait for a reply
// (NodeConfig.ControlTimeout).
type Control struct {
	Kind ControlKind
	// StreamID is the stream a stop is for.
	StreamID string
	// From is the node a request comes from, which the reply goes to.
	From string
	// Request names a request and its reply.
	Request string
	// Body is a request's arguments or a reply's answer, JSON.
	Body json.RawMessage
}

// encode writes "stop <stream id>", "<kind> <from> <request> <body>" for a request and
// "reply <request> <body>": node, stream and request IDs hold no spaces.
func (c Control) encode() string {
	switch c.Kind {
	case ControlStop:
		return string(c.Kind) + " " + c.StreamID
	case ControlReply:
		return string(c.Kind) + " " + c.Request + " " + string(c.Body)
	default:
		return string(c.Kind) + " " + c.From + " " + c.Request + " " + string(c.Body)
	}
}

func decodeControl(payload string) (Control, error) {
	kind, rest, _ := strings.Cut(payload, " ")
	c := Control{Kind: ControlKind(kind)}
	var ok bool
	switch c.Kind {
	case ControlStop:
		c.StreamID, ok = rest, rest != "" && !strings.Contains(rest, " ")
	case ControlReply:
		var body string
		c.Request, body, ok = strings.Cut(rest, " ")
		c.Body = json.RawMessage(body)
	case ControlSubscribe, ControlUnsubscribe, ControlSubscriptions:
		var body string
		c.From, rest, ok = strings.Cut(rest, " ")
		if ok {
			c.Request, body, ok = strings.Cut(rest, " ")
			c.Body = json.RawMessage(body)
		}
	}
	if !ok || (c.Kind != ControlStop && (c.Request == "" || !json.Valid(c.Body))) {
		return Control{}, fmt.Errorf("control message %q is not one this node reads", payload)
	}
	return c, nil
}

// SendControl publishes c on node's control channel.
func (s *Store) SendControl(ctx context.Context, node string, c Control) error {
	_, err := s.publishControl(ctx, node, c)
	return err
}

// publishControl publishes c on node's control channel and returns how many connections
// received it: 0 when node is not listening (gone, or its live connection is down).
func (s *Store) publishControl(ctx context.Context, node string, c Control) (int64, error) {
	n, err := s.client.Do(ctx, s.client.B().Spublish().Channel(controlChannel(node)).Message(c.encode()).Build()).AsInt64()
	return n, wrap("send "+string(c.Kind)+" to node "+node, err)
}

// SubscribeControl registers fn for the messages on this node's control channel; it returns once
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
