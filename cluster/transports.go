package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/streamgate/streamgate/manager"
)

// DefaultControlTimeout bounds how long a replica waits for a stream's owner to answer a request
// about its transport subscriptions: longer than the plugin host's own bound on opening a
// subscription (10 s by default), so that the owner's answer, not the wait, says what went wrong.
const DefaultControlTimeout = 15 * time.Second

// maxServing bounds the control requests a Node serves at once; more are dropped (their askers
// time out), so that a flood of requests cannot pile up goroutines.
const maxServing = 64

// Transports is this replica's plugin host as the Node uses it: the subscriptions of transport
// plugins to streams. cmd adapts *plugins.Host. Its errors reach an asking replica as its client
// is to be told: a *manager.StreamError in the chain keeps its code, status and message, and the
// manager's sentinels (and ErrUnavailable) stay matchable with errors.Is.
type Transports interface {
	// Subscribe delivers the stream, from its first chunk, to the named transport plugin with the
	// subscription's config, and returns the subscription's ID.
	Subscribe(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error)
	// Unsubscribe ends a subscription.
	Unsubscribe(ctx context.Context, streamID, subID string) error
	// Subscriptions lists the subscriptions of one instance of a stream: the live ones, then
	// those that ended with an error.
	Subscriptions(streamID, instance string) []Subscription
}

// Subscription is a transport plugin's subscription to a stream, as a stream's info lists it.
type Subscription struct {
	ID        string `json:"id"`
	Transport string `json:"transport"`
	// Attached is true for a subscription a plugin's attach rule made, false for one asked for.
	Attached bool `json:"attached,omitempty"`
	// Failed is true once the subscription ended with an error: Reason and Err say which.
	Failed bool                 `json:"failed,omitempty"`
	Reason string               `json:"reason,omitempty"`
	Err    *manager.StreamError `json:"error,omitempty"`
}

// ServeTransports makes t the plugin host that serves, on this replica, the subscriptions to the
// streams it owns, whichever replica they were asked through, and to closed streams asked for
// here. undo removes it; without one, every transport is unknown (404), as without plugins.
func (n *Node) ServeTransports(t Transports) (undo func()) {
	n.mu.Lock()
	n.transports = t
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		n.transports = nil
		n.mu.Unlock()
	}
}

func (n *Node) localTransports() Transports {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.transports == nil {
		return noTransports{}
	}
	return n.transports
}

// Subscribe subscribes a transport plugin to a stream owned by any replica and returns the
// subscription's ID. The subscription of an active stream runs on its owner, which this replica
// asks over the owner's control channel (docs/cluster.md, item 10): the owner sees every chunk
// first, in the stream's one order, and holds the generation a transport's errors may end. A
// closed stream's subscription runs here: every chunk it will ever have is in Redis, and its
// owner may be gone. Errors: the Store's, the plugin host's as the owner answered them, 503
// UNAVAILABLE when the owner is gone or does not answer within NodeConfig.ControlTimeout.
func (n *Node) Subscribe(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error) {
	meta, err := n.store.Info(ctx, streamID)
	if err != nil {
		return "", err
	}
	if meta.Owner == n.store.NodeID() || meta.Status != manager.StatusActive {
		return n.localTransports().Subscribe(ctx, streamID, transport, config)
	}
	var id string
	err = n.ask(ctx, meta, ControlSubscribe, subscribeArgs{Stream: streamID, Transport: transport, Config: string(config)}, &id)
	return id, err
}

// Unsubscribe ends a subscription made through any replica: here when this replica runs it, else
// on the stream's owner. A subscription whose owner is gone ended with it (404).
func (n *Node) Unsubscribe(ctx context.Context, streamID, subID string) error {
	meta, err := n.store.Info(ctx, streamID)
	if err != nil {
		return err
	}
	local := n.localTransports()
	runsHere := slices.ContainsFunc(local.Subscriptions(streamID, meta.Instance), func(s Subscription) bool {
		return s.ID == subID && !s.Failed
	})
	if meta.Owner == n.store.NodeID() || runsHere {
		return local.Unsubscribe(ctx, streamID, subID)
	}
	err = n.ask(ctx, meta, ControlUnsubscribe, unsubscribeArgs{Stream: streamID, Subscription: subID}, nil)
	if errors.Is(err, errOwnerGone) {
		return local.Unsubscribe(ctx, streamID, subID)
	}
	return err
}

// Subscriptions lists the subscriptions of one instance of a stream: its owner's (asked over the
// control channel), then this replica's. An owner that is gone has none left; one that does not
// answer leaves the list to this replica's, with the error.
func (n *Node) Subscriptions(ctx context.Context, streamID, instance string) ([]Subscription, error) {
	local := n.localTransports().Subscriptions(streamID, instance)
	meta, err := n.store.Info(ctx, streamID)
	if err != nil || meta.Owner == n.store.NodeID() || meta.Instance != instance {
		return local, err
	}
	var remote []Subscription
	err = n.ask(ctx, meta, ControlSubscriptions, subscriptionsArgs{Stream: streamID, Instance: instance}, &remote)
	if errors.Is(err, errOwnerGone) {
		return local, nil
	}
	return append(remote, local...), err
}

// The arguments of the requests, JSON on the control channel.
type (
	subscribeArgs struct {
		Stream    string `json:"stream"`
		Transport string `json:"transport"`
		// Config is a string, so that the owner's plugin gets the bytes the client sent.
		Config string `json:"config,omitempty"`
	}
	unsubscribeArgs struct {
		Stream       string `json:"stream"`
		Subscription string `json:"subscription"`
	}
	subscriptionsArgs struct {
		Stream   string `json:"stream"`
		Instance string `json:"instance"`
	}
)

// errOwnerGone is matched by the error of a request to an owner whose lease lapsed or who is not
// listening: its streams end (or ended) with it, and so did its subscriptions.
var errOwnerGone = errors.New("the stream's owner is gone")

// ask sends a request to the stream's owner and waits for its answer, which it decodes into out.
func (n *Node) ask(ctx context.Context, meta Meta, kind ControlKind, args, out any) error {
	owner := meta.Owner
	held, err := n.store.leaseHeld(ctx, owner, meta.Epoch)
	if err != nil {
		return err
	}
	if !held {
		return ownerGone(owner)
	}
	body, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", kind, err)
	}
	req := uuid.NewString()
	replies := make(chan json.RawMessage, 1)
	n.reqMu.Lock()
	n.pending[req] = replies
	n.reqMu.Unlock()
	defer func() {
		n.reqMu.Lock()
		delete(n.pending, req)
		n.reqMu.Unlock()
	}()
	heard, err := n.store.publishControl(ctx, owner, Control{Kind: kind, From: n.store.NodeID(), Request: req, Body: body})
	if err != nil {
		return err
	}
	if heard == 0 {
		return ownerGone(owner)
	}
	timer := time.NewTimer(n.cfg.ControlTimeout)
	defer timer.Stop()
	select {
	case r := <-replies:
		return decodeReply(r, out)
	case <-timer.C:
		return &manager.StreamError{Code: 503, Status: "UNAVAILABLE", RetryAfter: RetryAfter,
			Message: fmt.Sprintf("replica %s, the stream's owner, did not answer within %s", owner, n.cfg.ControlTimeout)}
	case <-ctx.Done():
		return fmt.Errorf("%s request to replica %s: %w", kind, owner, ctx.Err())
	case <-n.stop:
		return errNodeClosed()
	}
}

// ownerGone is the answer for a request to an owner that is gone.
func ownerGone(owner string) error {
	return &requestError{
		msg:  "replica " + owner + ", the stream's owner, is gone",
		errs: []error{&manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: "replica " + owner + ", the stream's owner, is gone"}, errOwnerGone},
	}
}

// onReply hands a reply to the request waiting for it; a late one is dropped. It runs on the
// live connection's reader goroutine and never blocks.
func (n *Node) onReply(c Control) {
	n.reqMu.Lock()
	replies := n.pending[c.Request]
	n.reqMu.Unlock()
	if replies == nil {
		n.log.Debug("reply to no waiting request; dropped", "request", c.Request)
		return
	}
	select {
	case replies <- c.Body:
	default:
	}
}

// startServing serves one request in its own goroutine, unless maxServing are being served. It
// runs on controlLoop, a goroutine of the Node's WaitGroup, so the Add never races its Wait.
func (n *Node) startServing(c Control) {
	select {
	case n.serving <- struct{}{}:
	default:
		n.log.Warn("too many control requests at once; dropped (the asker times out)", "request", c.Request, "from", c.From)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.serving }()
		n.serve(c)
	}()
}

// serve answers one request with this replica's plugin host, on the asker's control channel.
func (n *Node) serve(c Control) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ControlTimeout)
	defer cancel()
	// A closing Node stops waiting for its plugin host; this goroutine ends with ctx.
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	result, err := n.answer(ctx, c)
	body := encodeReply(result, err)
	if err := n.store.SendControl(ctx, c.From, Control{Kind: ControlReply, Request: c.Request, Body: body}); err != nil {
		n.log.Warn("reply to a control request not sent", "request", c.Request, "to", c.From, "error", err)
	}
}

func (n *Node) answer(ctx context.Context, c Control) (any, error) {
	t := n.localTransports()
	switch c.Kind {
	case ControlSubscribe:
		var a subscribeArgs
		if err := json.Unmarshal(c.Body, &a); err != nil {
			return nil, fmt.Errorf("decode subscribe request: %w", err)
		}
		n.log.Debug("subscription asked by another replica", "stream_id", a.Stream, "plugin", a.Transport, "from", c.From)
		var config json.RawMessage
		if a.Config != "" {
			config = json.RawMessage(a.Config)
		}
		return t.Subscribe(ctx, a.Stream, a.Transport, config)
	case ControlUnsubscribe:
		var a unsubscribeArgs
		if err := json.Unmarshal(c.Body, &a); err != nil {
			return nil, fmt.Errorf("decode unsubscribe request: %w", err)
		}
		return nil, t.Unsubscribe(ctx, a.Stream, a.Subscription)
	default: // ControlSubscriptions: decodeControl lets no other kind through
		var a subscriptionsArgs
		if err := json.Unmarshal(c.Body, &a); err != nil {
			return nil, fmt.Errorf("decode subscriptions request: %w", err)
		}
		return t.Subscriptions(a.Stream, a.Instance), nil
	}
}

// reply is a request's answer on the control channel: a result or an error.
type reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Err    *replyError     `json:"error,omitempty"`
}

// replyError carries an error across replicas: its text, what the client is told when the chain
// holds a *manager.StreamError, and which sentinel it matched.
type replyError struct {
	Message      string               `json:"message"`
	Answer       *manager.StreamError `json:"answer,omitempty"`
	RetryAfterMS int64                `json:"retry_after_ms,omitempty"`
	Sentinel     string               `json:"sentinel,omitempty"`
}

// sentinels are the errors whose identity crosses replicas, by name: those the gateway maps to a
// status.
var sentinels = []struct {
	name string
	err  error
}{
	{"not_found", manager.ErrNotFound},
	{"exists", manager.ErrExists},
	{"invalid_id", manager.ErrInvalidID},
	{"invalid_after_id", manager.ErrInvalidAfterID},
	{"closed", manager.ErrClosed},
	{"history_trimmed", manager.ErrHistoryTrimmed},
	{"too_many_streams", manager.ErrTooManyStreams},
	{"too_many_clients", manager.ErrTooManyClients},
	{"budget_exhausted", manager.ErrBudgetExhausted},
	{"shutdown", manager.ErrShutdown},
	{"unavailable", ErrUnavailable},
}

func encodeReply(result any, err error) json.RawMessage {
	var r reply
	if err != nil {
		re := &replyError{Message: err.Error()}
		var se *manager.StreamError
		if errors.As(err, &se) {
			re.Answer, re.RetryAfterMS = se, se.RetryAfter.Milliseconds()
		}
		for _, s := range sentinels {
			if errors.Is(err, s.err) {
				re.Sentinel = s.name
				break
			}
		}
		r.Err = re
	} else if b, merr := json.Marshal(result); merr == nil {
		r.Result = b
	}
	// Marshal cannot fail: strings, numbers and raw JSON.
	b, _ := json.Marshal(r)
	return b
}

func decodeReply(body json.RawMessage, out any) error {
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("undecodable reply %q: %w", body, err)
	}
	if r.Err != nil {
		e := &requestError{msg: r.Err.Message}
		if se := r.Err.Answer; se != nil {
			se.RetryAfter = time.Duration(r.Err.RetryAfterMS) * time.Millisecond
			e.errs = append(e.errs, se)
		}
		for _, s := range sentinels {
			if s.name == r.Err.Sentinel {
				e.errs = append(e.errs, s.err)
			}
		}
		return e
	}
	if out == nil || r.Result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("undecodable result %q: %w", r.Result, err)
	}
	return nil
}

// requestError is an error another replica answered, or the answer for an owner that is gone:
// its text, and the errors it matches (what the client is told, a sentinel).
type requestError struct {
	msg  string
	errs []error
}

func (e *requestError) Error() string   { return e.msg }
func (e *requestError) Unwrap() []error { return e.errs }

// noTransports answers for a replica without plugins, as the gateway does without them.
type noTransports struct{}

func (noTransports) Subscribe(_ context.Context, _, transport string, _ json.RawMessage) (string, error) {
	return "", &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "no transport plugin named " + strconv.Quote(transport)}
}

func (noTransports) Unsubscribe(_ context.Context, streamID, subID string) error {
	return &manager.StreamError{Code: 404, Status: "NOT_FOUND",
		Message: "subscription " + strconv.Quote(subID) + " of stream " + strconv.Quote(streamID) + " not found"}
}

func (noTransports) Subscriptions(string, string) []Subscription { return nil }
