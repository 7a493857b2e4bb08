package upstream

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
)

// Metrics is what a Runner records about its generations; *telemetry.Metrics implements it.
// provider is Provider.Name(), model the request's model (the implementation bounds its values),
// source the stream's manager.LabelSource label. The methods must be safe for concurrent use and
// cheap: ChunkPushed is called for every chunk.
type Metrics interface {
	// UpstreamAttempt counts one attempt and the HTTP status it got, 0 without a response.
	UpstreamAttempt(provider string, code int)
	// UpstreamRetry counts a retry decided after a failed attempt.
	UpstreamRetry(provider string)
	// FirstChunk records the time from the start of the first attempt to the first chunk.
	FirstChunk(provider, model string, d time.Duration)
	// UpstreamDone records a generation that ended, whatever its outcome: its time to the first
	// chunk (0 without one), its total time and its number of chunks.
	UpstreamDone(provider, model string, ttfc, total time.Duration, chunks int)
	// Tokens adds the token counts of a generation's final usageMetadata.
	Tokens(provider, model string, input, output int)
	// ChunkPushed counts one chunk of bytes bytes pushed into a stream of source.
	ChunkPushed(source string, bytes int)
}

// nopMetrics is the Metrics of a RunnerConfig without any.
type nopMetrics struct{}

func (nopMetrics) UpstreamAttempt(string, int)                                    {}
func (nopMetrics) UpstreamRetry(string)                                           {}
func (nopMetrics) FirstChunk(string, string, time.Duration)                       {}
func (nopMetrics) UpstreamDone(string, string, time.Duration, time.Duration, int) {}
func (nopMetrics) Tokens(string, string, int, int)                                {}
func (nopMetrics) ChunkPushed(string, int)                                        {}

// RequestIDHeader carries the caller's request ID to the upstream on every attempt.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the ID of the request a generation serves. Run and Generate
// send it to the upstream as X-Request-Id on every attempt, and log it as request_id. The gateway
// validates it; "" carries none.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDFrom returns the request ID ctx carries, or "".
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Span attributes and events of the OpenTelemetry GenAI semantic conventions. Package telemetry
// holds the same constants for the command and the gateway; upstream spells them out rather than
// import it, so that it stays free of Prometheus and the exporters, and a test checks that both
// agree.
const (
	attrOperationName  = attribute.Key("gen_ai.operation.name")
	attrProviderName   = attribute.Key("gen_ai.provider.name")
	attrRequestModel   = attribute.Key("gen_ai.request.model")
	attrResponseID     = attribute.Key("gen_ai.response.id")
	attrFinishReasons  = attribute.Key("gen_ai.response.finish_reasons")
	attrInputTokens    = attribute.Key("gen_ai.usage.input_tokens")
	attrOutputTokens   = attribute.Key("gen_ai.usage.output_tokens")
	attrErrorType      = attribute.Key("error.type")
	attrHTTPStatusCode = attribute.Key("http.response.status_code")
	attrStreamID       = attribute.Key("streamgate.stream.id")
	attrAttempt        = attribute.Key("streamgate.upstream.attempt")

	operationGenerateContent = "generate_content"
	operationEmbeddings      = "embeddings"
	operationChat            = "chat"
	eventRetry               = "streamgate.retry"
	eventFirstChunk          = "streamgate.first_chunk"
)

// tracerName names the tracer of the runner's spans: the instrumentation scope.
const tracerName = "github.com/streamgate/streamgate/upstream"

// genAIProvider is the gen_ai.provider.name of a provider: the conventions' own names for the
// Gemini Developer API and Vertex AI, streamgate.* names for the simulator and the generic SSE
// endpoint, which the conventions cannot know, and the provider's Name for any other.
func genAIProvider(name string) string {
	switch name {
	case "gemini":
		return "gcp.gemini"
	case "vertex":
		return "gcp.vertex_ai"
	case "simulator", "sse":
		return "streamgate." + name
	}
	return name
}

// spanName is the GenAI conventions' client span name: "{operation} {model}".
func spanName(operation, model string) string {
	if model == "" {
		return operation
	}
	return operation + " " + model
}

// attemptTrace is one upstream attempt's client span and what the attempt got: the HTTP status
// and, for a Gemini answer that had one, its final chunk. It is recorded when the attempt's fate
// is known, after the decision about its failure, so that a retry is an event of the attempt it
// retries.
type attemptTrace struct {
	span     trace.Span
	code     int // the response's HTTP status, 0 without a response
	final    geminiwire.Final
	hasFinal bool
}

// startAttempt starts the client span of attempt n (from 1) of an operation (a generation:
// operationGenerateContent; Call.operation for a unary call) on model, a child of ctx's span, and
// returns the context to make the attempt in.
func (r *Runner) startAttempt(ctx context.Context, operation, model, streamID string, n int) (context.Context, *attemptTrace) {
	if r.noTracing {
		// The no-op tracer ignores the name and the options: building them cost the attempt's
		// path to the upstream an allocation or more of attributes before its request was sent.
		ctx, span := r.tracer.Start(ctx, operation)
		return ctx, &attemptTrace{span: span}
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, attrOperationName.String(operation), attrProviderName.String(r.genAI), attrAttempt.Int(n))
	if model != "" {
		attrs = append(attrs, attrRequestModel.String(model))
	}
	if streamID != "" {
		attrs = append(attrs, attrStreamID.String(streamID))
	}
	ctx, span := r.tracer.Start(ctx, spanName(operation, model), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, &attemptTrace{span: span}
}

// prepare sets what every attempt's request carries besides the provider's headers: the
// traceparent of the attempt's span (ctx) and the caller's request ID.
func (r *Runner) prepare(ctx context.Context, hreq *http.Request) {
	if r.propagator != nil {
		r.propagator.Inject(ctx, propagation.HeaderCarrier(hreq.Header))
	}
	if id := requestIDFrom(ctx); id != "" {
		hreq.Header.Set(RequestIDHeader, id)
	}
}

// firstChunk marks the generation's first chunk, read at t, on the attempt's span.
func (a *attemptTrace) firstChunk(t time.Time) {
	if !a.span.IsRecording() {
		return // the option would be allocated for nothing, between the first push and its write
	}
	a.span.AddEvent(eventFirstChunk, trace.WithTimestamp(t))
}

// setFinal keeps what the answer's final chunk said and puts it on the span.
func (a *attemptTrace) setFinal(f geminiwire.Final) {
	a.final, a.hasFinal = f, true
	if !a.span.IsRecording() {
		return
	}
	if f.ResponseID != "" {
		a.span.SetAttributes(attrResponseID.String(f.ResponseID))
	}
	if len(f.FinishReasons) > 0 {
		a.span.SetAttributes(attrFinishReasons.StringSlice(f.FinishReasons))
	}
	if f.HasUsage {
		a.span.SetAttributes(attrInputTokens.Int(f.InputTokens), attrOutputTokens.Int(f.OutputTokens))
	}
}

// endAttempt records an attempt that ended with res, or failed with f: its metric, and on its
// span the HTTP status, the error.type of a failure or cancellation, and, when next is not 0, the
// retry that attempt next is going to be.
func (r *Runner) endAttempt(a *attemptTrace, res result, f *failure, next int) {
	r.metrics.UpstreamAttempt(r.name, a.code)
	if next > 0 {
		r.metrics.UpstreamRetry(r.name)
	}
	defer a.span.End()
	if !a.span.IsRecording() {
		return
	}
	if a.code > 0 {
		a.span.SetAttributes(attrHTTPStatusCode.Int(a.code))
	}
	typ, status := errorType(res, f)
	if typ != "" {
		a.span.SetAttributes(attrErrorType.String(typ))
		a.span.SetStatus(codes.Error, status)
	}
	if next > 0 {
		cause := attrErrorType.String(typ)
		if f.status > 0 {
			cause = attrHTTPStatusCode.Int(f.status)
		}
		a.span.AddEvent(eventRetry, trace.WithAttributes(attrAttempt.Int(next), cause))
	}
}

// errorType is the error.type of an attempt that ended with res or failed with f, "" for one
// that did not fail, and the status name the span's status describes it with. Both come from
// small fixed sets: the HTTP status of an error answer (as the conventions ask), else a name per
// kind of failure; never the upstream's own words.
func errorType(res result, f *failure) (typ, status string) {
	if f == nil {
		if res.outcome != outcomeCancelled {
			return "", ""
		}
		if res.err.Code == http.StatusGatewayTimeout {
			return "deadline_exceeded", statusDeadlineExceeded
		}
		return "cancelled", statusCancelled
	}
	status = f.err.Status
	switch f.kind {
	case kindStatus:
		return strconv.Itoa(f.status), manager.StatusForCode(f.status)
	case kindUpstream:
		return strconv.Itoa(f.err.Code), manager.StatusForCode(f.err.Code)
	case kindConnect:
		return "connect", status
	case kindDrop:
		return "connection_dropped", status
	case kindTruncated:
		return "truncated", status
	case kindIdle:
		return "idle_timeout", status
	case kindFirstEvent:
		return "first_event_timeout", status
	case kindTooLarge:
		return "too_large", status
	case kindCredential:
		return "credential", status
	case kindRefused:
		return "budget_exhausted", status
	case kindNotStream:
		return "not_event_stream", status
	}
	return "_OTHER", status
}
