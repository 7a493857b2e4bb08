package cluster

import "time"

// Observer receives the Store's lease and sweep events, for metrics. cmd/streamgate wires
// telemetry's implementation; this package declares the interface so that it needs neither
// telemetry nor Prometheus. Its methods are called from the Store's goroutines (the lease loop,
// the sweep, Close) and must not block.
type Observer interface {
	// LeaseRefreshed records a refresh of the held lease that Redis accepted; left is the time
	// that was still left on the lease when the reply came, how close it came to lapsing.
	LeaseRefreshed(left time.Duration)
	// LeaseRefreshFailed records one attempt to refresh or take the lease that failed: Redis
	// unreachable or too slow, or another live replica holds the node ID.
	LeaseRefreshFailed()
	// LeaseHeld records whether this replica holds its lease, the readiness it reports.
	LeaseHeld(held bool)
	// StreamsSwept records n streams of replicas whose lease lapsed that a sweep ended.
	StreamsSwept(n int)
}

// nopObserver is the Observer of a Config without one.
type nopObserver struct{}

var _ Observer = nopObserver{}

func (nopObserver) LeaseRefreshed(time.Duration) {}
func (nopObserver) LeaseRefreshFailed()          {}
func (nopObserver) LeaseHeld(bool)               {}
func (nopObserver) StreamsSwept(int)             {}
