// Package cluster owns what replicas share through Redis in cluster mode: the key layout and the
// Lua scripts that keep each stream's history, dense chunk IDs and cluster-wide counters, the
// lease every replica holds and the sweep that ends a dead replica's streams, a GCRA rate limiter,
// the live-subscription multiplexer with the Follower that stitches a stream's history and its
// live chunks together, each node's control channel, and the replica view (Node) that serves the
// gateway's questions for streams owned by any replica out of the local manager.
// docs/cluster.md is the whole plan.
//
// # Data path
//
// In cluster mode each replica's manager still fans out to its own clients. cluster sits beside
// it; every stream a replica owns or has local clients of has a local copy there, a manager
// mirror fed with the IDs Redis assigned:
//
//	owner:    upstream runner ──Node.PushChunk──> writer (queue; AppendBatch: ID, history, trim,
//	          SPUBLISH) ──chunks with their IDs──> local copy (manager.PushAt) ──> local clients
//	any:      Node.Push ──Store.Append──> Redis; the chunk with its ID into the local copy, if any
//	replica:  Store's live connection ──> Follower (replay + live, by chunk ID) ──> local copy
//	          ──> local clients; a resume before the copy's first chunk: Store.ReadRange first
//	stop:     Node.CloseStream elsewhere ──close script, SPUBLISH sg:{node:<owner>}:ctl──> owner's
//	          copy closes ──manager Done──> the runner cancels its upstream call
//	plugins:  Node.Subscribe elsewhere ──"subscribe" on the owner's ctl──> the owner's Transports
//	          (its plugin host, on its local copy) ──"reply" on the asker's ctl──> the asker
//
// One Store per replica: one rueidis client (commands pipelined automatically) and one dedicated
// connection carrying every live subscription, one SSUBSCRIBE per stream with local subscribers.
// Live handlers run on that connection's reader goroutine and must not block.
//
// # Key layout
//
// Every key of one stream carries its ID as hash tag: sg:{<id>}:meta (hash; a field w:<node>
// marks a replica with non-passive clients of the stream, for orphans), sg:{<id>}:hist (a
// Redis Stream whose entry "<n>-0" is chunk n), shard channel sg:{<id>}:live. Shared: sg:active
// (active-stream counters, cluster and per tenant), sg:tenant:<tenant> (index for List), sg:nodes
// (leases taken). Per node: sg:{node:<id>}:lease, sg:{node:<id>}:owned:<epoch> and shard channel
// sg:{node:<id>}:ctl (requests only that node serves). Limiters: sg:rate:{<key>}.
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
//   - A local copy never holds a chunk the cluster does not, under another ID: its chunks come
//     from Redis (the Follower) or from this replica's appends once Redis numbered them, and
//     manager.PushAt takes only the next ID. The one exception is the end of a stream Redis
//     failed: the owner's copy ends with an error chunk of its own (503 UNAVAILABLE) rather than
//     with a silent gap, and the stream is closed in Redis as soon as Redis answers again.
//   - Every goroutine has an owner: the Store's lease and sweep loops and live connection stop
//     in Close, a Follower's in its Close, a Node's (control loop, janitor, one writer per owned
//     stream, one per control request it serves) in its Close.
//
// # Lease
//
// A refresh is sent a third of the lease after the last good one was sent and may wait for all
// the time left on the lease (counted from that send, a lower bound of when it ends in Redis),
// since Redis runs a late refresh as well as a punctual one; a refresh that fails sooner is
// retried with backoff while time is left. The replica keeps its lease and its streams meanwhile
// (Ready, and so /readyz, fails only while Redis does not answer, since it PINGs Redis and reads
// the lease key) and counts the lease as gone only once it ran out without a refresh, when Ready
// fails even with Redis answering; that it lapsed is Redis's to say (the refresh script finds the
// key gone), and only then are OnLeaseLost and the watchers told. A stall of
// Redis or of the replica shorter than two thirds of the lease is thus ridden out; a loaded host
// needs a lease of at least 1.5 times its longest stall (docs/cluster.md, "What to set on a
// loaded host"). The sweep has its own loop, so a long sweep never delays a refresh. A refresh
// that landed with less than a third of the lease left logs "cluster lease refreshed late" with
// how much was left.
//
// The Store talks to one Redis primary: the create, close and takeover scripts touch keys of
// several slots (docs/cluster.md says what Redis Cluster would need).
//
// Package cluster imports manager (its types and sentinels, and the manager that holds the local
// copies), and must never import gateway, upstream or plugins: the gateway talks to it through an
// interface it declares, and cmd wires the two. Nor does it import telemetry or Prometheus: its
// metrics go through the Observer it declares (Config.Observer), which cmd wires to telemetry.
package cluster
