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
// one, so counting chunks is left to the producers.
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
// A closed stream's history is kept for RetainClosed (MaxRetained at most) and compacted as it
// closes into one slice of exactly its chunks, the Data still shared. The ring grows by append
// until it holds HistorySize slots, whatever the byte bound keeps, so a closed stream held spare
// slots for the five minutes: up to 2x its chunks just past a growth step (64 chunks: 76 slots,
// 6 KiB, against 5.25 KiB exact), and all 4,096 slots (320 KiB) when HistoryBytes had trimmed a
// long stream to a few chunks. A retained stream then costs 80 bytes per chunk (the Chunk) plus
// its Data rounded up to its allocation size class, plus the stream itself, about 2.4 KiB (struct,
// timer, labels; heap profile). On the Gemini ladder of issue 15 (64 events of about 200 bytes)
// that is 20-23 KiB per closed stream (Data 13-15 KiB, chunks 5.25 KiB, 0.75 KiB less than the
// ring's), 2,300-2,800 streams finished in a 4 s rung, 45-55 MiB of the heap. An operator trading replay of finished streams for memory sets
// retain_closed or max_retained: memory is then about that much times the streams finished per
// retain_closed, up to max_retained.
//
// Retention is not what sets the ladder's peak RSS: with retain_closed: 1s it measured the same
// (239 MiB), because the peak comes while 1,000 streams are open: about 5.7 goroutines per stream
// (the server connection's background reader, the handler, the upstream Runner's goroutine, the
// transport's read and write loops; a ReverseProxy has all but the Runner's) at 10-11 KiB of stack
// each, 55-62 MiB in all, and a live heap of 125-145 MiB (HeapAlloc) with GOGC's headroom above
// it, the open stream's 16 KiB SSE read buffer, bufio buffers and geminiwire tail among it. Measured
// with
//
//	go run ./cmd/loadtest -mode gemini -ladder 1000 -level-time 4s
//
// with admin.pprof on in the loadtest's streamgate config (a local edit), polling
// /debug/pprof/heap?gc=1 (go tool pprof -top -sample_index=inuse_space), /debug/pprof/heap?debug=1
// (Stack, HeapAlloc) and /debug/pprof/goroutine during the rung, load average 3.3-7.6: RSS
// streamgate 255 MiB before the compaction and 239-266 MiB after, against the ReverseProxy's
// 106-111 MiB in the same runs (2.15-2.5x); run-to-run noise is larger than any change here.
//
// Package manager imports nothing else from streamgate, and must never import gateway, upstream,
// plugins or auth.
package manager
