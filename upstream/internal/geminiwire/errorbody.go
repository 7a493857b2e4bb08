package geminiwire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/streamgate/streamgate/manager"
)

type errorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// ErrorBody returns Gemini's error body for an HTTP status code, pretty-printed over several
// lines as Gemini sends it:
//
//	{
//	  "error": {
//	    "code": 429,
//	    "message": "...",
//	    "status": "RESOURCE_EXHAUSTED"
//	  }
//	}
func ErrorBody(code int, status, message string) []byte {
	// MarshalIndent cannot fail on an int and two strings.
	b, _ := json.MarshalIndent(struct {
		Error errorDetail `json:"error"`
	}{errorDetail{code, message, status}}, "", "  ")
	return append(b, '\n')
}

// errorEnvelope is Gemini's error body as it is read.
type errorEnvelope struct {
	Error *manager.StreamError `json:"error"`
}

// ParseError parses Gemini's error body, {"error":{"code","message","status"}}, or the
// one-element array form [{"error":{...}}], pretty-printed or not. A missing code becomes 500, a
// missing status the one StatusForCode pairs with the code, and a missing message one that names
// both.
func ParseError(b []byte) (*manager.StreamError, bool) {
	b = bytes.TrimSpace(b)
	var env errorEnvelope
	switch {
	case len(b) > 0 && b[0] == '[':
		var list []errorEnvelope
		if json.Unmarshal(b, &list) != nil || len(list) == 0 {
			return nil, false
		}
		env = list[0]
	case json.Unmarshal(b, &env) != nil:
		return nil, false
	}
	if env.Error == nil {
		return nil, false
	}
	se := env.Error.Normalized()
	if se.Message == "" {
		se.Message = fmt.Sprintf("upstream error %d %s", se.Code, se.Status)
	}
	return se, true
}

// LooksLikeError reports whether event data starts like Gemini's error JSON, {"error": ...}: a
// cheap test before ParseError.
func LooksLikeError(data []byte) bool {
	data = skipSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	return bytes.HasPrefix(skipSpace(data[1:]), []byte(`"error"`))
}

// skipSpace drops leading JSON white space.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
