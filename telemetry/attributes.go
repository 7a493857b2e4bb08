package telemetry

import "go.opentelemetry.io/otel/attribute"

// Span attribute keys. The gen_ai.* keys and error.type follow the OpenTelemetry semantic
// conventions (GenAI client spans); they are spelled out here because the Go semconv packages
// dropped the GenAI group after v1.41.0, and a test checks them against that version.
const (
	AttrOperationName  = attribute.Key("gen_ai.operation.name")
	AttrProviderName   = attribute.Key("gen_ai.provider.name")
	AttrRequestModel   = attribute.Key("gen_ai.request.model")
	AttrResponseID     = attribute.Key("gen_ai.response.id")
	AttrFinishReasons  = attribute.Key("gen_ai.response.finish_reasons")
	AttrInputTokens    = attribute.Key("gen_ai.usage.input_tokens")
	AttrOutputTokens   = attribute.Key("gen_ai.usage.output_tokens")
	AttrErrorType      = attribute.Key("error.type")
	AttrHTTPStatusCode = attribute.Key("http.response.status_code")
	// AttrStreamID is the streamgate stream a span belongs to.
	AttrStreamID = attribute.Key("streamgate.stream.id")
	// AttrAttempt numbers the upstream attempts of a generation from 1.
	AttrAttempt = attribute.Key("streamgate.upstream.attempt")
)

// Values of AttrOperationName and AttrProviderName.
const (
	// OperationGenerateContent is Gemini's generateContent and streamGenerateContent.
	OperationGenerateContent = "generate_content"
	// OperationEmbeddings is Gemini's embedContent and batchEmbedContents.
	OperationEmbeddings = "embeddings"
	// ProviderGemini is the Gemini Developer API, ProviderVertexAI Gemini on Vertex AI.
	ProviderGemini   = "gcp.gemini"
	ProviderVertexAI = "gcp.vertex_ai"
)

// Span event names.
const (
	// EventRetry is added to a generation's span before each retry, with AttrAttempt (the attempt
	// about to start), and AttrHTTPStatusCode or AttrErrorType of the failure it retries.
	EventRetry = "streamgate.retry"
	// EventFirstChunk is added to a generation's span when the first chunk arrives.
	EventFirstChunk = "streamgate.first_chunk"
)

// SpanName is the name the GenAI conventions give a client span: "{operation} {model}", or the
// operation alone without a model.
func SpanName(operation, model string) string {
	if model == "" {
		return operation
	}
	return operation + " " + model
}
