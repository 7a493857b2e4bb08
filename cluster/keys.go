package cluster

// The key layout (docs/cluster.md has the whole picture). Every key of one stream carries the
// stream ID as its hash tag, so the per-stream scripts touch one slot; the keys of one node carry
// "node:<id>" as theirs.
const keyPrefix = "sg:"

// Keys shared by the cluster.
const (
	// activeKey is a hash of active-stream counters: field "*" counts every active stream, field
	// "t:<tenant>" those of one tenant. The create and close scripts keep it exact.
	activeKey = keyPrefix + "active"
	// nodesKey is a set of "<node> <epoch>" members, one per lease a replica took; Sweep ends the
	// streams of those whose lease lapsed and then removes them.
	nodesKey = keyPrefix + "nodes"
)

// metaKey is a stream's hash: status, owner, epoch, tenant, labels, instance, times, last and
// first retained chunk IDs, history bytes and bounds, close reason and error.
func metaKey(id string) string { return keyPrefix + "{" + id + "}:meta" }

// histKey is a stream's history: a Redis Stream whose entry "<n>-0" is chunk n.
func histKey(id string) string { return keyPrefix + "{" + id + "}:hist" }

// liveChannel is a stream's sharded pub/sub channel for live delivery.
func liveChannel(id string) string { return keyPrefix + "{" + id + "}:live" }

// tenantKey is a sorted set of a tenant's stream IDs by creation time, for List. Members whose
// stream expired are removed by List.
func tenantKey(tenant string) string { return keyPrefix + "tenant:" + tenant }

// leaseKey holds a node's current lease epoch, with the lease as its TTL.
func leaseKey(node string) string { return keyPrefix + "{node:" + node + "}:lease" }

// ownedKey is the set of active streams a node owns under one lease epoch.
func ownedKey(node, epoch string) string { return keyPrefix + "{node:" + node + "}:owned:" + epoch }

// rateKey holds one GCRA limiter's theoretical arrival time.
func rateKey(key string) string { return keyPrefix + "rate:{" + key + "}" }

// nodeMember is a node's member of nodesKey for one epoch.
func nodeMember(node, epoch string) string { return node + " " + epoch }

// controlChannel is a node's sharded pub/sub channel for requests only that node can serve: a
// stop for a stream it owns (see control.go).
func controlChannel(node string) string { return keyPrefix + "{node:" + node + "}:ctl" }
