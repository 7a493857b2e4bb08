// Package cluster owns what replicas share through Redis in cluster mode: the key layout and the
// Lua scripts that keep each stream's history, dense chunk IDs and cluster-wide counters, the
// lease every replica holds and the sweep that ends a dead replica's streams, a GCRA rate limiter,
// and the live-subscription multiplexer with the Follower that stitches a stream's history and its
// live chunks together. docs/cluster.md is the whole plan; this package is its Redis layer.
//
// # Data path
//
// In cluster mode each replica's manager still fans out to its own clients. cluster sits beside
// it:
//
//	owner:    upstream runner ──chunk──> Store.Append (script: ID, history, trim, SPUBLISH)
//	                                     └─ID──> local manager ──> local clients
//	replica:  Store's live connection ──> Follower (replay + live, by chunk ID) ──> mirror in the
//	          local manager ──> local clients
//
// One Store per replica: one rueidis client (commands pipelined automatically) and one dedicated
// connection carrying every live subscription, one SSUBSCRIBE per stream with local subscribers.
// Live handlers run on that connection's reader goroutine and must not block.
//
// # Key layout
//
// Every key of one stream carries its ID as hash tag: sg:{<id>}:meta (hash), sg:{<id>}:hist (a
// Redis Stream whose entry "<n>-0" is chunk n), shard channel sg:{<id>}:live. Shared: sg:active
// (active-stream counters, cluster and per tenant), sg:tenant:<tenant> (index for List), sg:nodes
// (leases taken). Per node: sg:{node:<id>}:lease and sg:{node:<id>}:owned:<epoch>. Limiters:
// sg:rate:{<key>}.
//
// # Invariants
//
//   - Chunk IDs are 1, 2, 3 ... per stream across the cluster: only the append script assigns
//     them, atomically with the history entry, the trim and the publish.
//   - The counters change only in the create, close and takeover scripts, so max_streams and the
//     tenant limits hold across replicas.
//   - A stream's owner and lease epoch never change. A lapsed lease is never renewed; its streams
//     are ended, exactly once, with 503 UNAVAILABLE "replica <node> lost".
//   - Redis trouble is ErrUnavailable, returned at once; stream errors reuse manager's sentinels so
//     one mapping to HTTP statuses serves both modes.
//   - Every goroutine has an owner: the Store's lease loop and live connection stop in Close, a
//     Follower's in its Close.
//
// The Store talks to one Redis primary: the create, close and takeover scripts touch keys of
// several slots (docs/cluster.md says what Redis Cluster would need).
//
// Package cluster imports manager for its types and sentinels only, and must never import
// gateway, upstream or plugins: the gateway talks to it through an interface it declares, and cmd
// wires the two.
package cluster
