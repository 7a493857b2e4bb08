package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream"
)

// Generator runs generations upstream; *upstream.Runner implements it.
type Generator interface {
	// Run feeds the manager stream streamID until it ends and leaves it closed: with reason
	// "completed" on success, otherwise with an error chunk, also when the request could not be
	// made at all. It returns an error only when there is no stream to feed. It cancels the
	// upstream request soon after anyone else closes the stream.
	Run(ctx context.Context, streamID string, req upstream.Request) error
	// Generate performs a non-streaming generateContent call and returns the upstream's response
	// for passthrough; the caller closes its body. Its error is a *manager.StreamError when no
	// response came back, or wraps upstream.ErrInvalidRequest or errors.ErrUnsupported when the
	// request could not be made: answerFor knows each.
	Generate(ctx context.Context, req upstream.Request) (*http.Response, error)
	// Call performs any other unary call of the models collection (a model's method such as
	// countTokens, a model's GET, the models list) and returns the upstream's response for
	// passthrough, as Generate does, with Generate's errors; errors.ErrUnsupported means the
	// upstream has no models collection.
	Call(ctx context.Context, call upstream.Call) (*http.Response, error)
}

var _ Generator = (*upstream.Runner)(nil)

// Plugins connects transport plugins to streams; *plugins.Host implements it (cmd/streamgate
// checks). Its errors are answered as any other: a *manager.StreamError in the chain says what the
// client is told, and the manager's sentinels map as the manager's own errors do.
type Plugins interface {
	// Attach subscribes the transports whose attach rule matches a new stream, as passive clients
	// (they do not keep a Gemini-route stream from being orphaned). It is called after the stream
	// is created and before its generation starts.
	Attach(ctx context.Context, streamID string, labels map[string]string) error
	// Subscribe delivers a stream, from its first chunk, to the named transport with the
	// subscription's own config, and returns the subscription's ID.
	Subscribe(ctx context.Context, streamID, transport string, config json.RawMessage) (string, error)
	// Unsubscribe ends a subscription.
	Unsubscribe(ctx context.Context, streamID, subID string) error
	// Subscriptions lists the transport subscriptions of one instance of a stream: the live ones,
	// then those that ended with an error, so that a failed delivery is visible in the stream's
	// info (issue 10: a chunk too large for the transport).
	Subscriptions(ctx context.Context, streamID, instance string) []Subscription
}

// Subscription is a transport subscription of a stream, as GET /v1/streams/{id} lists it.
type Subscription struct {
	ID        string `json:"id"`
	Transport string `json:"transport"`
	// Attached is true for a subscription a plugin's attach rule made, false for one asked for.
	Attached bool `json:"attached"`
	// Failed is true once the subscription ended with an error: Reason and Err say which.
	Failed bool                 `json:"failed"`
	Reason string               `json:"reason,omitempty"`
	Err    *manager.StreamError `json:"error,omitempty"`
}

// noPlugins is the Plugins of a gateway configured without any: it attaches nothing and knows no
// transport, answering as *plugins.Host does for a name or subscription it does not know.
type noPlugins struct{}

func (noPlugins) Attach(context.Context, string, map[string]string) error { return nil }

func (noPlugins) Subscriptions(context.Context, string, string) []Subscription { return nil }

func (noPlugins) Subscribe(_ context.Context, _, transport string, _ json.RawMessage) (string, error) {
	return "", newError(http.StatusNotFound, "no transport plugin named "+strconv.Quote(transport))
}

func (noPlugins) Unsubscribe(_ context.Context, streamID, subID string) error {
	return newError(http.StatusNotFound, "subscription "+strconv.Quote(subID)+" of stream "+strconv.Quote(streamID)+" not found")
}
