// Package geminiwire writes and reads Gemini's wire format: the JSON of streamed and complete
// GenerateContentResponses (and whether a streamed one is final), Gemini's error bodies, the end
// of a streamed body that follows its last event, the paths of the Gemini and Vertex AI models
// collection (ParseModelPath), and the simulated answers to the rest of that collection
// (ServeModels: countTokens, embeddings, the models list and get). The embedded simulator
// provider and the runner (package upstream) and the scriptable fake (package upstreamtest) share
// it, so that what is written and what is read agree.
//
// Package geminiwire imports only manager (for StreamError) and upstream/sse from streamgate.
package geminiwire
