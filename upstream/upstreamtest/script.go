package upstreamtest

import (
	"net/http"
	"strings"
	"time"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
)

// Framing is the line ending of a script's events.
type Framing int

// Framings. The zero value is Gemini's.
const (
	CRLF Framing = iota
	LF
	CR
)

// Fault is a scripted failure.
type Fault int

// Faults.
const (
	// FaultNone is an ordinary step.
	FaultNone Fault = iota
	// FaultReset hijacks the connection and closes it with a TCP reset: before the first byte when
	// nothing was written yet, mid-stream otherwise.
	FaultReset
	// FaultStall sends nothing more and holds the request open until the client gives up.
	FaultStall
	// FaultHeaders sends the status line and headers now, without any event.
	FaultHeaders
)

// Step is one step of a streamed answer: after Delay, an event (Data set), raw bytes (Raw set) or
// a Fault. The status line and headers go out with the first step that writes.
type Step struct {
	Delay time.Duration
	Data  []byte // an event: "data: " lines and a blank line
	ID    string // with Data: an "id: " line first (a plain event stream)
	Event string // with Data: an "event: " line
	Raw   []byte // written as it is, e.g. Gemini's JSON error tail or a "retry: 50" block
	Fault Fault
}

// Event returns a step sending one event with data.
func Event(data []byte) Step { return Step{Data: data} }

// EventWithID returns a step sending one event with an id field and, unless empty, an event type.
func EventWithID(id, event string, data []byte) Step { return Step{Data: data, ID: id, Event: event} }

// Raw returns a step writing b unframed.
func Raw(b []byte) Step { return Step{Raw: b} }

// ErrorTail returns a step writing Gemini's pretty-printed JSON error body as raw bytes, as Gemini
// does when it fails after a 200 and some events.
func ErrorTail(code int, message string) Step {
	return Raw(geminiwire.ErrorBody(code, manager.StatusForCode(code), message))
}

// Headers returns a step sending the status line and headers.
func Headers() Step { return Step{Fault: FaultHeaders} }

// Reset returns a step resetting the connection.
func Reset() Step { return Step{Fault: FaultReset} }

// Stall returns a step that stalls until the client gives up.
func Stall() Step { return Step{Fault: FaultStall} }

// Script is the answer to one request.
type Script struct {
	// Status is the response status; 0 means 200. Any other status answers with Body, or with
	// Steps when they are set (an error body that stalls, say).
	Status int
	// Header holds extra response headers, e.g. Retry-After. A header it sets replaces the fake's
	// default; a nil value sends none (no Content-Type at all, say).
	Header http.Header
	// Body is the body of a non-200 answer (nil: Gemini's error JSON for Status), and of a 200
	// answer to a unary call: :generateContent, any other method but :streamGenerateContent, a
	// model's or the list's GET.
	Body []byte
	// Steps make the streamed body of a 200 answer, also to a unary call when Body is nil (to
	// script its faults).
	Steps []Step
	// Framing is the line ending of the events.
	Framing Framing
	// Resume, for a request with a Last-Event-ID header, skips the steps up to and including the
	// event with that ID, as an event stream server resuming a stream does.
	Resume bool
}

// With returns a copy of s with a response header added.
func (s Script) With(name, value string) Script {
	if s.Header == nil {
		s.Header = make(http.Header)
	} else {
		s.Header = s.Header.Clone()
	}
	s.Header.Add(name, value)
	return s
}

// Events returns the data of the script's events, in order: what a client must receive.
func (s Script) Events() [][]byte {
	var out [][]byte
	for _, st := range s.Steps {
		if st.Data != nil {
			out = append(out, st.Data)
		}
	}
	return out
}

// Chunks returns the JSON of a Gemini stream replying with texts, one chunk each; the last has
// finishReason "STOP" and usageMetadata.
func Chunks(texts ...string) [][]byte {
	usage := replyUsage(strings.Join(texts, ""))
	out := make([][]byte, len(texts))
	for i, t := range texts {
		out[i] = geminiwire.Chunk(t, i == len(texts)-1, usage, fakeModel, fakeResponseID)
	}
	return out
}

// Gemini returns a successful Gemini answer with texts: one event per text for a stream, and the
// whole reply in one response for :generateContent.
func Gemini(texts ...string) Script {
	var s Script
	for _, c := range Chunks(texts...) {
		s.Steps = append(s.Steps, Event(c))
	}
	text := strings.Join(texts, "")
	s.Body = geminiwire.Response(text, replyUsage(text), fakeModel, fakeResponseID)
	return s
}

// The model version and response ID of the fake's replies.
const (
	fakeModel      = "fake-model"
	fakeResponseID = "fake-response"
)

// replyUsage is the usageMetadata of a fake reply of text.
func replyUsage(text string) geminiwire.Usage {
	return geminiwire.Usage{PromptTokens: 4, CandidatesTokens: geminiwire.CountTokens(text)}
}

// Texts returns n pieces of generated text of size bytes each.
func Texts(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = geminiwire.Lorem(size)
	}
	return out
}

// Paced returns a copy of s whose event steps each wait d first.
func (s Script) Paced(d time.Duration) Script {
	steps := make([]Step, len(s.Steps))
	for i, st := range s.Steps {
		if st.Data != nil {
			st.Delay = d
		}
		steps[i] = st
	}
	s.Steps = steps
	return s
}

// Error returns a script answering status with Gemini's error body.
func Error(status int, message string) Script {
	return Script{Status: status, Body: geminiwire.ErrorBody(status, manager.StatusForCode(status), message)}
}
