package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// OTLP protocols, the values of telemetry.otlp_protocol and OTEL_EXPORTER_OTLP_PROTOCOL.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// DefaultServiceName is service.name when neither TracingConfig nor OTEL_SERVICE_NAME sets it.
const DefaultServiceName = "streamgate"

// tracesPath is where an OTLP/HTTP receiver takes traces.
const tracesPath = "/v1/traces"

// TracingConfig configures NewTracing. Each setting left empty falls back to the standard
// OpenTelemetry variable named on it, read through LookupEnv.
type TracingConfig struct {
	// Endpoint is the OTLP receiver's URL (telemetry.otlp_endpoint), http or https: for
	// http/protobuf, http://collector:4318 (an empty path means /v1/traces); for grpc,
	// http://collector:4317 (http means plaintext). Empty falls back to
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is), then OTEL_EXPORTER_OTLP_ENDPOINT
	// (/v1/traces appended for http/protobuf); with none of them tracing is off.
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTPProtobuf (telemetry.otlp_protocol). Empty falls
	// back to OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL, then
	// http/protobuf, the specification's default.
	Protocol string
	// ServiceName is service.name (telemetry.service_name). Empty falls back to
	// OTEL_SERVICE_NAME, then DefaultServiceName.
	ServiceName string
	// ServiceVersion is service.version, BuildInfo.Version for the command.
	ServiceVersion string
	// LookupEnv reads the OTEL_ variables; nil reads none. OTEL_SDK_DISABLED=true or
	// OTEL_TRACES_EXPORTER=none turn tracing off whatever the rest says.
	LookupEnv func(string) (string, bool)
}

// Tracing is the tracer provider and propagator the command hands to the gateway and the
// upstream. Off, the provider is a no-op and the propagator still carries an incoming
// traceparent through, so a caller's trace continues past the gateway.
type Tracing struct {
	provider   trace.TracerProvider
	sdk        *sdktrace.TracerProvider // nil when off
	propagator propagation.TextMapPropagator
	endpoint   string
	protocol   string
}

// NewTracing builds the tracer provider: with an endpoint configured, an SDK provider that
// batches spans to an OTLP exporter; without one, a no-op. ctx bounds building the exporter.
//
// The exporter and the SDK read the rest of their settings from the process environment
// themselves (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE,
// OTEL_TRACES_SAMPLER, OTEL_BSP_*); the endpoint, protocol and service name are resolved here.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	env := func(name string) string {
		if cfg.LookupEnv == nil {
			return ""
		}
		v, _ := cfg.LookupEnv(name)
		return strings.TrimSpace(v)
	}
	t := &Tracing{provider: noop.NewTracerProvider(), propagator: propagation.TraceContext{}}
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") {
		return t, nil
	}
	switch exp := env("OTEL_TRACES_EXPORTER"); exp {
	case "none":
		return t, nil
	case "", "otlp":
	default:
		return nil, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER %q is not supported (otlp or none): %w", exp, ErrInvalidConfig)
	}
	protocol := firstNonEmpty(cfg.Protocol, env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), env("OTEL_EXPORTER_OTLP_PROTOCOL"), ProtocolHTTPProtobuf)
	if protocol != ProtocolGRPC && protocol != ProtocolHTTPProtobuf {
		return nil, fmt.Errorf("telemetry: OTLP protocol %q is not supported (grpc or http/protobuf): %w", protocol, ErrInvalidConfig)
	}
	endpoint, err := resolveEndpoint(cfg.Endpoint, env, protocol)
	if err != nil || endpoint == "" {
		return t, err
	}
	exporter, err := newExporter(ctx, protocol, endpoint)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL), resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(firstNonEmpty(cfg.ServiceName, env("OTEL_SERVICE_NAME"), DefaultServiceName)),
			semconv.ServiceVersion(cfg.ServiceVersion),
		))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: resource: %w", err), exporter.Shutdown(ctx))
	}
	t.sdk = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	t.provider, t.endpoint, t.protocol = t.sdk, endpoint, protocol
	return t, nil
}

// resolveEndpoint returns the exporter URL from the configured endpoint or the variables, or ""
// when tracing is off.
func resolveEndpoint(configured string, env func(string) string, protocol string) (string, error) {
	source, raw, base := "telemetry.otlp_endpoint", configured, false
	if raw == "" {
		source, raw = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	}
	if raw == "" {
		source, raw, base = "OTEL_EXPORTER_OTLP_ENDPOINT", env("OTEL_EXPORTER_OTLP_ENDPOINT"), true
	}
	if raw == "" {
		return "", nil
	}
	u, err := ParseEndpoint(raw)
	if err != nil {
		return "", fmt.Errorf("telemetry: %s: %w", source, err)
	}
	if protocol == ProtocolHTTPProtobuf {
		switch {
		case base:
			// The specification appends the signal's path to the base endpoint.
			u.Path = strings.TrimSuffix(u.Path, "/") + tracesPath
		case u.Path == "" || u.Path == "/":
			u.Path = tracesPath
		}
	}
	return u.String(), nil
}

// ParseEndpoint checks an OTLP endpoint: an absolute http or https URL with a host and no
// query, user or fragment. configs validates telemetry.otlp_endpoint with it.
func ParseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("an OTLP endpoint must be an http or https URL such as http://127.0.0.1:4318: %w", ErrInvalidConfig)
	}
	return u, nil
}

func newExporter(ctx context.Context, protocol, endpoint string) (*otlptrace.Exporter, error) {
	if protocol == ProtocolGRPC {
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	}
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Endpoint returns the URL spans are exported to, "" when off.
func (t *Tracing) Endpoint() string { return t.endpoint }

// Protocol returns the OTLP protocol spans are exported with, "" when off.
func (t *Tracing) Protocol() string { return t.protocol }

// TracerProvider returns the provider to create tracers from.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Propagator returns the W3C tracecontext propagator: it extracts an incoming traceparent and
// injects the current span into outgoing requests.
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// Transport wraps base (http.DefaultTransport when nil) so that each request is a client span
// of the request context's span and carries its traceparent header.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator))
}

// Shutdown exports the spans still buffered and stops the exporter, within ctx. It is a no-op
// when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shut down tracing: %w", err)
	}
	return nil
}
