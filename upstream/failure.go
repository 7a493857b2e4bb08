package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// Causes with which the runner cancels an attempt's context.
var (
	errStreamClosed = errors.New("stream closed by another party")
	errIdle         = errors.New("upstream idle timeout")
	errFirstEvent   = errors.New("upstream first event timeout")
)

// Status names used in error chunks; see the table in the package documentation.
const (
	statusUnavailable      = "UNAVAILABLE"
	statusDeadlineExceeded = "DEADLINE_EXCEEDED"
	statusInternal         = "INTERNAL"
	statusCancelled        = "CANCELLED"
)

// failureKind says what went wrong with an attempt.
type failureKind int

const (
	kindConnect    failureKind = iota + 1 // no response: dial, TLS, reset or EOF before the headers
	kindStatus                            // a response status other than 200
	kindDrop                              // the body failed after a 200
	kindTruncated                         // the body ended cleanly but early
	kindIdle                              // no byte for Timeouts.Idle after the first event
	kindFirstEvent                        // no event within Timeouts.FirstEvent
	kindTooLarge                          // an event over the maximum event size
	kindUpstream                          // Gemini's JSON error, as an event or as the raw body tail
	kindCredential                        // the request could not be built: its credential failed
)

// failure is one failed attempt. Nothing in it carries a credential: messages are built from
// statuses, hosts, paths and transport errors, never from request headers or URL queries.
type failure struct {
	kind       failureKind
	err        *manager.StreamError // what the stream gets
	status     int                  // the upstream's HTTP status, 0 without a response
	retryAfter time.Duration        // from a Retry-After header
	transient  bool                 // the built-in policy retries it when a retry is safe
}

func connectFailure(u *url.URL, err error) *failure {
	return &failure{
		kind:      kindConnect,
		err:       streamError(http.StatusBadGateway, statusUnavailable, "upstream request to "+u.Host+" failed: "+redactURLError(err).Error()),
		transient: true,
	}
}

func credentialFailure(err error) *failure {
	return &failure{kind: kindCredential, err: streamError(http.StatusInternalServerError, statusInternal, err.Error())}
}

func dropFailure(err error, forwarded bool) *failure {
	msg := "upstream connection dropped before the first event: "
	if forwarded {
		msg = "upstream connection dropped mid-stream: "
	}
	return &failure{kind: kindDrop, err: streamError(http.StatusBadGateway, statusUnavailable, msg+redactURLError(err).Error()), transient: true}
}

func truncatedFailure(msg string) *failure {
	return &failure{kind: kindTruncated, err: streamError(http.StatusBadGateway, statusUnavailable, msg), transient: true}
}

func idleFailure(d time.Duration) *failure {
	return &failure{kind: kindIdle, err: streamError(http.StatusGatewayTimeout, statusDeadlineExceeded,
		"upstream sent nothing for "+d.String()), transient: true}
}

func firstEventFailure(d time.Duration) *failure {
	return &failure{kind: kindFirstEvent, err: streamError(http.StatusGatewayTimeout, statusDeadlineExceeded,
		"no event from upstream within "+d.String())}
}

func tooLargeFailure(limit int) *failure {
	return &failure{kind: kindTooLarge, err: streamError(http.StatusBadGateway, statusInternal,
		"upstream event larger than the limit of "+strconv.Itoa(limit)+" bytes")}
}

func upstreamFailure(se *manager.StreamError) *failure {
	return &failure{kind: kindUpstream, err: se, transient: retryableStatus(se.Code)}
}

// statusFailure describes a response whose status is not 200, from its (bounded) body.
func statusFailure(resp *http.Response, body []byte, now time.Time) *failure {
	code := resp.StatusCode
	f := &failure{
		kind:       kindStatus,
		status:     code,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		transient:  retryableStatus(code),
	}
	if code < 400 {
		f.err = streamError(http.StatusBadGateway, statusInternal, "upstream answered HTTP "+statusText(code)+", want 200 OK")
		return f
	}
	se := &manager.StreamError{Code: code, Status: manager.StatusForCode(code), RetryAfter: f.retryAfter}
	if parsed, ok := parseErrorBody(body); ok {
		se.Message = parsed.Message
		if parsed.Status != "" {
			se.Status = parsed.Status
		}
	}
	if se.Message == "" {
		se.Message = "upstream answered HTTP " + statusText(code) + describeBody(resp.Header.Get("Content-Type"), body)
	}
	f.err = se
	return f
}

// describeBody says what kind of body an error response had, without quoting it: a body that is
// not Gemini's error JSON may echo anything, headers included.
func describeBody(contentType string, body []byte) string {
	if len(body) == 0 {
		return " with an empty body"
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" {
		mt = "unknown type"
	}
	return " with a " + strconv.Itoa(len(body)) + "-byte " + mt + " body that is not a Gemini error"
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

func streamError(code int, status, msg string) *manager.StreamError {
	return &manager.StreamError{Code: code, Status: status, Message: msg}
}

// errorEnvelope is Gemini's error body.
type errorEnvelope struct {
	Error *manager.StreamError `json:"error"`
}

// parseErrorBody parses Gemini's error body, {"error":{"code","message","status"}}, or the
// one-element array form [{"error":{...}}], pretty-printed or not. A missing code becomes 500 and
// a missing status the one StatusForCode pairs with the code.
func parseErrorBody(b []byte) (*manager.StreamError, bool) {
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

// looksLikeError reports whether event data starts like Gemini's error JSON, {"error": ...}: a
// cheap test before parsing.
func looksLikeError(data []byte) bool {
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

// finality tells whether a Gemini body had a final chunk. Parsing chunks is the costly part and
// only the end of the body needs the answer, so the last chunk that may be final is parsed then,
// or when the next such chunk arrives: after its push rather than before it.
type finality struct {
	final   bool
	pending []byte // the data of the last chunk that may be final, not parsed yet
}

// add notes the data of a pushed chunk, which must not change afterwards.
func (f *finality) add(data []byte) {
	if !hasReasonKey(data) {
		return
	}
	f.reached()
	f.pending = data
}

// reached reports whether a chunk added so far was final.
func (f *finality) reached() bool {
	if f.pending != nil && !f.final {
		f.final = isFinal(f.pending)
	}
	f.pending = nil
	return f.final
}

// isFinal reports whether a Gemini chunk ends the response: a candidate with a finishReason, or a
// prompt blocked with a blockReason. A byte search is a cheap filter; only a chunk that passes it
// is parsed, so a text that merely contains the words does not count.
func isFinal(data []byte) bool {
	if !hasReasonKey(data) {
		return false
	}
	var r struct {
		Candidates []struct {
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
		PromptFeedback *struct {
			BlockReason string `json:"blockReason"`
		} `json:"promptFeedback"`
	}
	if json.Unmarshal(data, &r) != nil {
		return false
	}
	if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		return true
	}
	for _, c := range r.Candidates {
		if c.FinishReason != "" {
			return true
		}
	}
	return false
}

// hasReasonKey reports whether data contains `"finishReason"` or `"blockReason"`. It looks for the
// capital R with bytes.IndexByte, much faster on every chunk than bytes.Contains with each key.
func hasReasonKey(data []byte) bool {
	const suffix = `Reason"`
	for i := 0; ; i++ {
		j := bytes.IndexByte(data[i:], 'R')
		if j < 0 {
			return false
		}
		i += j
		if !bytes.HasPrefix(data[i:], []byte(suffix)) {
			continue
		}
		if bytes.HasSuffix(data[:i], []byte(`"finish`)) || bytes.HasSuffix(data[:i], []byte(`"block`)) {
			return true
		}
	}
}
