// Package upstreamtest is a scriptable fake Gemini API for tests, benchmarks and load tests.
//
// A Fake is an http.Handler speaking Gemini's wire format: events framed "data: {json}\r\n\r\n"
// (or LF, or CR only), finishReason and usageMetadata on the last chunk, and error bodies
// {"error":{"code","message","status"}}. It answers the paths of the Gemini Developer API's
// models collection (/{version}/models/{model}:streamGenerateContent?alt=sse, :generateContent
// and every other method, /{version}/models/{model}, /{version}/models), the Vertex AI ones
// (/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:...), and any other path as a
// plain event stream. It answers Gemini's OpenAI-compatible endpoints too, any path with /openai/
// in it ending in chat/completions, embeddings or models (so an OpenAI server's base URL below
// such a path serves as well): a chat completion, streamed in OpenAI's dialect when the request
// asks for "stream": true (OpenAIStream, with the usage chunk include_usage asks for); scripts
// make OpenAI's streamed answers (OpenAIStream, OpenAIStreamFailing) and errors. A call of the models collection other than the generateContent pair
// (countTokens, embedContent, batchEmbedContents, a model's GET, the list) that no queued script is
// left for is answered as the simulator answers it; every other request plays the next queued
// Script, or the default one: per-step delays, error statuses with Retry-After, a connection
// reset before the first byte or mid-stream (the connection is hijacked and closed with RST),
// Gemini's raw JSON error tail, stalls, huge events, event IDs and resumption from Last-Event-ID. It counts requests and cancelled requests
// (those whose context ended before their script did) and records what each request carried.
//
// Server runs a Fake on a loopback httptest.Server; cmd/fakegemini serves one for load tests. The
// JSON it sends is built by the same code as the simulator provider's (upstream/internal/geminiwire).
//
// Package upstreamtest imports manager, upstream/sse and upstream/internal/geminiwire from
// streamgate; it must never import gateway or plugins, and upstream itself does not import it.
package upstreamtest
