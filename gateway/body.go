package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// readBody reads the request body, refusing one over Config.MaxBodyBytes with 413.
func (s *Server) readBody(c *gin.Context) ([]byte, error) {
	limit := s.cfg.MaxBodyBytes
	if c.Request.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	var buf bytes.Buffer
	if n := c.Request.ContentLength; n > 0 {
		buf.Grow(int(n) + 1)
	}
	// The connection's read deadline is set to Config.ReadTimeout for the body alone, not as
	// http.Server.ReadTimeout: that one stays armed while the handler runs, and net/http's
	// background read then cancels the request context of every stream that outlives it. It is
	// set and lifted here, not by a helper returning the undo, so that neither the controller
	// nor a closure is allocated per request.
	rc := http.NewResponseController(c.Writer)
	deadline := rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) == nil
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		return nil, s.bodyError(c, err, limit)
	}
	return buf.Bytes(), nil
}

// bodyError is the answer to a request body that could not be read. It is apart from readBody
// because the targets errors.As writes to escape: declared there, they would be allocated for
// every body read.
func (s *Server) bodyError(c *gin.Context, err error, limit int64) error {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.As(err, &ne) && ne.Timeout():
		c.Header("Connection", "close")
		return newErrorStatus(http.StatusRequestTimeout, "DEADLINE_EXCEEDED",
			"request body not received within "+s.cfg.ReadTimeout.String())
	}
	return newError(http.StatusBadRequest, "read request body: "+err.Error())
}

// readJSON reads the request body into v as decodeJSON does.
func (s *Server) readJSON(c *gin.Context, v any) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

func tooLarge(limit int64) error {
	return newError(http.StatusRequestEntityTooLarge, "request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
}

// decodeJSON decodes body, which must hold exactly one JSON object, into v. Unknown fields, wrong
// types and trailing data are 400 INVALID_ARGUMENT errors naming what is wrong.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return newError(http.StatusBadRequest, "request body is empty: expected a JSON object")
	}
	// encoding/json keeps invalid UTF-8 in a json.RawMessage (pushed data) as it came, and would
	// forward it to every subscriber (issue 10); RFC 8259 says JSON text is UTF-8.
	if at := invalidUTF8(body); at >= 0 {
		return newError(http.StatusBadRequest, fmt.Sprintf("invalid JSON: not valid UTF-8 at byte %d", at))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return newError(http.StatusBadRequest, jsonMessage(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newError(http.StatusBadRequest, "invalid JSON: unexpected data after the object")
	}
	return nil
}

// invalidUTF8 returns the offset of the first byte of b that is not valid UTF-8, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// jsonMessage explains a decoding error without Go type names where a JSON one reads better.
func jsonMessage(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return "invalid JSON: expected an object, got " + typ.Value
	case errors.As(err, &typ):
		return fmt.Sprintf("invalid JSON: field %q must be %s, got %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "invalid JSON: unexpected end of input"
	}
	return "invalid JSON: " + err.Error()
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

// isJSONObject reports whether b is one valid JSON object.
func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}
