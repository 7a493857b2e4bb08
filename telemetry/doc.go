// Package telemetry owns streamgate's metrics and tracing set-up: the Prometheus registry with
// every streamgate_ metric, the model label cap, the build information, and the OpenTelemetry
// tracer provider with its OTLP exporter.
//
// # Data path
//
// Telemetry is beside the data path, never in it. Nothing here is global: NewMetrics builds its
// own prometheus.Registry (not the default one), NewTracing its own TracerProvider (it never sets
// otel's globals), and the command passes them to the packages that record. Those packages do not
// import telemetry: each declares the small interface it calls (the gateway an HTTP recorder, the
// upstream runner an attempt recorder, and so on) and *Metrics satisfies them all, so a test can
// pass a fake and a package stays free of Prometheus.
//
// # Cost
//
// The methods on the hot paths (ChunkPushed, HTTPRequest, StreamOpened, ...) look their label
// children up in a copy-on-write map keyed by the label values: an atomic load and a map lookup,
// no lock, no hashing of label strings by client_golang, no allocation. A child is created once,
// on the first call with a new label set. Label values must come from bounded sets (route
// templates, provider names, plugin names, stream statuses); the one label a client chooses, the
// model, goes through ModelLabels, which admits the configured models and the first MaxModels
// others that the upstream served, and maps every other name to "other".
//
// # Tracing
//
// NewTracing returns a no-op provider unless an OTLP endpoint is configured, by TracingConfig or
// by the standard OTEL_EXPORTER_OTLP_* variables (read through an injected lookup, so tests are
// hermetic). The propagator is W3C tracecontext. The GenAI attribute keys are constants here,
// because the Go semconv packages dropped the GenAI group after v1.41.0.
//
// Package telemetry imports nothing else from streamgate, and must never import gateway or
// upstream (nor manager, plugins or cluster): they depend on interfaces of their own, and
// cmd/streamgate wires this package into them.
package telemetry
