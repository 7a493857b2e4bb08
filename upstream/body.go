package upstream

import (
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/streamgate/streamgate/upstream/internal/geminiwire"
	"github.com/streamgate/streamgate/upstream/sse"
)

// EventStreamType is the media type of an event stream, which a 200 answer to a streaming request
// must have (or one of the generic SSE provider's SSEConfig.ContentTypes).
const EventStreamType = "text/event-stream"

// eventStreamTypes is the media type list of the providers that do not implement contentTyper.
var eventStreamTypes = []string{EventStreamType}

// contentTyper is implemented by a provider whose event streams may come with other media types
// than text/event-stream: the generic SSE provider.
type contentTyper interface {
	mediaTypes() []string // lower case, without parameters; not to be modified
}

// checkStream fails a 200 answer whose Content-Type is none of the provider's event stream media
// types, before any of its body is read: a page that happens to hold a "data:" line is not a
// stream.
func (r *Runner) checkStream(h http.Header) *failure {
	want := eventStreamTypes
	if p, ok := r.provider.(contentTyper); ok {
		want = p.mediaTypes()
	}
	ct := h.Get("Content-Type")
	if slices.Contains(want, ct) {
		return nil // the common case, without parsing
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && slices.Contains(want, mt) {
		return nil
	}
	return mediaTypeFailure(ct, want)
}

// readers recycles the SSE readers of ended attempts, so that an attempt does not allocate a read
// buffer.
var readers = sync.Pool{New: func() any { return sse.NewReader(nil) }}

// newReader returns a pooled SSE reader reading from rd; freeReader gives it back.
func newReader(rd io.Reader) *sse.Reader {
	r := readers.Get().(*sse.Reader)
	r.Reset(rd)
	return r
}

// freeReader returns r to the pool: the events it returned are no longer valid.
func freeReader(r *sse.Reader) {
	r.Reset(nil)
	readers.Put(r)
}

// bodyDialect is what a Dialect adds to reading the events of a 200 body, so that the session's
// read loop is the same for every dialect.
type bodyDialect interface {
	// tee returns where the body's bytes are copied as they arrive, or nil. Its Write must not
	// fail.
	tee() io.Writer
	// check looks at an event's data before it is pushed; buffered is how many bytes the parser
	// read past the event. A failure ends the attempt, and the event is not pushed.
	check(data []byte, buffered int) *failure
	// pushed notes the data of a pushed event, which does not change afterwards.
	pushed(data []byte)
	// end is told that rd reached the end of the body and that another attempt may follow (the
	// stream is open and the caller still waits). It returns an error the body itself reported,
	// which wins over how the body ended, and why a body that ended cleanly is incomplete.
	end(rd *sse.Reader) (reported, incomplete *failure)
	// final returns what the body's final chunk said, once the body ended, and whether it had one.
	final() (geminiwire.Final, bool)
}

// bodyDialect returns a fresh bodyDialect of the provider's dialect for one attempt.
func (s *session) bodyDialect() bodyDialect {
	if s.req.OpenAI || s.r.provider.Dialect() == DialectOpenAI {
		return &openAIBody{}
	}
	if s.r.provider.Dialect() == DialectGemini {
		return &geminiBody{}
	}
	return sseBody{s}
}

// geminiBody reads DialectGemini. The SSE parser skips the lines of a raw JSON error body, so the
// bytes after the last event are kept in a tail, where such an error is found when the body ends;
// an event whose data is such an error counts too, and one whose data is not a JSON object at all
// fails the attempt. A clean end completes the stream only after a final chunk and with nothing
// but white space after the last event.
type geminiBody struct {
	tail geminiwire.Tail
	fin  geminiwire.Finality
}

func (g *geminiBody) tee() io.Writer { return &g.tail }

func (g *geminiBody) check(data []byte, buffered int) *failure {
	g.tail.KeepLast(buffered)
	if !geminiwire.LooksLikeObject(data) {
		return notObjectFailure(len(data))
	}
	if !geminiwire.LooksLikeError(data) {
		return nil
	}
	if se, ok := geminiwire.ParseError(data); ok {
		return upstreamFailure(se)
	}
	return nil
}

func (g *geminiBody) pushed(data []byte) { g.fin.Add(data) }

func (g *geminiBody) final() (geminiwire.Final, bool) { return g.fin.Final() }

func (g *geminiBody) end(*sse.Reader) (reported, incomplete *failure) {
	switch f := tailFailure(&g.tail); {
	case f != nil && f.kind == kindUpstream:
		return f, nil
	case f != nil:
		return nil, f
	case !g.fin.Reached():
		return nil, truncatedFailure("upstream stream ended without a final chunk (no finishReason)")
	}
	return nil, nil
}

// sseBody reads DialectSSE: the stream's last event ID and retry field are kept in the session
// for the attempt that resumes it.
type sseBody struct{ s *session }

func (sseBody) tee() io.Writer             { return nil }
func (sseBody) check([]byte, int) *failure { return nil }
func (sseBody) pushed([]byte)              {}

func (sseBody) final() (geminiwire.Final, bool) { return geminiwire.Final{}, false }

func (b sseBody) end(rd *sse.Reader) (reported, incomplete *failure) {
	b.s.lastID = rd.LastEventID()
	if retry := rd.Retry(); retry > 0 {
		b.s.retry = retry
	}
	return nil, nil
}

// tailFailure checks what a Gemini body left after its last event: nothing, Gemini's JSON error
// (whose code, status and message the stream gets), or bytes that are not a complete event.
func tailFailure(t *geminiwire.Tail) *failure {
	rest, ok := t.Leftover()
	switch {
	case !ok:
		return truncatedFailure("upstream stream ended with more than " + strconv.Itoa(geminiwire.TailSize) + " bytes that are not a complete event")
	case len(rest) == 0:
		return nil
	}
	if se, ok := geminiwire.ParseError(rest); ok {
		return upstreamFailure(se)
	}
	return truncatedFailure("upstream stream ended with " + strconv.Itoa(len(rest)) + " bytes that are not a complete event")
}
