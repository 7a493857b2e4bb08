package upstream

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/internal/openaiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// skipEvent is what a bodyDialect's check returns for an event that is read but not pushed: the
// OpenAI stream's data: [DONE] terminator, which the gateway writes itself on a clean end.
var skipEvent = &failure{}

// openAIBody reads an OpenAI chat-completions stream (DialectOpenAI, and a Request with OpenAI
// set on Gemini or the simulator). Every event's data is a chat.completion.chunk pushed as it
// is, until data: [DONE], which is not pushed; only a body that sent [DONE] and then ended
// cleanly completes the stream. An event that is an error, {"error":{...}} as OpenAI and vLLM
// send it mid-stream, alone or in a JSON array as Gemini's compatibility endpoint may wrap it,
// fails the stream with that error; so does such a raw error body after the last event, which
// the SSE parser skips and a tail keeps, as for Gemini. An event after [DONE], or one that is no
// JSON object or array, is not OpenAI's stream.
type openAIBody struct {
	tail geminiwire.Tail
	done bool
	// prev and last are the last two chunks pushed: the finish reasons and the usage of the
	// answer are read from them once the body ended.
	prev, last []byte
}

func (o *openAIBody) tee() io.Writer { return &o.tail }

func (o *openAIBody) check(data []byte, buffered int) *failure {
	o.tail.KeepLast(buffered)
	switch {
	case o.done:
		return notOpenAIFailure("an event after data: [DONE]")
	case openaiwire.IsDone(data):
		o.done = true
		return skipEvent
	case geminiwire.LooksLikeObject(data):
		if !looksLikeOpenAIError(data) {
			return nil // a chunk: the common case, two cheap looks at its ends
		}
	case !isArray(data):
		return notOpenAIFailure("an event with " + strconv.Itoa(len(data)) + "-byte data that is not a JSON object")
	}
	if f := openAIErrorFailure(data); f != nil {
		return f
	}
	if isArray(data) {
		return notOpenAIFailure("an event with a JSON array that is not an error")
	}
	return nil
}

func (o *openAIBody) pushed(data []byte) { o.prev, o.last = o.last, data }

func (o *openAIBody) final() (geminiwire.Final, bool) {
	if o.last == nil {
		return geminiwire.Final{}, false
	}
	s := openaiwire.Summarize(o.prev, o.last)
	fin := geminiwire.Final{ResponseID: s.ID, FinishReasons: s.FinishReasons, HasUsage: s.HasUsage,
		InputTokens: s.Usage.PromptTokens, OutputTokens: s.Usage.CompletionTokens}
	return fin, true
}

func (o *openAIBody) end(*sse.Reader) (reported, incomplete *failure) {
	rest, ok := o.tail.Leftover()
	switch {
	case !ok:
		return nil, truncatedFailure("upstream stream ended with more than " + strconv.Itoa(geminiwire.TailSize) + " bytes that are not a complete event")
	case len(bytes.TrimSpace(rest)) > 0:
		if f := openAIErrorFailure(rest); f != nil {
			return f, nil
		}
		return nil, truncatedFailure("upstream stream ended with " + strconv.Itoa(len(rest)) + " bytes that are not a complete event")
	case !o.done:
		return nil, truncatedFailure("upstream stream ended without data: [DONE]")
	}
	return nil, nil
}

// isArray reports whether data is shaped like a JSON array, as Gemini's compatibility endpoint
// may wrap an error: its ends are looked at, not every byte.
func isArray(data []byte) bool {
	data = bytes.TrimSpace(data)
	return len(data) >= 2 && data[0] == '[' && data[len(data)-1] == ']'
}

// looksLikeOpenAIError reports whether event data starts like an error, {"error": ...} alone or
// in an array: a cheap test of its first bytes before ParseOpenAIError.
func looksLikeOpenAIError(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) > 0 && data[0] == '[' {
		data = data[1:]
	}
	return geminiwire.LooksLikeError(data)
}

// openAIErrorFailure is the failure an error body of an OpenAI-compatible stream reports, or nil
// when b is no error body (a chunk that merely says "error" in its text). A copy of b is the
// error's Raw, so that an OpenAI-route caller is told the error's own type, param and code.
func openAIErrorFailure(b []byte) *failure {
	oe, ok := ParseOpenAIError(b)
	if !ok {
		return nil
	}
	se := oe.StreamError()
	se.Raw = bytes.Clone(b)
	return upstreamFailure(se)
}

// StreamError is the error chunk e becomes in a stream: a Gemini-shaped error keeps its code
// and status; OpenAI's, which names no code, gets the one its type stands for (rate_limit_error
// 429, server_error 500, ...; 500 for a type it does not know).
func (e *OpenAIError) StreamError() *manager.StreamError {
	code := e.Status
	if code == 0 {
		code = codeForOpenAIType(e.Type)
	}
	se := &manager.StreamError{Code: code, Status: e.GoogleStatus, Message: e.Message}
	se = se.Normalized()
	if se.Message == "" {
		se.Message = "upstream error " + strconv.Itoa(se.Code) + " " + se.Status
	}
	return se
}

// codeForOpenAIType is the HTTP status OpenAI answers an error type with.
func codeForOpenAIType(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "rate_limit_error", "insufficient_quota":
		return http.StatusTooManyRequests
	case "overloaded_error":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// notOpenAIFailure describes a body that is not an OpenAI stream. It is transient, like a body
// that ends with bytes that are not an event.
func notOpenAIFailure(what string) *failure {
	return &failure{kind: kindNotStream, err: streamError(http.StatusServiceUnavailable, statusUnavailable,
		"upstream sent "+what+", not an OpenAI chat-completions stream"), transient: true}
}
