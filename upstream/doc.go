// Package upstream talks to the LLM provider and feeds the manager.
//
// It owns the providers (Gemini Developer API, Vertex AI, generic SSE, the embedded simulator), the
// retry and reconnection policy, the error-decision interface that error-handler plugins fill, and the
// runner that starts an upstream call for a manager stream and pushes every event into it.
//
// Package upstream imports manager, upstream/sse and auth; it must never import gateway or plugins.
package upstream
