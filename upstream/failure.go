package upstream

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
)

// Causes with which the runner cancels an attempt's context.
var (
	errStreamClosed = errors.New("stream closed by another party")
	errIdle         = errors.New("upstream idle timeout")
	errFirstEvent   = errors.New("upstream first event timeout")
)

// Status names used in error chunks; see the table in the package documentation. Each goes with
// the HTTP status Google pairs with it (manager.CodeForStatus): an upstream that cannot be
// reached or read is 503 UNAVAILABLE or 504 DEADLINE_EXCEEDED, never 502, whose pair Google's
// table has no status for.
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
	kindRefused                           // the manager refused a chunk: no room in the memory budget
	kindNotStream                         // a 200 that is not the dialect's event stream
)

// failure is one failed attempt. Its own wording carries no credential: messages are built from
// statuses, hosts, paths and transport errors, never from request headers or URL queries. What
// the upstream wrote into it (an error body's message, a transport error quoting the server) may
// echo one: Runner.scrub removes them.
type failure struct {
	kind       failureKind
	err        *manager.StreamError // what the stream gets
	status     int                  // the upstream's HTTP status, 0 without a response
	retryAfter time.Duration        // from a Retry-After header
	transient  bool                 // the built-in policy retries it when a retry is safe
	body       []byte               // kindStatus: the body when it is Gemini's error JSON, which Generate passes through
}

func connectFailure(u *url.URL, err error) *failure {
	return &failure{
		kind:      kindConnect,
		err:       streamError(http.StatusServiceUnavailable, statusUnavailable, "upstream request to "+u.Host+" failed: "+redactURLError(err).Error()),
		transient: true,
	}
}

// refusedFailure is a chunk the manager had no memory budget for (a *manager.LimitError): 429
// RESOURCE_EXHAUSTED, never retried, since the same chunk would be refused again.
func refusedFailure(err error) *failure {
	return &failure{kind: kindRefused, err: manager.AsStreamError(err)}
}

func credentialFailure(err error) *failure {
	return &failure{kind: kindCredential, err: streamError(http.StatusInternalServerError, statusInternal, err.Error())}
}

func dropFailure(err error, forwarded bool) *failure {
	msg := "upstream connection dropped before the first event: "
	if forwarded {
		msg = "upstream connection dropped mid-stream: "
	}
	return &failure{kind: kindDrop, err: streamError(http.StatusServiceUnavailable, statusUnavailable, msg+redactURLError(err).Error()), transient: true}
}

func truncatedFailure(msg string) *failure {
	return &failure{kind: kindTruncated, err: streamError(http.StatusServiceUnavailable, statusUnavailable, msg), transient: true}
}

// mediaTypeFailure describes a 200 whose Content-Type is none of the event stream's media types
// (want). It is transient, like a body that ends early: a proxy's error page may be passing.
func mediaTypeFailure(contentType string, want []string) *failure {
	got := "no Content-Type"
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		got = "Content-Type " + mt
	} else if contentType != "" {
		got = "a Content-Type that is not a media type"
	}
	return &failure{kind: kindNotStream, err: streamError(http.StatusServiceUnavailable, statusUnavailable,
		"upstream answered 200 OK with "+got+", not an event stream (want "+strings.Join(want, " or ")+")"), transient: true}
}

// notObjectFailure describes a Gemini event whose data is not a JSON object. It is transient, like
// a body that ends with bytes that are not an event.
func notObjectFailure(size int) *failure {
	return &failure{kind: kindNotStream, err: streamError(http.StatusServiceUnavailable, statusUnavailable,
		"upstream sent an event with "+strconv.Itoa(size)+"-byte data that is not a JSON object, not a Gemini stream"), transient: true}
}

func idleFailure(d time.Duration) *failure {
	return &failure{kind: kindIdle, err: streamError(http.StatusGatewayTimeout, statusDeadlineExceeded,
		"upstream sent nothing for "+d.String()), transient: true}
}

func firstEventFailure(d time.Duration) *failure {
	return &failure{kind: kindFirstEvent, err: streamError(http.StatusGatewayTimeout, statusDeadlineExceeded,
		"no event from upstream within "+d.String())}
}

// firstByteFailure is firstEventFailure for a non-streaming call, whose first byte is its answer.
func firstByteFailure(d time.Duration) *failure {
	return &failure{kind: kindFirstEvent, err: streamError(http.StatusGatewayTimeout, statusDeadlineExceeded,
		"no response from upstream within "+d.String())}
}

func responseTooLargeFailure(limit int) *failure {
	return &failure{kind: kindTooLarge, err: streamError(http.StatusInternalServerError, statusInternal,
		"upstream response larger than the limit of "+strconv.Itoa(limit)+" bytes")}
}

func tooLargeFailure(limit int) *failure {
	return &failure{kind: kindTooLarge, err: streamError(http.StatusInternalServerError, statusInternal,
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
		f.err = streamError(http.StatusInternalServerError, statusInternal, "upstream answered HTTP "+statusText(code)+", want 200 OK")
		return f
	}
	se := &manager.StreamError{Code: code, Status: manager.StatusForCode(code), RetryAfter: f.retryAfter}
	if parsed, ok := geminiwire.ParseError(body); ok {
		se.Message = parsed.Message
		if parsed.Status != "" {
			se.Status = parsed.Status
		}
		f.body = body
	} else if oe, ok := ParseOpenAIError(body); ok && oe.Message != "" {
		// An OpenAI-compatible API's error: passed through as well, for the gateway to answer
		// in OpenAI's shape, and kept as the stream error's Raw for a stream's OpenAI-route
		// callers, who are told its type, param and code as well.
		se.Message = oe.Message
		se.Raw = body
		f.body = body
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
