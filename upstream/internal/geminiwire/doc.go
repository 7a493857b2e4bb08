// Package geminiwire writes Gemini's wire format: the JSON of streamed and complete
// GenerateContentResponses, Gemini's error bodies, and the paths of the Gemini and Vertex AI
// generateContent methods. The embedded simulator provider (package upstream) and the scriptable
// fake (package upstreamtest) share it, so that both answer exactly alike.
//
// Package geminiwire imports only upstream/sse from streamgate.
package geminiwire
