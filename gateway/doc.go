// Package gateway is streamgate's HTTP face and the last hop of the data path: it owns the Gin
// routes, SSE writing, the subscription lifecycle and request limits. It imports manager (streams
// and subscribers), upstream (the Runner, through the Generator interface declared here, and model
// validation), upstream/sse (every SSE frame is written with its encoder) and auth (client keys);
// only cmd/streamgate imports it.
//
// # Routes
//
//	POST   /v1beta/models/{model}:streamGenerateContent?alt=sse   Gemini streaming, drop-in
//	POST   /v1beta/models/{model}:generateContent                 Gemini non-streaming, passthrough
//	POST   /v1/streams                                            create a generation or push stream (201)
//	GET    /v1/streams[?all=true]                                 the caller's streams
//	GET    /v1/streams/{id}                                       stream info
//	DELETE /v1/streams/{id}                                       stop a stream
//	POST   /v1/streams/{id}/chunks                                push a chunk (202 {"id"}, push streams only)
//	POST   /v1/streams/{id}/error                                 push an error chunk, optionally ending the stream
//	GET    /v1/streams/{id}/events                                the stream as SSE, with resume
//	GET    /healthz, /readyz                                      no key needed
//
// Gin routes the Gemini paths as one segment (/v1beta/models/:modelAction) split at its last ':'.
// Stream IDs are path segments: an ID holding '/' is addressed percent-encoded (the engine routes
// on the raw path). Every answer that is not a stream is JSON; every error, whatever route, is
// Gemini's error body {"error":{"code","message","status"}} (manager.StreamError.JSON) with the
// matching HTTP status: 400 INVALID_ARGUMENT for bad JSON, wrong types, unknown fields, bad IDs
// and event names; 401 UNAUTHENTICATED; 404 NOT_FOUND for unknown routes and streams; 405 with
// Allow; 409 ALREADY_EXISTS for a taken ID and FAILED_PRECONDITION for pushing to a generation or
// closed stream; 410 when a resume point is no longer in the history; 413 above MaxBodyBytes; 429
// RESOURCE_EXHAUSTED with Retry-After for the stream, subscriber and per-key rate limits; 503
// while shutting down. A bad request never touches another stream.
//
// # Gemini route
//
// A :streamGenerateContent call creates a stream (labels below), registers the caller's queued
// client first (from chunk 0), then starts the upstream runner in a goroutine the Server owns. The
// response headers wait for the first chunk: an error chunk first is answered with its own status
// and body (the upstream's status and Retry-After pass through); otherwise 200 text/event-stream with frames exactly
// "data: <json>\r\n\r\n", data only, never id:, event: or comments (the official Go SDK refuses
// them), and X-Stream-Id so that others can watch or resume the generation (?after=N, N being the
// frames this caller got). A mid-stream error chunk is one "data: {"error":...}" frame and ends the
// response. Only a stream closed with reason "completed" ends cleanly; any other close is written
// as an error frame (503 UNAVAILABLE "shutting down", or 499 CANCELLED "stream stopped: <reason>"
// for a DELETE or an orphan close), and a caller that falls further behind than the queue is sent
// 429 RESOURCE_EXHAUSTED naming the URL to resume from: a failed stream never ends silently.
//
// When a Gemini-route stream's last subscriber leaves, the stream is closed with reason "client
// disconnected" after Config.OrphanGrace (0: at once; the runner then cancels the upstream
// request). Transports attached by a plugin's attach rule are passive (manager.Passive) and do not
// count: an audit transport on every stream must not keep an abandoned generation running. A
// subscription asked for through POST /v1/streams/{id}/subscriptions does count: it re-routes the
// generation. Streams made by POST /v1/streams never orphan: they run to their end whoever listens.
//
// # Events route
//
// GET /v1/streams/{id}/events writes every chunk as "id: N", "event:" when set, and "data:"
// (LF line endings), error chunks as "event: error" with Gemini's error JSON, the end as
// "event: done" with {"status","reason"}, and ": ping" every Config.Heartbeat while idle. It
// resumes after the Last-Event-ID header (what a browser EventSource sends by itself) or ?after=N;
// both given must agree. Clients should close an EventSource on "done", or it reconnects and
// receives "done" again. Pushed event names are printable ASCII up to 128 bytes and may not be
// "error" or "done"; pushed data is compacted JSON, so it is always one data line.
//
// # Subscribers
//
// Every SSE subscriber is a manager.QueuedClient whose Run is the HTTP handler itself: no goroutine
// per subscriber beyond net/http's own. Deliver writes a whole batch, then flushes once; the
// heartbeat is a time.AfterFunc that writes under the same mutex and is stopped before the handler
// returns. SSE responses carry Content-Type text/event-stream, Cache-Control no-cache and
// X-Accel-Buffering no, are never compressed and have no write timeout; a client that stops
// reading is cut after Config.StalledWriteTimeout (the deadline moves at most once per half of it).
// A subscriber whose queue (Config.ClientQueueSize, at least the history size) overflows is
// disconnected rather than slowing anyone else; it resumes from its last chunk.
//
// # Streams, tenants and keys
//
// Streams carry labels (LabelTenant, LabelKeyID, LabelModel, LabelKind: generate or push,
// LabelSource: gemini or api). A tenant sees only its own streams: another tenant's stream answers
// 404 exactly like an unknown one. Requested IDs share one namespace across tenants, so creating
// an ID another tenant holds answers 409. Keys come as x-goog-api-key, Authorization: Bearer or
// ?key= (browser EventSource), are checked by the auth.Keyring in constant time and stripped from
// the request before anything else sees it; the upstream only ever gets the gateway's own
// credential. Rate limits are per key (golang.org/x/time/rate). Without keys the gateway is open
// (tenant "", no rate limit) and Serve refuses a listener that is not loopback-only. CORS answers
// preflights for Config.CORSOrigins (key headers, Content-Type, Last-Event-ID; X-Stream-Id and
// Retry-After exposed; Vary: Origin).
//
// # Lifecycle
//
// New validates a Config; Serve serves a listener until its context ends, then shuts down within
// Config.ShutdownGrace: /readyz turns 503, the listener closes, the manager closes every stream with
// "shutting down" (each subscriber receives it), the runners and orphan timers finish, and
// connections still open when the grace period ends are closed. The http.Server has a
// ReadHeaderTimeout and no WriteTimeout; flushing goes through http.ResponseController.
//
// Config.Plugins (implemented by *plugins.Host) is told about every new stream before its
// generation starts, so that attached transports get it from the first chunk, and serves
// POST /v1/streams/{id}/subscriptions {"transport","config"} (201 {"id"}; 404 for an unknown
// transport, 400 for a config the plugin refuses, 503 while it is down, 410 when the stream's
// first chunks left the history) and DELETE /v1/streams/{id}/subscriptions/{sid} (204). New routes
// go in routes(), behind s.authenticate, and look streams up with s.lookup so that the tenant rule
// holds.
//
// The gateway does not import plugins (that would pull go-plugin, gRPC and protobuf in and defeat
// the Plugins interface): cmd/streamgate wires the host in and checks that it fits. The host's
// refusals cross as a *manager.StreamError in the error's chain, saying what the client is told,
// because that is the one error vocabulary both packages already share. Sentinels declared here
// could not be wrapped by plugins without importing the gateway, and a method like HTTPStatus()
// on plugins' errors would put HTTP into them all the same, with the message still to be chosen
// here.
package gateway
