// Package authtest provides a local OAuth2 token endpoint that answers like Google's, for tests of
// code that uses auth.GoogleOAuth (the upstream package's Vertex AI provider, the gateway's wiring).
//
// A TokenServer verifies the JWT-bearer grant a service account sends (RS256 signature, key ID,
// issuer, audience, scope, expiry) and the refresh-token grant of gcloud user credentials, issues
// opaque access tokens it can later recognise (Valid), counts requests, and can be told to fail or to
// hold requests. ServiceAccountJSON and AuthorizedUserJSON write credential files whose token_uri
// points at it, so nothing in a test ever talks to Google.
//
// Package authtest imports nothing from streamgate.
package authtest
