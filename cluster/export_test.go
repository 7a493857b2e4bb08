package cluster

// Kill stops the Store the way kill -9 stops a replica: the lease is neither refreshed nor
// released, and no stream is closed.
func (s *Store) Kill() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.loops.Wait()
		s.sub.close()
		s.client.Close()
	})
}

// LeaseOK reports what Ready reports of the lease without asking Redis: the last refresh found it
// held, or the lease loop is still trying while time is left on it.
func (s *Store) LeaseOK() bool { return s.leaseOK.Load() }

// Epoch is the Store's current lease epoch, "" when it holds none.
func (s *Store) Epoch() string { return s.epochNow() }

// Keys of the layout, for tests that inspect Redis.
var (
	MetaKey     = metaKey
	HistKey     = histKey
	LiveChannel = liveChannel
	LeaseKey    = leaseKey
	OwnedKey    = ownedKey
	TenantKey   = tenantKey
	RateKey     = rateKey
)

const (
	ActiveKey = activeKey
	NodesKey  = nodesKey
)

// FollowQueue is how many live messages a Follower buffers before it reads the history instead.
const FollowQueue = followQueue

// Kill stops the Node the way kill -9 stops a replica: its Store is killed (no lease refresh, no
// release), its goroutines stop, and nothing it owns is closed in Redis.
func (n *Node) Kill() {
	n.closeOnce.Do(func() {
		n.store.Kill()
		n.settled()
		n.halt()
	})
}
