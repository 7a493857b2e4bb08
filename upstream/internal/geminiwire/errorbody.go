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

// LooksLikeObject reports whether event data is shaped like a JSON object: its first and last
// bytes other than white space are { and }. Every event of a Gemini stream is a JSON object (a
// GenerateContentResponse or an error); this cheap test, which looks at the two ends only, catches
// a body that is not Gemini's at all ("data: a", a page with a data: line, "[DONE]") without
// parsing every chunk on the hot path.
func LooksLikeObject(data []byte) bool {
	data = skipSpace(data)
	for len(data) > 0 && isSpace(data[len(data)-1]) {
		data = data[:len(data)-1]
	}
	return len(data) >= 2 && data[0] == '{' && data[len(data)-1] == '}'
}

// skipSpace drops leading JSON white space.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// isSpace reports whether c is JSON white space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
