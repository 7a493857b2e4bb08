package geminiwire

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/streamgate/streamgate/upstream/sse"
)

// WriteError answers with Gemini's error body for code.
func WriteError(w http.ResponseWriter, code int, status, message string) {
	body := ErrorBody(code, status, message)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	// A failed write means the client left; there is no one to tell.
	_, _ = w.Write(body)
}

// StartStream writes the status line and headers of a Gemini event stream.
func StartStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	Flush(w)
}

// AppendEvent appends one Gemini event, "data: " + data and a blank line, framed with nl (Gemini
// uses sse.CRLF). data must not contain a CR; JSON never does.
func AppendEvent(dst, data []byte, nl sse.Newline) ([]byte, error) {
	return sse.AppendEvent(dst, sse.Event{Data: data}, false, nl)
}

// Flush sends what w buffered, if it can.
func Flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// CheckRequest checks a GenerateContentRequest body as Gemini does before generating: a JSON
// object with a non-empty contents array. It returns Gemini's message for a bad one.
func CheckRequest(body []byte) (message string, ok bool) {
	var req struct {
		Contents []json.RawMessage `json:"contents"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return "Invalid JSON payload received. " + err.Error(), false
	}
	if len(req.Contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified", false
	}
	return "", true
}
