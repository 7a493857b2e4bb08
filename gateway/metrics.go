package gateway

import "time"

// Metrics records what the gateway serves; *telemetry.Metrics implements it (cmd/streamgate
// checks). Each method is called once per request, subscriber or pushed chunk, never per SSE
// frame, and its label values come from bounded sets: route templates, subscriber routes, stream
// sources.
type Metrics interface {
	// HTTPRequest counts a request answered with code after d; route is the route template
	// ("/v1/streams/:id/events", "unmatched"), never the raw path.
	HTTPRequest(route string, code int, d time.Duration)
	// SubscriberJoined counts an SSE subscriber of route ("events" or "gemini") until leave is
	// called.
	SubscriberJoined(route string) (leave func())
	// SlowClient counts a subscriber dropped because its queue overflowed.
	SlowClient()
	// ChunkPushed counts a chunk of bytes bytes pushed through the API into a stream of source.
	ChunkPushed(source string, bytes int)
}

// Subscriber routes, the values SubscriberJoined is called with.
const (
	subscriberEvents = "events" // GET /v1/streams/{id}/events
	subscriberGemini = "gemini" // a Gemini-route caller
	subscriberOpenAI = "openai" // an OpenAI-route caller with "stream": true
)

// noMetrics is the Metrics of a gateway configured without any.
type noMetrics struct{}

func (noMetrics) HTTPRequest(string, int, time.Duration) {}
func (noMetrics) SubscriberJoined(string) func()         { return func() {} }
func (noMetrics) SlowClient()                            {}
func (noMetrics) ChunkPushed(string, int)                {}
