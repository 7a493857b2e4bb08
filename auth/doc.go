// Package auth owns who may use the gateway and how the gateway proves itself upstream.
//
// Gateway side: a Keyring holds the configured client keys (raw or as SHA-256 digests), each with an ID
// and a tenant, and Authenticate matches a presented key in constant time. KeyFromRequest reads the key a
// client presents (x-goog-api-key header, Authorization: Bearer, or the ?key= query parameter of the
// official Gemini SDKs and browser EventSources), rejecting a request that presents two different keys.
// IsLoopback tells the gateway whether a listen address is loopback-only, where it may run without keys.
//
// Stream tokens: Tokens mints and verifies short-lived JWTs (HS256, github.com/golang-jwt/jwt/v5) that
// grant read access to one stream of one tenant, so that a browser's EventSource never holds a gateway
// key. AuthenticateRead is the check of the two routes a token opens (a stream's events and info): a key
// as everywhere, or a token for that stream as ?token= or Authorization: Bearer; AuthenticateRequest,
// the check of every other route, refuses a token as a wrong key. docs/tokens.md documents the claims
// for backends that mint tokens offline with the same secret.
//
// Upstream side: APIKey (Gemini Developer API) and GoogleOAuth (Vertex AI, from a service-account file or
// Application Default Credentials) set the gateway's own credential on an outgoing request through one
// method, Apply(ctx, req). The upstream package declares that one-method interface itself, and a second
// one, Secrets(), through which both name the key or the recent access tokens they put on requests so
// that upstream can scrub them from upstream text that echoes them.
//
// Credentials never appear in an error message, a log line, fmt output, JSON or a response: every type
// here that holds a key or token prints, logs and marshals as Redacted (or as a description without the
// secret), validation errors name the entry by ID and index, never by key, token-endpoint failures
// report the HTTP status and OAuth2 error code only, never the response body, and Verify's errors are
// fixed values that cannot quote the token they refuse. StripKey removes ?token= as well as keys.
//
// Package auth imports nothing else from streamgate, and must never import gateway or manager.
package auth
