package gateway

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the gateway's tracer: the instrumentation scope of its spans.
const tracerName = "github.com/streamgate/streamgate/gateway"

// attrStreamID is the span attribute of the stream a request names or makes; telemetry.AttrStreamID
// spells the same key, which the gateway cannot import.
const attrStreamID = attribute.Key("streamgate.stream.id")

// startSpan continues the trace of the request's traceparent (or starts one) with a server span
// named as the OpenTelemetry HTTP conventions say: "{method} {route}", the method alone when no
// route matched. The span ends in endSpan.
func (s *Server) startSpan(c *gin.Context, route string) (context.Context, trace.Span) {
	r := c.Request
	ctx := s.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	if s.noTracing {
		// The no-op tracer's span would be the caller's span context, or none, without
		// recording anything: the one ctx already holds, without naming or attributing it.
		return ctx, trace.SpanFromContext(ctx)
	}
	method := spanMethod(r.Method)
	name := method
	if method == "_OTHER" {
		name = "HTTP"
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)),
	)
	if route != routeUnmatched {
		name += " " + route
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddress(host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// endSpan ends a request's server span with its status and stream. Only a 5xx is an error of the
// server's: a 4xx is the client's.
func endSpan(span trace.Span, status int, streamID string) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	if streamID != "" {
		span.SetAttributes(attrStreamID.String(streamID))
	}
	if status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	}
}

// spanMethod is the request's method as http.request.method takes it: a method of RFC 9110 or
// PATCH, anything else "_OTHER", so that clients cannot invent span names.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// detached returns ctx for work that outlives its request (the upstream runner): without its
// cancellation, and with the request's server span replaced by that span's context, so that
// the spans the work starts are children of the request's while the work can neither end nor
// change the request's span after the request ended.
func detached(ctx context.Context) context.Context {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		// Nothing can change a span that does not record: ctx keeps its span context as it is.
		return context.WithoutCancel(ctx)
	}
	return trace.ContextWithSpanContext(context.WithoutCancel(ctx), span.SpanContext())
}
