package gateway

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/streamgate/streamgate/manager"
)

// OpenAI stream framing: LF-framed data-only events, and the terminator of a clean end.
const (
	openAIDataPrefix = "data: "
	openAIFrameEnd   = "\n\n"
	openAIDone       = "data: [DONE]\n\n"
)

// openAISink writes a stream to an OpenAI-route caller as OpenAI streams a chat completion:
// every chunk (a chat.completion.chunk, as the upstream sent it) as `data: <json>\n\n`, and
// `data: [DONE]\n\n` once the stream completed, only then. As with geminiSink the headers wait
// for the first chunk, so that an error before any data is answered with its own status and
// OpenAI's error body; a later error is one `data: {"error":{...}}\n\n` frame in OpenAI's shape
// and ends the response without [DONE], which OpenAI's SDKs raise as an error.
type openAISink struct {
	*sseWriter
	frames uint64 // data frames written: the ?after=N that resumes after them
	ended  bool   // an error or [DONE] was written; the response is over
}

var _ sseSink = (*openAISink)(nil)

// Deliver implements manager.Sink.
func (o *openAISink) Deliver(_ context.Context, chunks []manager.Chunk) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return errResponseEnded
	}
	bp := getFrameBuffer()
	defer putFrameBuffer(bp)
	buf := *bp
	for _, ch := range chunks {
		if ch.Err != nil {
			*bp = buf
			return o.failLocked(buf, ch.Err)
		}
		buf = append(buf, openAIDataPrefix...)
		buf = append(buf, ch.Data...)
		buf = append(buf, openAIFrameEnd...)
		o.frames++
	}
	*bp = buf
	return o.writeLocked(buf)
}

// Closed implements manager.Sink: a completed stream ends with data: [DONE]; any other close is
// an error frame (closeError), never a silent end.
func (o *openAISink) Closed(_ context.Context, end manager.ClosedError) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if end.Reason != manager.ReasonCompleted {
		err := o.failLocked(nil, closeError(end))
		if errors.Is(err, errResponseEnded) {
			return nil
		}
		return err
	}
	if o.ended {
		return nil
	}
	o.ended = true
	return o.writeLocked([]byte(openAIDone))
}

// failLocked writes the frames in buf and then se as OpenAI's error frame. Before anything was
// sent the error is the whole response, with its status, Retry-After and OpenAI's error body. It
// returns errResponseEnded when all was written.
func (o *openAISink) failLocked(buf []byte, se *manager.StreamError) error {
	if o.ended {
		return errResponseEnded
	}
	o.ended = true
	status, oe, retryAfter := openAIErrorFor(se)
	if !o.started && len(buf) == 0 {
		o.started = true
		h := o.w.Header()
		h.Set("X-Stream-Id", o.streamID)
		if retryAfter > 0 {
			h.Set("Retry-After", retryAfterSeconds(retryAfter))
		}
		writeOpenAIBody(o.w, status, oe)
		return errResponseEnded
	}
	// Marshal cannot fail on strings.
	b, _ := json.Marshal(struct {
		Error openAIError `json:"error"`
	}{oe})
	buf = append(buf, openAIDataPrefix...)
	buf = append(buf, b...)
	buf = append(buf, openAIFrameEnd...)
	if err := o.writeLocked(buf); err != nil {
		return err
	}
	return errResponseEnded
}

// slowClient implements sseSink: it tells the caller where to resume.
func (o *openAISink) slowClient() {
	o.mu.Lock()
	defer o.mu.Unlock()
	// The client may be gone already; there is nobody else to tell.
	_ = o.failLocked(nil, slowClientError(o.streamID, o.frames))
}

// route implements sseSink.
func (o *openAISink) route() string { return subscriberOpenAI }
