// Package manager owns streams and their clients: it assigns chunk IDs, keeps a bounded history per
// stream for replay, and fans every pushed chunk out to each registered client in push order.
//
// The data path ends here. Upstream runners call PushChunk, CloseStream and HandleStreamError;
// the gateway's SSE writers, in-process Subscriptions and plugin transports receive the chunks as
// Clients. A Client must never block the pusher: slow consumers use a QueuedClient, whose bounded
// queue is drained by one goroutine its owner runs, and which drops out (reason "slow client")
// rather than slow anyone else down.
//
// Package manager imports nothing else from streamgate, and must never import gateway, upstream,
// plugins or auth.
package manager
