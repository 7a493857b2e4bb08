package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/streamgate/streamgate/manager"
)

// frameCacheSlots is how many recent chunks' frames a frameCache holds: the live chunks a
// subscriber that is not behind can be missing, many times over.
const frameCacheSlots = 16

// maxCachedData bounds the data of a chunk whose frame is cached, so that a cache pins at most
// frameCacheSlots such chunks and frames (about 512 KiB) beyond the stream's history: encoding a
// large chunk costs little beside writing it anyway.
const maxCachedData = 16 << 10

// maxCachedBatch is the longest batch whose frames a subscriber stores in the cache: a live
// subscriber a little behind shares them, while a replay (up to the whole history) encodes into
// its own buffer and allocates nothing, as before.
const maxCachedBatch = 4

// frameCaches holds one frameCache per stream that has events-route subscribers. Its zero value
// is ready to use.
type frameCaches struct {
	mu sync.Mutex
	m  map[string]*frameCache
}

// frameCache holds the events-route frames of a stream's recent chunks, so that a chunk is
// encoded once and the same bytes are written to every subscriber of the stream (as Centrifugo
// encodes a publication once), rather than once per subscriber. Subscribers read and fill it
// concurrently from their own goroutines without a lock: a slot is swapped whole, and a reader
// uses a slot only when it holds the very chunk it has (same ID, the same Data slice by identity,
// the same event and error), so a stale or racing slot costs a second encoding, never a wrong
// frame.
type frameCache struct {
	refs  int         // subscribers holding it; guarded by frameCaches.mu
	share atomic.Bool // more than one subscriber: caching pays
	slots [frameCacheSlots]atomic.Pointer[cachedFrame]
}

// cachedFrame is one chunk's encoded frame and what identifies the chunk.
type cachedFrame struct {
	id    uint64
	data  []byte
	event string
	err   *manager.StreamError
	frame []byte
}

// acquire returns the stream's cache, counting the caller as one more subscriber; release undoes
// it.
func (fc *frameCaches) acquire(streamID string) *frameCache {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.m == nil {
		fc.m = make(map[string]*frameCache)
	}
	c := fc.m[streamID]
	if c == nil {
		c = &frameCache{}
		fc.m[streamID] = c
	}
	c.refs++
	c.share.Store(c.refs > 1)
	return c
}

// release drops one subscriber of the stream's cache, and the cache with the last.
func (fc *frameCaches) release(streamID string, c *frameCache) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	c.refs--
	c.share.Store(c.refs > 1)
	if c.refs == 0 && fc.m[streamID] == c {
		delete(fc.m, streamID)
	}
}

// frame returns ch's frame from the cache, encoding and storing it when it is not there and
// store is set. It returns nil when caching does not pay (one subscriber, empty or large data) or
// the frame is not there and store is not set: the caller encodes itself. The returned bytes are
// shared and must not be modified.
func (c *frameCache) frame(ch manager.Chunk, store bool) []byte {
	if c == nil || !c.share.Load() || len(ch.Data) == 0 || len(ch.Data) > maxCachedData {
		return nil
	}
	slot := &c.slots[ch.ID%frameCacheSlots]
	if f := slot.Load(); f != nil && f.holds(ch) {
		return f.frame
	}
	if !store {
		return nil
	}
	f := &cachedFrame{id: ch.ID, data: ch.Data, event: ch.Event, err: ch.Err,
		frame: appendChunkFrame(make([]byte, 0, len(ch.Data)+len(ch.Event)+32), ch)}
	slot.Store(f)
	return f.frame
}

// holds reports whether f is ch's frame. Data is compared by identity: every subscriber of a
// stream gets the same slice, and a slice the cache references cannot be reused for another
// chunk.
func (f *cachedFrame) holds(ch manager.Chunk) bool {
	return f.id == ch.ID && len(f.data) == len(ch.Data) && &f.data[0] == &ch.Data[0] &&
		f.event == ch.Event && f.err == ch.Err
}
