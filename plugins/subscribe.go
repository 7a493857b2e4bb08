package plugins

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// Attach subscribes every transport plugin whose attach rule matches labels (the stream's
// manager.LabelModel and manager.LabelTenant) to the stream, with no subscription config. These
// subscriptions are passive manager clients: they follow the stream without keeping it wanted (see
// manager.Passive). nil labels are read from the stream. Call it right after creating the stream,
// so the transports get every chunk. The errors of the transports that could not join are joined.
func (h *Host) Attach(ctx context.Context, streamID string, labels map[string]string) error {
	if err := h.usable(); err != nil {
		return err
	}
	info, err := h.cfg.Streams.Info(ctx, streamID)
	if err != nil {
		return fmt.Errorf("attach plugins to stream %s: %w", streamID, err)
	}
	if labels != nil {
		info.Labels = labels
	}
	var errs []error
	for _, s := range h.sups {
		if !s.is(sdk.KindTransport) || !s.cfg.Attach.Matches(info.Labels) {
			continue
		}
		if _, err := h.subscribe(ctx, s, info, nil, attached); err != nil {
			errs = append(errs, fmt.Errorf("attach plugin %s to stream %s: %w", s.cfg.Name, streamID, err))
		}
	}
	return errors.Join(errs...)
}

// Subscribe delivers the stream, from its first chunk, to the named transport plugin with the
// subscription's own config (JSON; nil for none), and returns the subscription's ID. The stream's
// labels reach the plugin as metadata.
//
// Errors: ErrUnknownTransport (no transport plugin of that name), *ConfigError matching
// ErrBadConfig (the plugin refused the config), ErrUnavailable (the plugin is down or did not
// answer within Config.CallTimeout or ctx), ErrClosed (the host is closed or not started), and the
// manager's ErrNotFound, ErrHistoryTrimmed (the first chunks are gone), ErrTooManyClients or
// ErrShutdown, wrapped. The host's own errors carry what a client is told (see answer).
func (h *Host) Subscribe(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error) {
	id, err := h.subscribeTo(ctx, streamID, transport, config)
	if err != nil {
		return "", answer(err, transport)
	}
	return id, nil
}

// answer gives an error of the host the *manager.StreamError a client is answered with: 404
// NOT_FOUND for an unknown transport, 400 INVALID_ARGUMENT for a refused config, 503 UNAVAILABLE
// with a Retry-After of a second while the plugin or the host is down. The manager's errors are
// left as they are: they speak for themselves.
func answer(err error, transport string) error {
	var se *manager.StreamError
	switch {
	case errors.Is(err, ErrUnknownTransport):
		se = &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "no transport plugin named " + strconv.Quote(transport)}
	case errors.Is(err, ErrBadConfig):
		se = &manager.StreamError{Code: 400, Status: "INVALID_ARGUMENT", Message: err.Error()}
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
		se = &manager.StreamError{Code: 503, Status: "UNAVAILABLE", Message: err.Error(), RetryAfter: time.Second}
	default:
		return err
	}
	return &answerError{se: se, err: err}
}

func (h *Host) subscribeTo(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error) {
	if err := h.usable(); err != nil {
		return "", err
	}
	s, ok := h.byName[transport]
	if !ok || !s.is(sdk.KindTransport) {
		return "", fmt.Errorf("subscribe to stream %s: %w %q", streamID, ErrUnknownTransport, transport)
	}
	if len(config) > 0 && !json.Valid(config) {
		return "", &ConfigError{Plugin: transport, Subscription: true, Diagnostics: sdk.Invalid("", "config is not valid JSON")}
	}
	info, err := h.cfg.Streams.Info(ctx, streamID)
	if err != nil {
		return "", fmt.Errorf("subscribe to stream %s: %w", streamID, err)
	}
	return h.subscribe(ctx, s, info, config, subscribed)
}

// How a subscription came to be: attached ones follow the stream by the plugin's attach rule and
// are passive clients (they do not keep a stream wanted); subscribed ones were asked for.
const (
	subscribed = false
	attached   = true
)

func (h *Host) subscribe(ctx context.Context, s *supervisor, stream manager.StreamInfo, config json.RawMessage, passive bool) (string, error) {
	sub := h.newSubscription(s, stream, config, passive)
	openCtx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	sess, err := sub.open(openCtx, 0)
	if err != nil {
		return "", err
	}
	a, err := sub.register(ctx, sess, 0)
	if err != nil {
		sess.abort()
		return "", fmt.Errorf("subscribe to stream %s: %w", stream.ID, err)
	}
	if err := h.addSubscription(sub, a); err != nil {
		sub.deregister(a)
		sess.abort()
		return "", err
	}
	return sub.id, nil
}

// addSubscription records sub and starts its goroutine, unless the host closed meanwhile.
func (h *Host) addSubscription(sub *subscription, a *attachment) error {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	if err := h.usable(); err != nil {
		return err
	}
	if h.subs[sub.streamID] == nil {
		h.subs[sub.streamID] = make(map[string]*subscription)
	}
	h.subs[sub.streamID][sub.id] = sub
	ctx, cancel := context.WithCancel(context.Background())
	sub.cancel = cancel
	h.subsWG.Add(1)
	go func() {
		defer h.subsWG.Done()
		defer cancel()
		sub.run(ctx, a)
	}()
	return nil
}

// removeSubscription forgets an ended subscription, and keeps it among the failed ones when it
// ended with an error.
func (h *Host) removeSubscription(sub *subscription) {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	delete(h.subs[sub.streamID], sub.id)
	if len(h.subs[sub.streamID]) == 0 {
		delete(h.subs, sub.streamID)
	}
	if sub.failure == nil {
		return
	}
	info := sub.info()
	info.Failed, info.Reason, info.Err = true, sub.failReason, sub.failure
	h.failed = append(h.failed, failedSubscription{streamID: sub.streamID, instance: sub.instance, info: info})
	if len(h.failed) > maxFailed {
		h.failed = slices.Delete(h.failed, 0, len(h.failed)-maxFailed)
	}
}

// Unsubscribe ends a subscription: the plugin is told "unsubscribed" and stops receiving the
// stream. It returns ErrNotFound for an unknown stream or subscription ID (also one that already
// ended with its stream), carrying a 404 NOT_FOUND *manager.StreamError for the client, and ctx's
// error if the plugin takes longer than ctx to let go.
func (h *Host) Unsubscribe(ctx context.Context, streamID, subID string) error {
	h.subsMu.Lock()
	sub := h.subs[streamID][subID]
	h.subsMu.Unlock()
	if sub == nil {
		return &answerError{
			se:  &manager.StreamError{Code: 404, Status: "NOT_FOUND", Message: "subscription " + strconv.Quote(subID) + " of stream " + strconv.Quote(streamID) + " not found"},
			err: fmt.Errorf("unsubscribe %s from stream %s: %w", subID, streamID, ErrNotFound),
		}
	}
	sub.stop(ReasonUnsubscribed)
	select {
	case <-sub.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("unsubscribe %s from stream %s: %w", subID, streamID, ctx.Err())
	}
}

// Subscriptions returns the IDs of the live subscriptions of a stream, by transport plugin name.
func (h *Host) Subscriptions(streamID string) map[string][]string {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	out := make(map[string][]string)
	for id, s := range h.subs[streamID] {
		out[s.sup.cfg.Name] = append(out[s.sup.cfg.Name], id)
	}
	return out
}

// maxFailed bounds the failed subscriptions the host remembers, of all streams together.
const maxFailed = 1024

// SubscriptionInfo describes one subscription of a transport plugin to a stream.
type SubscriptionInfo struct {
	ID        string
	Transport string // the plugin's name
	// Attached is true for a subscription the plugin's attach rule made, false for one asked for.
	Attached bool
	// Failed is true once the subscription ended with an error: Reason says why (as the plugin
	// was told), and Err is the error, such as 413 for a chunk too large for the plugin transport.
	Failed bool
	Reason string
	Err    *manager.StreamError
}

// failedSubscription is a subscription that ended with an error, kept for StreamSubscriptions.
type failedSubscription struct {
	streamID, instance string
	info               SubscriptionInfo
}

func (s *subscription) info() SubscriptionInfo {
	return SubscriptionInfo{ID: s.id, Transport: s.sup.cfg.Name, Attached: s.passive}
}

// StreamSubscriptions describes the subscriptions of one stream, named by its ID and instance
// (manager.StreamInfo): the live ones, by transport and ID, then those that ended with an error,
// in the order they ended, so that a stream's info can show why a transport stopped following it.
// The host remembers the last 1024 failed subscriptions of all streams. A subscription that ended
// without an error (with its stream, or unsubscribed) is not listed.
func (h *Host) StreamSubscriptions(streamID, instance string) []SubscriptionInfo {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	var out []SubscriptionInfo
	for _, s := range h.subs[streamID] {
		if s.instance == instance {
			out = append(out, s.info())
		}
	}
	slices.SortFunc(out, func(a, b SubscriptionInfo) int {
		return cmp.Or(cmp.Compare(a.Transport, b.Transport), cmp.Compare(a.ID, b.ID))
	})
	for _, f := range h.failed {
		if f.streamID == streamID && f.instance == instance {
			out = append(out, f.info)
		}
	}
	return out
}

// usable returns ErrClosed unless the host is started and not closed.
func (h *Host) usable() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.closed {
		return ErrClosed
	}
	return nil
}
