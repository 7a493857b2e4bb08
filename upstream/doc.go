// Package upstream talks to the LLM provider and feeds the manager.
//
// It owns the providers (Gemini Developer API, Vertex AI, any OpenAI-compatible server, a generic
// SSE endpoint, the embedded simulator), the retry and reconnection policy, the error-decision interface that error-handler
// plugins fill (Decider), and the Runner that starts an upstream call for a manager stream and
// pushes every event into it. Subpackage upstreamtest is a scriptable fake Gemini for tests and
// load tests; upstream/internal/geminiwire is the Gemini wire format: the simulator and the fake
// write it, the runner reads it.
//
// Package upstream imports manager, upstream/sse and (in tests) auth and telemetry; it must never
// import gateway or plugins. Credentials reach it as the one-method Credential interface that auth's APIKey and
// GoogleOAuth implement, and which they extend with SecretReporter, both declared here.
//
// # Data path
//
//	Runner.Run(ctx, streamID, Request)
//	  -> Provider.StreamRequest      a fresh *http.Request per attempt, credential applied
//	  -> Runner.send                 the transport's RoundTrip (the runner's own, or the
//	                                 simulator's in-process pipe), no redirects followed
//	  -> response body               watched: first-event and idle timeouts, its end kept
//	  -> sse.Reader                  one event at a time, up to RunnerConfig.MaxEventSize
//	  -> manager.Handle.PushChunk    (Streams.PushChunk by ID without StreamHandles)
//	                                 Data copied once (the manager keeps it), Event "" for
//	                                 "message", Time = when the event's last byte was read;
//	                                 Metrics.ChunkPushed
//	  -> Streams.CloseStream("completed") or HandleStreamError(err, terminate=true)
//
// Run blocks until the stream ends, and returns an error only when there is no stream to report
// into (unknown stream, manager shut down); a request the provider cannot build fails the stream
// with 400 INVALID_ARGUMENT. When anyone else closes the stream, the upstream request's context
// is cancelled at once and Run returns: the stream's handle runs a callback as it closes
// (manager.Handle.AfterClose), or, for a Streams without StreamHandles (cluster.Node), a
// goroutine per Run waits on Done. Every
// failure is reported into the stream, once, as an error chunk; an error before the first event is
// therefore the stream's first chunk, which the gateway turns into an HTTP status and body.
//
// # Dialects
//
// A 200 answer to a streaming request must be an event stream: its Content-Type is checked before
// any of its body is read (text/event-stream, or for the generic SSE provider its configured media
// types). These failures are retried like a body that ends early, since a proxy's error page may be
// passing.
//
// Gemini, Vertex and the simulator speak DialectGemini: a stream is complete only when a chunk had
// a finishReason (or the prompt a blockReason) and the body then ended cleanly with nothing but
// white space after the last event. The SSE parser skips the lines of Gemini's mid-stream error,
// a raw (often pretty-printed) {"error":{...}} body after some events, so the runner keeps the
// bytes read past the last event (at most the last 16 KiB of the body) and parses what follows the
// last blank line when the body ends; an event whose data is such an error counts too. An event
// whose data is not shaped like a JSON object (its ends are looked at, not every byte) is not
// Gemini's and ends the attempt before it is pushed. A Gemini request is never re-sent once an
// event was forwarded: that would duplicate deltas.
//
// A Request with OpenAI set (the gateway's OpenAI route with "stream": true) is POSTed to the
// provider's OpenAI-compatible chat/completions, its body unchanged, and read in DialectOpenAI
// (openAIBody), which the OpenAI provider always speaks: every event's data, a
// chat.completion.chunk, is pushed as it is, up to data: [DONE], which is not pushed and alone
// completes the stream once the body then ends cleanly. An event that is an error,
// {"error":{...}} alone or wrapped in a JSON array as Gemini's compatibility endpoint may wrap it,
// fails the stream with that error (OpenAIError.StreamError: a Gemini-shaped error keeps its code
// and status, OpenAI's gets the code of its type), and so does such a raw error body after the
// last event, kept in a tail as for Gemini. A body that ends without [DONE], an event after it, or
// one whose data is no JSON object is not a complete OpenAI stream (503 UNAVAILABLE). As with
// Gemini, the request is never re-sent once an event was forwarded. The error answer before any
// event is read as for Gemini, OpenAI's and the array-wrapped bodies included (statusFailure).
// An OpenAI-shaped error, as an answer or an event, is kept as it came, scrubbed like its message,
// as the stream error's Raw (manager.StreamError.Raw), from which the gateway's OpenAI route
// tells its callers the error's own type, param and code.
// The generation's tokens, response ID and finish reasons come from its last two chunks, parsed
// once when the body ends (the usage chunk stream_options.include_usage adds, and the one before
// it with the finish reason). A provider without that endpoint (the generic SSE provider)
// refuses the Request with ErrUnsupported, which fails the stream with 501 UNIMPLEMENTED.
//
// The generic SSE provider speaks DialectSSE: a clean end of the body (io.EOF) completes the
// stream and a 204 answer ends it; an abrupt end (unexpected EOF, reset, idle timeout) is resumed
// when the stream sent an id field, with a Last-Event-ID header, after the stream's retry field
// (or the backoff interval when it sent none). The server is trusted to resume after that ID, as
// EventSource does; events are never re-pushed by the runner itself.
//
// # Failures
//
// Codes and statuses of the error chunks (the Code is an HTTP status, the Status a Google RPC
// status name, as in Gemini's error body):
//
//	failure                                      code  status               built-in policy
//	connection error (dial, TLS, reset, EOF      503   UNAVAILABLE          retry before the first event
//	  before the response headers)
//	HTTP 408, 429, 500, 502, 503, 504            same  body's, else the     retry before the first event,
//	                                                   status's name        after Retry-After
//	other HTTP 4xx/5xx                           same  body's, else the     terminate
//	                                                   status's name
//	other HTTP status (1xx-3xx but 200;          500   INTERNAL             terminate (redirects are
//	  204 for Gemini)                                                       never followed)
//	body dropped (reset, unexpected EOF)         503   UNAVAILABLE          retry before the first event;
//	                                                                        SSE: resume; Gemini: terminate
//	Gemini body ended without a final chunk,     503   UNAVAILABLE          retry before the first event,
//	  or with bytes that are not an event                                   else terminate
//	200 whose Content-Type is not an event       503   UNAVAILABLE          retry (checked before the
//	  stream (text/event-stream; for SSE,                                   body is read, so always
//	  SSEConfig.ContentTypes)                                               before the first event)
//	Gemini event whose data is not a JSON        503   UNAVAILABLE          retry before the first event,
//	  object                                                                else terminate
//	OpenAI body ended without data: [DONE], an   503   UNAVAILABLE          retry before the first event,
//	  event after it, or data that is no JSON                               else terminate
//	  object (nor an error in an array)
//	OpenAI error event or error tail             its   its own, else the    retry before the first event
//	                                             own   code's name          when its code is retryable
//	Gemini error tail or error event             its   its own (and its     retry before the first event
//	                                             own   own message)         when its code is retryable
//	no event within Timeouts.FirstEvent          504   DEADLINE_EXCEEDED    terminate
//	  (Generate: no response headers)
//	no byte for Timeouts.Idle after an event     504   DEADLINE_EXCEEDED    SSE: resume; Generate: retry;
//	  (Generate: while reading the body)                                    else terminate
//	event over MaxEventSize (Generate: a         500   INTERNAL             terminate
//	  response body over it)
//	credential failed (token fetch)              500   INTERNAL             terminate
//	caller's context cancelled / deadline        499   CANCELLED /          (no decision)
//	                                             504   DEADLINE_EXCEEDED
//	stream closed by someone else                -     -                    stop quietly
//
// Every code the runner chooses itself is the one Google's canonical table pairs with its status
// (manager.CodeForStatus): an upstream the gateway cannot reach or read is 503 UNAVAILABLE or 504
// DEADLINE_EXCEEDED, never 502, which that table pairs with no status. An upstream's own error
// keeps its code and status.
//
// A non-JSON or empty error body still gives a message naming the status, the body's size and
// media type; the body itself is never quoted, since it may echo anything.
//
// # Retries and decisions
//
// Every failure above (but the last two) is put to the Decider as an ErrorInfo (PhaseUpstream,
// StreamID, Attempt, Elapsed, Err, HTTPStatus, Retryable); ActionDefault falls back to the built-in
// policy in the table. Whoever decides, two rules hold: a retry that is not safe (Retryable false:
// an event was forwarded and the stream cannot resume) is refused and becomes a terminate, logged;
// and retries stay within RetryConfig: at most MaxAttempts attempts and no wait that would end past
// MaxElapsed. Waits follow exponential backoff with jitter (cenkalti/backoff/v4), raised to a
// Retry-After header (seconds or HTTP date), to Decision.RetryAfter, and for a resumed SSE stream
// replaced by its retry field. A cancelled context or a closed stream ends a wait at once.
// ActionSkip ends the stream without an error chunk, closed with ReasonSkippedPrefix + message;
// ActionTerminate with Decision.Err reports that error instead.
//
// Generate (non-streaming generateContent) retries the same way and then passes the last response
// through, status, headers and body, whatever its status, when its body is a Gemini error (or it
// succeeded); an error body that is not Gemini's JSON is replaced by the described error above.
// Its timeouts are the streaming route's, the response headers standing for the first event, and
// it reads the whole body before returning, so that a body that stalls or drops is an error the
// caller answers with instead of a passed-through response cut short.
//
// # Unary calls
//
// Call is Generate for every unary call of Gemini's models collection, a Call: a model's method
// (countTokens, embedContent, batchEmbedContents, generateContent, any other but
// streamGenerateContent), one model (GET models/{model}) or the list (GET models, its pageSize
// and pageToken passed on). Providers build them through UnaryProvider: Gemini under the
// caller's API version (Request.APIVersion and Call.APIVersion, so that the gateway's /v1 and
// /v1alpha routes reach the same version upstream), Vertex on its own paths and versions
// (methods under projects/{p}/locations/{l}/publishers/google/models/{m}, the model under
// publishers/google/models/{m}, the list in v1beta1, the only version that has it), the
// simulator in-process. The generic SSE provider has no models collection: ErrUnsupported.
//
// A Call with OpenAI set is one of the OpenAI-compatible API instead (chat/completions,
// embeddings, models): Gemini's at {base}/v1beta/openai/... with the API key moved to
// Authorization: Bearer, the header that endpoint reads; the simulator's at the same path;
// Vertex's chat/completions at {base}/{version}/projects/{p}/locations/{l}/endpoints/openapi/
// (Vertex has no OpenAI-compatible embeddings or models list: ErrUnsupported); the generic SSE
// provider has none (ErrUnsupported). The OpenAI provider (NewOpenAI, kind openai in the
// configuration) is any OpenAI-compatible server, OpenAI, vLLM, llama.cpp or Ollama: its base URL
// is the part before /chat/completions, its credential's key goes as Authorization: Bearer (or
// none for a server without keys), it serves these three endpoints and the streamed chat
// completions, and refuses every Gemini request and Call with ErrOpenAIOnly (an ErrUnsupported),
// so that the gateway can name the routes it does serve. Its error answers pass through like Gemini's, and ParseOpenAIError reads them for
// the gateway: OpenAI's error, Gemini's, or either wrapped in a JSON array.
//
// # Telemetry
//
// The runner records through what RunnerConfig passes in, never through globals: Metrics (the
// interface declared here, which *telemetry.Metrics implements), a TracerProvider and a
// Propagator. Each attempt counts once with its HTTP status (0 without a response), each retry
// decided once; a generation records its time to first chunk when its first event is pushed
// (measured from the start of Run, so retries count) and, once it ends whatever its outcome,
// its duration, chunk count and the tokens of the Gemini final chunk's usageMetadata. Every pushed
// event counts as a chunk of the stream's manager.LabelSource. A non-streaming Generate that
// succeeds counts as a generation of one chunk; any other unary Call counts its attempts and
// retries only, and its spans are named after its operation (embeddings for embedContent and
// batchEmbedContents, the method's own name such as countTokens, get_model, list_models). Tokens, the response ID and the finish reasons
// come from the final chunk that the Gemini dialect parses anyway to know the stream is complete
// (geminiwire.Finality), so no chunk is parsed for telemetry on the hot path.
//
// Each attempt is an OpenTelemetry client span, a child of the span in the context Run or
// Generate is given (the gateway's server span, which the gateway carries over into the context
// it detaches from the request for Run), named "generate_content {model}" with the GenAI
// attributes: gen_ai.operation.name, gen_ai.provider.name (gcp.gemini, gcp.vertex_ai, and
// streamgate.simulator and streamgate.sse for the two providers the conventions do not name),
// gen_ai.request.model, the final chunk's gen_ai.response.id, gen_ai.response.finish_reasons and
// gen_ai.usage.*, http.response.status_code, streamgate.stream.id and streamgate.upstream.attempt.
// A failed attempt gets error.type (the status code of an error answer, else a fixed name per
// failure: connect, connection_dropped, truncated, idle_timeout, first_event_timeout, too_large,
// credential, budget_exhausted, not_event_stream, cancelled, deadline_exceeded) and, when it is retried, a
// streamgate.retry event naming the next attempt; the attempt that pushes the first chunk gets a
// streamgate.first_chunk event. Every attempt's request carries the span's traceparent (through
// the Propagator) and the caller's request ID (WithRequestID) as X-Request-Id; the request ID is
// also the request_id of the runner's log lines. When a stream ends, Run logs one info line,
// "upstream stream ended", with stream_id, request_id, model, status (completed, error,
// cancelled, skipped, closed), attempts, chunks, ttfc_ms, duration_ms and the tokens; every
// duration the runner logs is a float of milliseconds.
//
// Package upstream spells out the GenAI attribute names rather than import telemetry (a test
// checks both agree), so that it depends on the OpenTelemetry API only, not on Prometheus or the
// exporters.
//
// # Credentials
//
// Credentials never appear in an error, a log line or a chunk: requests carry them in headers,
// errors describe a request by host (and path) only, never by URL query or headers, and errors
// are unwrapped from *url.Error, whose text would include the URL (the runner calls its transport
// itself rather than through an http.Client, so transport errors do not come wrapped at all).
// Redirects are not followed, so a credential header never travels to a host the upstream points
// at.
//
// What the upstream writes may still echo a credential (an error quoting the key it refused). A
// provider that can name its secrets (SecretReporter: the credential's API key or current and
// recent OAuth tokens, the generic SSE provider's header values, a configured URL's query values,
// each of at least 8 bytes) has them replaced by Redacted in every failure before a Decider, a log
// line or the stream sees it: the error's message and status, and the error body Generate passes
// through. Data chunks are not scanned: the hot path stays a copy, and a credential is echoed in
// errors, not in the model's output.
//
// # Performance
//
// Issue 15 asks the Gemini route for CPU per stream within 1.1x of httputil.ReverseProxy. The
// runner's part of a stream is one SSE parse per event, a copy of its data, the push, and per
// stream the request, the round trip and one parse of the final chunk. Measured and chosen:
//
//   - geminiwire.Tail compacts before it grows: KeepLast drops nearly every byte after each
//     event, but Write moved the kept bytes to the front only before passing TailSize, so every
//     stream's tail grew by append to 16 KiB (7.3% of the gateway's CPU and 141 MB allocated in
//     5 s at 1,000 streams). Now it stays one read large. BenchmarkTail (64 events of 256 B):
//     63,328 B and 12 allocations per stream before, 288 B and 1 after; TestTailStaysSmall holds
//     it to 2 allocations for 500 events.
//   - sse.Reader's first buffer is 4 KiB instead of 16: every open stream holds it (14.7 MB
//     live at 1,000 streams), an upstream read is usually one event of a few hundred bytes, and
//     it still doubles for a larger event. The parser's benchmarks did not move (8 alternating
//     runs of main's and this tree's test binaries, benchstat: ReaderGemini 136.5 -> 140.1 ns
//     ±29%/15%, GatewayFrames 244 -> 260 ns ±25%/32%, MultiLine 526 -> 515 ns, 8MiBEvent 8.4 ->
//     8.1 ms, all p > 0.5; 8MiBEvent makes 16 allocations instead of 14). It is 1 KiB since,
//     doubling up to 16 KiB while reads fill half of it or more (issue 15, third session:
//     gateway/doc.go).
//   - Runner.send calls the transport's RoundTrip itself, as ReverseProxy does, instead of
//     http.Client.Do, which copies the request headers and makes a closure for redirects it
//     would follow (about 3% of BenchmarkStreamRequest's gateway CPU), although the runner
//     refuses every redirect: 5 allocations and about 600 B less per request.
//   - The watchdog's idle timer is lazy (issue 15, second session): a read only stores when it
//     returned, and the timer, when it fires, re-arms itself for what is left of Idle after that
//     read, or cancels. Re-arming it on every read cost a timer-heap update per read
//     (time.(*Timer).Reset, runtime.(*timer).modify, time.resetTimer: 108 of streamgate's 9,255
//     perf samples at 256 streams, 2 of ReverseProxy's). The watchdog is also the watched body,
//     128 bytes so that what a read touches is one cache line, and reads the monotonic clock once
//     per read (the event's time is derived from it): one allocation less per attempt.
//     TestWatchdog checks on a synctest clock that Idle still fires exactly Idle after the last
//     byte, that a byte just before the expiry defers it, and that stop prevents a late cancel.
//     BenchmarkRunnerStreams (256 paced streams through one Runner, 1,000 events each), two
//     alternating rounds of main's (cb7fa88) and this tree's test binaries, load average 4-5:
//     cpu_ns/op 32,414 and 38,661 -> 29,499 and 31,055 (user 19,599 and 22,832 -> 18,125 and
//     18,340; most of the rest is the kernel's read and write per event); in their CPU profiles
//     the read loop without syscalls 1.98 and 2.38 s -> 1.88 and 2.01 s, the per-read watchdog
//     work 0.19-0.20 s -> 0.07-0.08 s. BenchmarkStreamRequest/gateway 308 -> 307 allocations;
//     BenchmarkInterChunkGap's gateway_added_chunk_latency_p50 21.4 and 28.4 -> 18.7 and 24.2
//     us; the parser is unchanged.
//   - The runner holds its stream by a manager.Handle when its Streams has StreamHandles, as
//     the manager, the stream layer outside cluster mode, has (cmd/streamgate's
//     TestTheRunnerHoldsItsStreamsByHandleOutsideClusterMode): each push skips the lookup by ID
//     (manager's Performance), and the handle's AfterClose callback replaces Run's goroutine
//     waiting on Done, so an open Gemini stream has 5 goroutines instead of 6.
//     BenchmarkOpenStreams (500 streams open at once, stalled after their first event; the
//     fake's side of each connection counted too): 5.0 goroutines and 20.9-23.7 KB of stacks per
//     stream through handles against 6.0 and 24.5-26.7 KB by ID. The callback's allocations (the
//     hook, its stop func, the runner's closure) equal the goroutine's: BenchmarkStreamRequest's
//     gateway request makes 306 allocations and 26,885-26,907 B against main's 308-309 and
//     27,229-27,253 (the 2 and about 340 B are the manager's ring sizing), alternately, 4 rounds
//     of 5000x, load average 2.7-3.5; its cpu_us/op moved within the noise (205-336 main,
//     233-325 here). BenchmarkCancelLatency (CloseStream to Run's return) p50 11-26 us both.
//
// Left as they are, with the reasons:
//
//   - The Gemini tail's copy of every byte read (geminiwire.Tail.Write, 0.05 s of the read
//     loop's 1.9 s in BenchmarkRunnerStreams): nearly every byte is dropped at the next event,
//     but only the parser knows which bytes it has consumed without an event, so avoiding the
//     copy needs a hook in sse.Reader's buffer shift, which has to keep the parser spec-exact.
//   - The per-chunk ctx.Err at 256 streams (context.(*valueCtx).Err, (*cancelCtx).Err: 120
//     samples) is not the runner's: it reads no context per event. It is manager.QueuedClient.Run
//     checking the handler's request context, a chain of WithValue layers, before every wait.
//   - Metrics.ChunkPushed resolves its series per chunk (a map lookup of the source label);
//     resolving it once per stream needs a per-stream handle in the Metrics interface.
//   - The runner goroutine's stack grows twice (Run's 1 KiB frame, then Transport.roundTrip):
//     runtime.newstack is about 3.7% of the gateway's CPU in BenchmarkStreamRequest. The
//     goroutine is the gateway's (startGeneration) and Go has no way to start one with a larger
//     stack; serving the caller on its handler goroutine (issue 15) would avoid it.
//   - geminiwire.ParseFinal (encoding/json, once per stream): about 10 us and 14 allocations for
//     a 450-byte final chunk on this loaded machine, under 1% of a 64-event stream's CPU. A
//     hand-written scanner would have to match encoding/json's case-insensitive keys and
//     duplicate-key rules to be safe.
//
// Commands (test and command binaries built from main and from this tree, run alternately):
//
//	go test -run '^$' -bench Tail -benchmem ./upstream/internal/geminiwire
//	go test -run '^$' -bench . -benchmem ./upstream/sse
//	go test -run '^$' -bench 'StreamRequest' -benchmem -benchtime 5000x ./gateway
//	go test -run '^$' -bench 'StreamRequest/gateway' -benchtime 20000x -cpuprofile cpu.out ./gateway
//	go test -run '^$' -bench 'RunnerStreams' -benchtime 256000x -cpuprofile cpu.out ./upstream
//	go tool pprof -top -cum -focus 'session..read' -ignore 'syscall\.|Syscall' upstream.test cpu.out
//	go test -run '^$' -bench 'OpenStreams|CancelLatency' -benchtime 3x ./upstream
//	loadtest -mode gemini -streamgate streamgate -ladder 1000 -level-time 6s
//
// A/B against main (2ff8f12) with all three changes, on 2 shared cores (load averages 1-8, so
// times are noisy). BenchmarkStreamRequest/gateway, 3 rounds of 5000x: 360 -> 355 allocs and
// 31,634-31,646 -> 30,988-31,002 B per request; its cpu_us/op (251-278 main, 178-381 here) and
// BenchmarkTTFB and BenchmarkInterChunkGap (2000x each; gateway added chunk latency p50
// 34.7-41.0 us main, 33.6-36.9 here) moved within the noise. cmd/loadtest, Gemini route at 1,000
// streams, two alternating pairs (load average 2.8-6.0):
//
//	build   streamgate CPU/stream  ReverseProxy  ratio  streamgate RSS  ReverseProxy  ratio
//	before  1.598 ms               1.279 ms      1.25x  307 MiB         129 MiB       2.38x
//	after   1.476 ms               1.306 ms      1.13x  244 MiB         129 MiB       1.89x
//	before  1.252 ms               952 us        1.31x  304 MiB         126 MiB       2.40x
//	after   1.282 ms               1.005 ms      1.27x  240 MiB         125 MiB       1.93x
package upstream
