// Package manager owns streams and their clients: it assigns chunk IDs, keeps a bounded history per
// stream for replay, and fans every pushed chunk out to each registered client in push order.
//
// # Data path
//
// The manager is the middle of the data path:
//
//	upstream.Runner ──PushChunk / CloseStream / HandleStreamError──> Manager
//	Manager ──SendChunk / StreamClosed (or NotifyStreamClosed)──> Client (one per subscriber)
//	QueuedClient.Run ──Deliver / Closed(ClosedError)──> Sink (gateway SSE writer, plugin transport session)
//
// Producers push; the manager numbers each chunk (1, 2, 3, ... per stream), appends it to the
// stream's history and calls SendChunk on every client, all under the stream's lock, so every client
// sees push order and a registration that replays from the history (RegisterClientFrom, Subscribe)
// can neither miss nor repeat a chunk that races it. Clients must therefore never block: SendChunk
// enqueues and returns. QueuedClient adapts a blocking, batch-capable Sink to that rule with a
// bounded queue drained by Run, the one goroutine its owner starts (the gateway runs it in the HTTP
// handler's goroutine). A queue that overflows has lost a chunk: the client drops out as a slow
// client and its owner may register again from LastID, rather than slowing anyone else down.
// In-process consumers use Subscribe and Next.
//
// The close travels the same way with its details: a ClosedError (reason, status, and the error
// that ended the stream) goes to every client that implements CloseReceiver, as QueuedClient and
// Subscription do, so that a sink never has to ask Info how the stream it was fed ended.
//
// # Lifecycle
//
// A stream is active until CloseStream (status completed), HandleStreamError with terminate
// (status error, after the error chunk), the inactivity timeout (504 DEADLINE_EXCEEDED) or Shutdown
// (reason "shutting down"). Chunks pushed before a close reach each client before its
// NotifyStreamClosed. A closed stream stays readable for replay for Config.RetainClosed, then is
// forgotten. Streams carry free-form labels (the gateway's tenant and model), and a client that
// implements Passive and returns true (a transport attached to every stream by configuration) is
// counted apart in StreamInfo.Passive, so an owner can tell whether anyone still wants a stream.
//
// # Performance
//
// PushChunk allocates nothing, reads no clock when the chunk carries its Time, and costs a few
// nanoseconds per client on top of a fixed per-push cost; the inactivity timeout is checked on a
// timer ticking every eighth of it against the last chunk ID, not on the push path. Queued clients
// keep two buffers that trade places between producer and consumer, so a steady stream allocates
// nothing, and give back what a burst grew once their consumer has caught up.
//
// Package manager imports nothing else from streamgate, and must never import gateway, upstream,
// plugins or auth.
package manager
