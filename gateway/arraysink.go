package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/streamgate/streamgate/manager"
)

// JSON array framing of a Gemini stream without alt=sse, as Gemini writes it: the first element
// opens the array, each next one follows a CRLF, a comma and a CRLF, and a CRLF and ']' close it.
const (
	arrayOpen      = "["
	arraySeparator = "\r\n,\r\n"
	arrayClose     = "\r\n]"
)

// arrayContentType is the media type of a JSON array stream.
const arrayContentType = "application/json; charset=UTF-8"

// arraySink writes a stream to a Gemini-route caller that asked for no alt=sse (or alt=json) as
// Gemini answers it then: one JSON array of GenerateContentResponses, written progressively,
// each chunk as soon as it comes, "[" + chunk + "\r\n,\r\n" + chunk + ... + "\r\n]". As with
// geminiSink the headers wait for the first chunk, so that an error before any data is answered
// with its own status and body. A later error is one more element, Gemini's error JSON
// {"error":{...}}, and then the array is closed: the body stays one valid JSON value whose last
// element says why it ended, never a silent clean end (see closeError).
type arraySink struct {
	*sseWriter
	frames uint64 // data elements written: the ?after=N that resumes after them
	opened bool   // the '[' is written
	ended  bool   // the array is closed
}

var _ sseSink = (*arraySink)(nil)

func newArraySink(w http.ResponseWriter, streamID string, stall time.Duration) *arraySink {
	sw := newSSEWriter(w, streamID, stall)
	sw.contentType = arrayContentType
	return &arraySink{sseWriter: sw}
}

// Deliver implements manager.Sink.
func (a *arraySink) Deliver(_ context.Context, chunks []manager.Chunk) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return errResponseEnded
	}
	bp := getFrameBuffer()
	defer putFrameBuffer(bp)
	buf := *bp
	for _, ch := range chunks {
		if ch.Err != nil {
			*bp = buf
			return a.failLocked(buf, ch.Err)
		}
		buf = a.appendElement(buf, ch.Data)
		a.frames++
	}
	*bp = buf
	return a.writeLocked(buf)
}

// appendElement appends one array element with what precedes it.
func (a *arraySink) appendElement(buf, element []byte) []byte {
	if a.opened {
		buf = append(buf, arraySeparator...)
	} else {
		buf = append(buf, arrayOpen...)
		a.opened = true
	}
	return append(buf, element...)
}

// Closed implements manager.Sink: a completed stream closes the array ("[]" when it had no
// chunk); any other close is an error element first.
func (a *arraySink) Closed(_ context.Context, end manager.ClosedError) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if end.Reason != manager.ReasonCompleted {
		err := a.failLocked(nil, closeError(end))
		if errors.Is(err, errResponseEnded) {
			return nil
		}
		return err
	}
	if a.ended {
		return nil
	}
	a.ended = true
	var buf []byte
	if !a.opened {
		buf = append(buf, arrayOpen...)
	}
	return a.writeLocked(append(buf, arrayClose...))
}

// failLocked writes the elements in buf, then se as the last element, and closes the array.
// Before anything was sent the error is the whole response, with se's HTTP status. It returns
// errResponseEnded when all was written.
func (a *arraySink) failLocked(buf []byte, se *manager.StreamError) error {
	if a.ended {
		return errResponseEnded
	}
	a.ended = true
	if !a.started && len(buf) == 0 {
		a.started = true
		a.w.Header().Set("X-Stream-Id", a.streamID)
		writeStreamError(a.w, se)
		return errResponseEnded
	}
	buf = a.appendElement(buf, se.JSON())
	if err := a.writeLocked(append(buf, arrayClose...)); err != nil {
		return err
	}
	return errResponseEnded
}

// slowClient implements sseSink: it tells the caller where to resume.
func (a *arraySink) slowClient() {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The client may be gone already; there is nobody else to tell.
	_ = a.failLocked(nil, slowClientError(a.streamID, a.frames))
}

// route implements sseSink: a JSON array caller is a Gemini-route caller.
func (a *arraySink) route() string { return subscriberGemini }
