package upstream

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// pipeTransport serves requests in-process: it runs handler in a goroutine that writes the
// response through an io.Pipe, so the body streams exactly as a network one would, unbuffered.
// The goroutine ends when the handler returns; a cancelled request context or a closed response
// body makes the handler's writes fail and its context end, so it never outlives the request.
type pipeTransport struct {
	handler http.Handler
}

func (t *pipeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	w := &pipeWriter{header: make(http.Header), pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			w.finish()
			pw.Close()
		}()
		if req.Body != nil {
			defer req.Body.Close()
		}
		t.handler.ServeHTTP(w, req.Clone(ctx))
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		cancel()
		return nil, context.Cause(ctx)
	}
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &pipeBody{pr: pr, cancel: cancel, stop: stop},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeBody is the response body of an in-process request; Close ends the handler.
type pipeBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	stop   func() bool
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.stop()
	b.cancel()
	return b.pr.Close()
}

// pipeWriter is the http.ResponseWriter of an in-process handler.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{} // closed when the status and headers are final
	status int
	sent   http.Header // the headers as of WriteHeader
}

var _ http.Flusher = (*pipeWriter)(nil)

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush does nothing: the pipe has no buffer.
func (w *pipeWriter) Flush() { w.WriteHeader(http.StatusOK) }

// finish completes a response whose handler wrote nothing.
func (w *pipeWriter) finish() { w.WriteHeader(http.StatusOK) }
