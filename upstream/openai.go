package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// OpenAI-compatible endpoints a Call may name (Call.OpenAI), below {version}/openai/.
const (
	OpenAIChat       = "chat/completions"
	OpenAIEmbeddings = "embeddings"
	OpenAIModels     = "models"
)

// apiKeyHeader is the header auth.APIKey sets.
const apiKeyHeader = "X-Goog-Api-Key"

// geminiOpenAIPrefix is where Gemini's OpenAI-compatible API lives below its base URL, under
// v1beta only: {base}/v1beta/openai/...
const geminiOpenAIPrefix = "/v1beta/openai"

// OpenAIError is an error of OpenAI's wire format, {"error":{"message","type","param","code"}}.
// Param and Code are nil when the body had none (OpenAI sends null); Code is a string there, such
// as "invalid_api_key".
type OpenAIError struct {
	// Status is the HTTP status the body names: the code of a Gemini-shaped error, else 0 (an
	// OpenAI error names none; its response's status says it).
	Status int
	// GoogleStatus is the status name of a Gemini-shaped error (RESOURCE_EXHAUSTED), else "".
	GoogleStatus string
	Message      string
	Type         string
	Param        *string
	Code         *string
}

// ParseOpenAIError parses an error body of an OpenAI-compatible API: OpenAI's own
// {"error":{"message","type","param","code"}}, Gemini's {"error":{"code":429,"message","status"}}
// that its compatibility endpoint also answers with, and either wrapped in a JSON array,
// [{"error":{...}}], as that endpoint sometimes sends it. It reports false for any other body.
func ParseOpenAIError(b []byte) (*OpenAIError, bool) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil || len(list) == 0 {
			return nil, false
		}
		b = list[0]
	}
	var env struct {
		Error *struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Param   *string         `json:"param"`
			Code    json.RawMessage `json:"code"`
			Status  string          `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil {
		return nil, false
	}
	e := env.Error
	out := &OpenAIError{GoogleStatus: e.Status, Message: e.Message, Type: e.Type, Param: e.Param}
	code := bytes.TrimSpace(e.Code)
	switch {
	case len(code) == 0 || string(code) == "null":
	case code[0] == '"':
		var s string
		if json.Unmarshal(code, &s) != nil {
			return nil, false
		}
		out.Code = &s
	default:
		n, err := strconv.Atoi(string(code))
		if err != nil {
			return nil, false
		}
		out.Status = n
	}
	return out, true
}

// validateOpenAI checks a Call of the OpenAI-compatible API: one of its endpoints, nothing of
// Gemini's models collection. The error wraps ErrInvalidRequest.
func (c Call) validateOpenAI() error {
	switch {
	case c.Model != "" || c.Method != "":
		return fmt.Errorf("%w: an OpenAI-compatible call names no Gemini model or method", ErrInvalidRequest)
	case c.OpenAI != OpenAIChat && c.OpenAI != OpenAIEmbeddings && c.OpenAI != OpenAIModels:
		return fmt.Errorf("%w: no OpenAI-compatible endpoint %q", ErrInvalidRequest, c.OpenAI)
	}
	return nil
}

// bearerFromAPIKey moves an API key the credential set as x-goog-api-key into
// Authorization: Bearer, the header Gemini's OpenAI-compatible endpoint reads (OpenAI's SDKs send
// nothing else). A bearer token (an OAuth credential) is left as it is.
func bearerFromAPIKey(req *http.Request) {
	key := req.Header.Get(apiKeyHeader)
	if key == "" {
		return
	}
	req.Header.Del(apiKeyHeader)
	req.Header.Set("Authorization", "Bearer "+key)
}

// servesOpenAI reports whether the API has the OpenAI-compatible endpoint.
func (a *modelAPI) servesOpenAI(endpoint string) bool {
	return a.openai != "" && (endpoint == OpenAIChat || !a.openaiChatOnly)
}

// openAIStream builds the streaming chat/completions request of an OpenAI Request: its body
// POSTed as it is, the base URL's query kept but for alt.
func (a *modelAPI) openAIStream(ctx context.Context, req Request) (*http.Request, error) {
	if !a.servesOpenAI(OpenAIChat) {
		return nil, fmt.Errorf("streaming openai/%s: %w", OpenAIChat, ErrUnsupported)
	}
	u := joinPath(a.base, a.openai+"/"+OpenAIChat)
	u.RawQuery = withAlt(u.RawQuery, "")
	hreq, err := newJSONRequest(ctx, http.MethodPost, u, req.Body, true)
	if err != nil {
		return nil, err
	}
	if err := a.authorize(ctx, hreq, true); err != nil {
		return nil, err
	}
	return hreq, nil
}
