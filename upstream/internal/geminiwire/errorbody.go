package geminiwire

import "encoding/json"

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
