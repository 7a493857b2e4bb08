// Package admin owns the operator's listener: /metrics, /healthz, /readyz and, when enabled,
// /debug/pprof/, on an address of their own (admin.listen, 127.0.0.1:9464 by default).
//
// # Why a listener of its own
//
// The admin listener has its own connection budget (golang.org/x/net/netutil.LimitListener, 64
// connections by default) and its own timeouts, so a scrape or a health check still gets an
// answer while the gateway's listener is saturated with streams, and a misbehaving scraper cannot
// take more than its budget. It is a separate package, not part of telemetry, because it serves
// more than telemetry (readiness, profiles) and takes what it serves as plain http.Handler and
// func values: the metrics handler comes from telemetry, readiness from whoever owns it, both
// wired by cmd/streamgate.
//
// # Timeouts
//
// Request headers must arrive within ReadHeaderTimeout and a request within ReadTimeout; a
// response must be written within WriteTimeout (net/http/pprof adds the ?seconds a profile or a
// trace is asked for), and an idle keep-alive connection is closed after IdleTimeout.
//
// # Errors
//
// Unknown paths, pprof when it is disabled, a wrong method and an unready /readyz answer with
// Gemini's error body, {"error":{"code","message","status"}}, like the gateway.
//
// Package admin imports nothing else from streamgate, and must never import gateway, upstream,
// manager or plugins.
package admin
