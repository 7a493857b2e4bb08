package upstream

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/telemetry"
)

// TestSpanNamesAgreeWithTelemetry checks the runner's spelling of the GenAI conventions against
// package telemetry's, which the command, the gateway and the docs use.
func TestSpanNamesAgreeWithTelemetry(t *testing.T) {
	for _, c := range []struct{ got, want any }{
		{attrOperationName, telemetry.AttrOperationName},
		{attrProviderName, telemetry.AttrProviderName},
		{attrRequestModel, telemetry.AttrRequestModel},
		{attrResponseID, telemetry.AttrResponseID},
		{attrFinishReasons, telemetry.AttrFinishReasons},
		{attrInputTokens, telemetry.AttrInputTokens},
		{attrOutputTokens, telemetry.AttrOutputTokens},
		{attrErrorType, telemetry.AttrErrorType},
		{attrHTTPStatusCode, telemetry.AttrHTTPStatusCode},
		{attrStreamID, telemetry.AttrStreamID},
		{attrAttempt, telemetry.AttrAttempt},
		{operationGenerateContent, telemetry.OperationGenerateContent},
		{eventRetry, telemetry.EventRetry},
		{eventFirstChunk, telemetry.EventFirstChunk},
		{genAIProvider("gemini"), telemetry.ProviderGemini},
		{genAIProvider("vertex"), telemetry.ProviderVertexAI},
		{operationEmbeddings, telemetry.OperationEmbeddings},
		{spanName(operationGenerateContent, "m"), telemetry.SpanName(telemetry.OperationGenerateContent, "m")},
		{spanName(operationGenerateContent, ""), telemetry.SpanName(telemetry.OperationGenerateContent, "")},
	} {
		require.Equal(t, c.want, c.got)
	}
}

// TestErrorTypesAreBounded checks that error.type never takes the upstream's own words: the
// status code of an error answer, else a fixed name.
func TestErrorTypesAreBounded(t *testing.T) {
	gemini := upstreamFailure(&manager.StreamError{Code: 429, Status: "ANYTHING the upstream says", Message: "quota"})
	for _, tc := range []struct {
		name       string
		res        result
		f          *failure
		typ, label string
	}{
		{"ok", result{outcome: outcomeCompleted}, nil, "", ""},
		{"closed", result{outcome: outcomeClosed}, nil, "", ""},
		{"cancelled", interruptedWith(499), nil, "cancelled", "CANCELLED"},
		{"deadline", interruptedWith(504), nil, "deadline_exceeded", "DEADLINE_EXCEEDED"},
		{"status", result{}, &failure{kind: kindStatus, status: 503, err: streamError(503, "whatever", "x")}, "503", "UNAVAILABLE"},
		{"gemini error event", result{}, gemini, "429", "RESOURCE_EXHAUSTED"},
		{"connect", result{}, connectFailure(mustURL("http://h"), errors.New("refused")), "connect", "UNAVAILABLE"},
		{"idle", result{}, idleFailure(time.Second), "idle_timeout", "DEADLINE_EXCEEDED"},
		{"first event", result{}, firstEventFailure(time.Second), "first_event_timeout", "DEADLINE_EXCEEDED"},
		{"not a stream", result{}, notObjectFailure(3), "not_event_stream", "UNAVAILABLE"},
		{"refused by the manager", result{}, refusedFailure(&manager.LimitError{Op: "push", Err: manager.ErrBudgetExhausted, Limit: 1}),
			"budget_exhausted", "RESOURCE_EXHAUSTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, label := errorType(tc.res, tc.f)
			require.Equal(t, tc.typ, typ)
			require.Equal(t, tc.label, label)
		})
	}
}

func interruptedWith(code int) result {
	return result{outcome: outcomeCancelled, err: streamError(code, manager.StatusForCode(code), "x")}
}
