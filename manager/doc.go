// Package manager owns streams and their clients: it assigns chunk IDs, keeps a bounded history per
// stream for replay, and fans every pushed chunk out to each registered client in push order.
//
// # Data path
//
// The manager is the middle of the data path:
//
//	upstream.Runner ──Handle.PushChunk / CloseStream / HandleStreamError──> Manager
//	Manager ──SendChunk / StreamClosed (or NotifyStreamClosed)──> Client (one per subscriber)
//	QueuedClient.Run ──Deliver / Closed(ClosedError)──> Sink (gateway SSE writer, plugin transport session)
//
// Producers push; the manager numbers each chunk (1, 2, 3, ... per stream), appends it to the
// stream's history and calls SendChunk on every client, all under the stream's lock, so every client
// sees push order and a registration that replays from the history (RegisterClientFrom, Subscribe)
// can neither miss nor repeat a chunk that races it. Clients must therefore never block: SendChunk
// enqueues and returns. QueuedClient adapts a blocking, batch-capable Sink to that rule with a
// bounded queue drained by Run, the one goroutine its owner starts (the gateway runs it in the HTTP
// handler's goroutine). Queues hold the manager's chunks by reference: Data is shared by the
// history and every client, never copied. Run hands the sink batches of at most
// QueueConfig.MaxBatch chunks and MaxBatchBytes (1 MiB) of data, a larger chunk alone, so a sink
// that encodes a batch into one buffer holds at most one batch per subscriber, however long a
// replay is. A queue that overflows (QueueConfig.Size chunks, or MaxBytes of data when set) has
// lost a chunk: the client drops out as a slow client and its owner may register again from
// LastID, rather than slowing anyone else down or pinning chunks its stream's history has let go.
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
// forgotten; at most Config.MaxRetained closed streams are kept (the oldest closed goes first), and
// their chunks count against the byte budget (see Memory and quotas). Streams carry free-form
// labels (the gateway's tenant and model), and a client that implements Passive and returns true
// (a transport attached to every stream by configuration) is counted apart in StreamInfo.Passive,
// so an owner can tell whether anyone still wants a stream. Config.Observer, when set, is told of
// every stream opened and closed, once each and outside the locks; the command counts streams
// with it, and Usage gives what the manager retains (the retained_* gauges). PushChunk tells no
// one, so counting chunks is left to the producers. A producer that feeds one stream for its whole
// life holds it by a Handle (Manager.Handle): its pushes answer as pushes by ID do, and its
// AfterClose callback runs once, on the goroutine that closes the stream, outside the locks.
//
// # Memory and quotas
//
// Every chunk a history retains counts len(Data) against its tenant's Quota.MaxBytes and against
// Config.MaxBytes until its stream's HistorySize or HistoryBytes drops it (oldest first; the
// newest chunk is always kept) or the stream is forgotten; retained closed streams count until
// then. A stream's tenant is its LabelTenant label. Each tenant also has at most Quota.MaxStreams
// active streams; Config.DefaultQuota applies to every tenant not in Config.Quotas, and the global
// limits (MaxConcurrentStreams, MaxBytes) stay the ceiling. StreamInfo.Bytes, Usage and
// TenantUsage report the exact figures. The rule at a bound:
//
//   - A push is measured by what it adds net of what its own stream's bounds drop, so a stream at
//     its bounds rolls and never needs the budget. A push that does not fit first forgets retained
//     closed streams, oldest closed first: the tenant's own when its quota is short, anyone's when
//     the global budget is. Then its stream drops its own oldest chunks to make room, never another
//     stream's (its clients already have them queued; only a later resume from before them gets
//     ErrHistoryTrimmed). Only a push that adds more than its stream holds plus what is free is
//     refused, with a *LimitError wrapping ErrBudgetExhausted; the stream stays active. Error
//     chunks are never refused: they are small and end or explain a stream.
//   - A new stream needs a free slot in its tenant's quota and globally, and room for one full
//     history (HistoryBytes) in both budgets, after forgetting retained closed streams, or
//     CreateStreamWith refuses it the same way (ErrTooManyStreams or ErrBudgetExhausted). So a
//     tenant near its bounds is refused new streams first, and the last HistoryBytes are kept for
//     the streams already running.
//
// Fairness follows. A tenant can hold at most its quota, so one tenant cannot take the slots or
// the bytes of the others, and its streams are refused only by its own quota or the global
// ceiling. A running stream is never cut off by another stream or tenant: whatever the others
// hold, it can always go on rolling within what it already holds. When the quotas of the tenants
// together fit within the global limits no tenant is ever refused because of another; when they
// overcommit them, the global ceiling is shared first come, under the rules above.
//
// Admission costs a few atomic operations under the stream's lock; only the slow path (a push
// that does not fit) takes the manager's lock.
//
// # Mirrors
//
// A mirror (CreateMirror) is a stream whose chunk IDs are assigned elsewhere: in cluster mode, by
// the Redis history every replica shares. Its feeder pushes each chunk with the ID it carries
// (PushAt, which takes only the mirror's last ID plus one, so a duplicate or a gap is refused, never
// recorded) and ends it as its source ended (CloseMirror); its clients replay and receive it as on
// any stream. Mirrors stand outside the local stream limit and the tenants' quotas (the stream is
// counted where it was created) and never refuse a chunk for the byte budget; mirror.go says why.
//
// # Performance
//
// PushChunk allocates nothing, reads no clock when the chunk carries its Time, and costs a few
// nanoseconds per client on top of a fixed per-push cost; the inactivity timeout is checked on a
// timer ticking every eighth of it against the last chunk ID, not on the push path. Queued clients
// keep two buffers that trade places between producer and consumer, so a steady stream allocates
// nothing, and give back what a burst grew once their consumer has caught up. A queued client's
// Run waits on its wake channel alone (the end of its context signals the same channel through
// context.AfterFunc): with 10,000 subscribers of one stream that is 10,000 wake-ups per chunk, and
// a two-way select at each was a tenth of the Go side of the gateway's fan-out
// (gateway.BenchmarkEventsDeliver, issue 15).
//
// Every push and most calls look their stream up by ID; the lookup reads a sync.Map and an atomic
// shutdown flag, never Manager.mu, which only creates, closes, forgets and the budget's slow path
// take. A goroutine profile at the peak of the Gemini ladder (1,000 streams created and closed
// continuously) had shown 285 goroutines waiting on that lock's RLock for the lookup while creates
// and closes held it. The map is written only under the lock, so the counts, the shutdown flag
// and the eviction order it guards stay in step; Shutdown sets the flag before it empties the map
// and a lookup reads the map first, so a lookup racing it reports ErrShutdown. sync.Map over a
// copy-on-write map because creates and closes are hundreds a second here; over shards because
// its reads take no lock at all. A/B against main, test binaries and streamgate binaries built
// from both trees, run alternately (load average 2.6-4.3, two cores shared):
//
//	go test -run '^$' -bench 'PushChunkFanOut$|PushAt|CreateCloseStream|PushWhileCreateClose' -benchmem ./manager
//	go run ./cmd/loadtest -mode gemini -ladder 1000 -level-time 4s -streamgate <binary>
//
// PushChunk to one client 91-106 ns against 112-120 (0 allocs both), PushAt 104-118 against
// 111-118, BenchmarkPushWhileCreateClose (32 pushers on 1,000 streams, two goroutines creating
// and closing) 593-649 ns against 616-883; CreateCloseStream pays sync.Map's entry, 2 allocs and
// 96 B more (3.5-7.1 us against 3.7-5.8, noise). On the ladder, 4 runs each: CPU per stream
// 1.73-1.75 ms against 1.88-2.07 (1.27-1.30x ReverseProxy's against 1.38-1.51x), 2,889-2,978
// streams finished per rung against 2,649-2,809, total CPU 5.05-5.14 s against 5.29-5.48;
// chunk lateness p99 107-177 ms against 133-162, within the noise; RSS 254-257 MiB against
// 239-245, the extra streams finished and retained (see below).
//
// The upstream runner pushes through a Handle, which holds the stream itself: no lookup by ID
// per chunk (hashing the 36-byte ID, walking the map's trie, comparing the key: about 250 of the
// gateway's 5,582 user-space perf samples at 256 Gemini streams, issue 15). A push by handle
// checks the shutdown flag first, as a lookup does, and on a refusal looks the ID up to answer as
// a push by ID would (ErrNotFound once the stream was forgotten, also when a new stream has its
// ID). The runner's close watch is the handle's AfterClose callback, run by whoever closes the
// stream, instead of a goroutine per stream waiting on Done (see upstream's Performance). The
// callbacks are a list in the stream, taken under its lock once it closed and run after: the
// stream's inactivity count became an int32 beside its mutex, in what was padding, so that the
// list's pointer keeps the stream in its 384-byte size class. One push serves both ways in (the
// stream held, or looked up inside it), so Push, PushChunk and the Handle's are inlined wrappers
// and a push by ID makes the calls it made before. Alternately against main (cb7fa88), load
// average 2.7-3.5:
//
//	go test -run '^$' -bench 'PushChunkFanOut/clients=1$|PushChunkHandle|PushManyStreams' -benchmem ./manager
//
// PushChunk by handle 62-90 ns; by ID 85-101 ns against main's 74-104 (6 alternating runs; 0
// allocs all; one stream, its cache lines hot). BenchmarkPushManyStreams, 1,000 streams in turn:
// 82-151 ns by handle against 118-246 by ID.
//
// A stream's ring starts at the size closed streams' rings reached (ringSizer: a moving average
// of log2 of the slots, so a few long streams among many short ones do not pull it up), rounded
// up to its allocation's size class, where it grew by append from one slot: a 64-chunk stream
// reallocated it seven times, 10 KB allocated for 5 KB kept, about 33 of the 168 MB a
// 1,000-stream Gemini run allocated. A stream longer than the average grows by append from
// there; the push path is unchanged (append while the ring is not full). Against the commit
// before, alternately: BenchmarkStreamLifecycle 15,436-15,441 B in 28 allocations and 42-63 us
// against 8,926-8,932 B in 22 and 26-36 us; BenchmarkStreamMemory/closed allocates 24.4 MB for
// its 1,000 streams instead of 30.7 and retains the same 18,200 bytes a stream. Replay (get) is
// untouched.
//
//	go test -run '^$' -bench 'StreamLifecycle|StreamMemory' -benchmem ./manager
//
// Creates draw their stream's instance UUID, allocate it and arm its inactivity timer outside
// Manager.mu, which every create, close and forget takes: in a CPU profile of
// BenchmarkCreateCloseStreamParallel (16 goroutines creating and closing) they were 22% of the
// benchmark's CPU, all of it inside the lock. Against the commit before, alternately (load
// average 6.2-7.6): 4.9-5.8 us per create and close against 5.0-9.2, and
// BenchmarkPushWhileCreateClose 607-1027 ns against 688-1593; on two cores the lock was not much
// contended to begin with.
//
// # Memory per stream
//
// A closed stream's history is kept for RetainClosed (MaxRetained at most). As it closes it is
// packed into an archive (archive.go): a 24-byte record per chunk (Data's pointer and length, the
// Time as Unix nanoseconds in the location the chunks share, an index into the stream's Event
// names; the ID follows from the history's first) where the ring held an 80-byte Chunk, three of
// its words pointers, in up to twice the slots it needed (and all 4,096 HistorySize slots once
// HistoryBytes had trimmed a long stream). Error chunks and Times that
// would not come back the same are kept whole; a replayed Time has no monotonic reading. Data is
// not copied: the clients share it (TestReplayBatchesAreCappedByBytesAndShareData), and one slab
// per stream would save nothing, each allocation being rounded up to its size class either way
// (a first version with a slab retained 18,940 bytes a stream where the records measured 18,478).
// The closed stream also lets go of its inactivity timer and has no timer of its own: one
// reaper timer, due at the oldest retained stream's time, forgets them in the order they closed.
//
//	go test -run '^$' -bench 'StreamMemory|StreamLifecycle' -benchmem ./manager
//
// BenchmarkStreamMemory holds 1,000 streams labelled as the gateway labels them, each 64 chunks
// of 200-260 bytes in an allocation of its own as the upstream runner makes them, and reports
// HeapAlloc after a GC over the streams (retained_B/stream). Main at 2ff8f12 against this:
//
//	closed stream  21,976 -> 17,963 bytes (15,184 of them the chunks' data, size classes included)
//	live stream    22,812 -> 22,573 bytes (its ring of Chunks about 6 KiB of it)
//	forgotten      23 -> 19 bytes (the one stream MaxRetained 1 keeps, over 1,000: nothing leaks)
//
// so what the manager adds to a closed stream's data went from 6.8 KiB to 2.7 KiB: the archive
// 1.9 KiB, the stream, its done channel, labels, instance ID, list and map entries 0.9 KiB.
// BenchmarkStreamLifecycle (create, one client, 64 pushes, close) went from 45.7-59.2 us and
// 19,089 B in 29 allocations to 36.4-51.1 us and 15,192 B in 27 (alternately, load average
// 2.7-3.0); PushChunk's path is unchanged (0 allocs; 87-127 ns against 97-133, noise).
//
// An operator trading replay of finished streams for memory sets retain_closed or max_retained:
// the retained heap is about 18 KiB (at these sizes) times the streams finished per
// retain_closed, up to max_retained: 10,000 by default, about 170 MiB of live heap and twice
// that in RSS at GOGC 100.
//
// On the Gemini ladder of issue 15, main's binaries against this branch's, alternately, three
// runs each (load average 4.5-6.3, two cores shared with other work):
//
//	go run ./cmd/loadtest -mode gemini -ladder 1000 -level-time 6s -streamgate <binary>
//
// peak RSS 268-291 MiB (2.26-2.29x ReverseProxy's 119-129) against 232-273 MiB (1.92-2.09x,
// ReverseProxy 121-131), with 3,487-4,049 and 2,828-4,075 streams finished in the rung; the one
// pair that finished as many (4,049 and 4,075) measured 291 and 273 MiB. How many streams
// finish, and so are retained, moves the peak more than anything here, and the load moves that.
// What remains of the gap, from /debug/pprof/heap and MemStats polled every half second during
// one run of each (admin.pprof on in a local copy of the loadtest's config): HeapAlloc peaked at
// 170 MiB (NextGC 216) against main's 195 (NextGC 242, then 293), goroutine stacks at 39-43 MiB
// for 5,650-5,770 goroutines in both (about 5.7 per open stream:
// the server connection's background reader, the handler, the upstream Runner, the transport's
// read and write loops; a ReverseProxy has all but the Runner's). In the in-use heap (sampled;
// this branch's figure, then main's) the retained chunks' data leads (bytes.Clone in the upstream
// runner, 20 and 32 MiB), then the SSE read buffers (11.7 and 15.7), bufio readers and writers
// (15.1 and 11.0) and geminiwire's Tail (11.1 and 5.1); of the manager's own only the live rings
// (5.5 and 4.5), the queues (3.5 and 3.0) and the archives (2.5, where compact held 13.6).
// Retention's data is the feature. A smaller figure would take compressing archived data, a
// trade left open: a synthetic 64-event Gemini response of 20 KB (a throwaway program, words
// drawn from a short list, so on the kind side) deflated 7.8x with compress/flate's BestSpeed in
// 110 us and inflated in 113 us per replay, against the 1.2-1.6 ms of CPU a stream costs the
// process; or a lower GOGC or a GOMEMLIMIT in the command.
//
// Package manager imports nothing else from streamgate, and must never import gateway, upstream,
// plugins or auth.
package manager
