package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/upstream/sse"
)

// Streams is the part of the manager a Runner feeds. *manager.Manager implements it.
type Streams interface {
	PushChunk(ctx context.Context, streamID string, ch manager.Chunk) error
	CloseStream(ctx context.Context, streamID, reason string) error
	HandleStreamError(ctx context.Context, streamID string, err error, terminate bool) error
	Done(ctx context.Context, streamID string) (<-chan struct{}, error)
	// Info is asked once per Run, for the stream's labels.
	Info(ctx context.Context, streamID string) (manager.StreamInfo, error)
}

// StreamHandles is the optional side of a Streams that hands out a stream's manager.Handle. The
// runner then pushes each chunk through the handle, without a lookup by ID, and learns of the
// stream's close from the handle's AfterClose callback instead of a goroutine waiting on Done.
// *manager.Manager has it (the stream layer of a gateway without cluster mode); cluster.Node
// does not, since its pushes go through its own path, and the runner uses PushChunk and Done.
type StreamHandles interface {
	Handle(ctx context.Context, streamID string) (manager.Handle, error)
}

var (
	_ Streams       = (*manager.Manager)(nil)
	_ StreamHandles = (*manager.Manager)(nil)
)

// ReasonSkippedPrefix starts the close reason of a stream whose upstream error a Decider skipped.
const ReasonSkippedPrefix = "upstream error skipped: "

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Provider builds the upstream requests. Required.
	Provider Provider
	// Manager receives the chunks; normally the *manager.Manager. Required.
	Manager Streams
	// Decider is asked about every upstream error before the built-in policy; nil means the built-in
	// policy only.
	Decider Decider
	// Retry bounds the retries; zero fields take the defaults.
	Retry RetryConfig
	// Timeouts bound connecting, the first event and silences; zero fields take the defaults.
	Timeouts Timeouts
	// MaxEventSize bounds one upstream event; 0 means sse.DefaultMaxEventSize (32 MiB). A larger
	// event fails the stream.
	MaxEventSize int
	// Logger receives the runner's logs, with stream_id and request_id attributes; nil discards
	// them. Credentials, request headers and URL queries are never logged.
	Logger *slog.Logger
	// Metrics records every attempt, retry, first chunk, generation and pushed chunk;
	// *telemetry.Metrics implements it. nil records nothing.
	Metrics Metrics
	// TracerProvider makes a client span per upstream attempt, a child of the span in the context
	// Run or Generate is given. nil makes none (a no-op provider): the caller's span context then
	// still reaches the upstream through Propagator.
	TracerProvider trace.TracerProvider
	// Propagator writes the attempt's span context into every upstream request (W3C
	// traceparent); nil writes none.
	Propagator propagation.TextMapPropagator
}

// Runner feeds manager streams from the configured provider. It is safe for concurrent use: one
// Runner serves every stream of a gateway.
type Runner struct {
	provider   Provider
	name       string // the provider's Name, the provider label of its metrics
	genAI      string // the provider's gen_ai.provider.name
	streams    Streams
	decider    Decider
	retry      RetryConfig
	timeouts   Timeouts
	maxEvent   int
	log        *slog.Logger
	transport  http.RoundTripper
	metrics    Metrics
	tracer     trace.Tracer
	noTracing  bool                          // tracer is the no-op one: an attempt's span is neither named nor attributed
	propagator propagation.TextMapPropagator // nil: none
}

// NewRunner validates cfg, fills its defaults and returns a Runner.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	switch {
	case cfg.Provider == nil:
		return nil, fmt.Errorf("%w: runner Provider is required", ErrInvalidConfig)
	case cfg.Manager == nil:
		return nil, fmt.Errorf("%w: runner Manager is required", ErrInvalidConfig)
	case cfg.MaxEventSize < 0:
		return nil, fmt.Errorf("%w: runner MaxEventSize %d is negative", ErrInvalidConfig, cfg.MaxEventSize)
	}
	retry, err := cfg.Retry.withDefaults()
	if err != nil {
		return nil, err
	}
	timeouts, err := cfg.Timeouts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Runner{
		provider:   cfg.Provider,
		name:       cfg.Provider.Name(),
		genAI:      genAIProvider(cfg.Provider.Name()),
		streams:    cfg.Manager,
		decider:    cfg.Decider,
		retry:      retry,
		timeouts:   timeouts,
		maxEvent:   cfg.MaxEventSize,
		log:        cfg.Logger,
		metrics:    cfg.Metrics,
		propagator: cfg.Propagator,
	}
	if r.maxEvent == 0 {
		r.maxEvent = sse.DefaultMaxEventSize
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("provider", r.name)
	if r.metrics == nil {
		r.metrics = nopMetrics{}
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	r.tracer = tp.Tracer(tracerName)
	_, r.noTracing = r.tracer.(noop.Tracer)
	r.transport = newTransport(timeouts.Connect)
	if tp, ok := cfg.Provider.(Transporter); ok {
		r.transport = tp.Transport()
	}
	return r, nil
}

// newTransport returns the network transport of a Runner: Timeouts.Connect bounds dialling and the
// TLS handshake, nothing bounds the response, and no compression is asked for, so that events are
// not held back in a compressor.
func newTransport(connect time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// send makes the round trip of hreq, one attempt's request, through the runner's transport, as an
// http.Client that follows no redirects would: a redirect is an ordinary response, since
// following one would send the credential (an x-goog-api-key header survives redirects to other
// hosts) wherever the upstream points. Calling the transport itself, as httputil.ReverseProxy
// does, saves what Client.Do does for redirects on every request: a copy of the request headers
// and a closure. The transport closes hreq's body, also on an error, and its errors are not
// wrapped in a *url.Error, so they never hold the URL.
func (r *Runner) send(hreq *http.Request) (*http.Response, error) {
	if u := hreq.URL.User; u != nil && hreq.Header.Get("Authorization") == "" {
		// A base URL's user info is sent as basic authentication, as Client.Do sends it.
		password, _ := u.Password()
		hreq.SetBasicAuth(u.Username(), password)
	}
	resp, err := r.transport.RoundTrip(hreq)
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(err, &rhe) && string(rhe.RecordHeader[:]) == "HTTP/":
		return nil, http.ErrSchemeMismatch // a plain HTTP server at an https URL, as Client.Do says
	case err != nil:
		return nil, err
	case resp == nil:
		return nil, fmt.Errorf("%T returned neither a response nor an error", r.transport)
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// CloseIdleConnections closes the idle keep-alive connections of the runner's transport.
func (r *Runner) CloseIdleConnections() {
	if t, ok := r.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Run starts the upstream call for the manager stream streamID and pushes every event's data as a
// chunk (bytes unchanged; Event is the SSE event type, "" for "message"; Time is when the event
// was read) until the stream ends. It blocks; when it returns the stream is closed: with reason
// "completed" on success, or through HandleStreamError(..., terminate=true) with the Code and
// Status of the failure (an error before the first event is thus the stream's first chunk). A
// request the provider cannot send (ErrInvalidRequest) is such a failure too: 400
// INVALID_ARGUMENT, without a decision, since no attempt could change it; so is one the provider
// does not serve (ErrUnsupported: an OpenAI request of Vertex's, a Gemini one of the OpenAI
// provider's): 501 UNIMPLEMENTED. If anyone else closes the stream, Run cancels the upstream
// request at once and returns. If ctx ends, the stream is terminated with 499 CANCELLED (504
// DEADLINE_EXCEEDED for a deadline).
//
// Run returns nil in all these cases: failures are reported into the stream. It returns an error
// only when there is no stream to report into: an unknown stream, or a manager shut down (the
// manager's error).
func (r *Runner) Run(ctx context.Context, streamID string, req Request) error {
	start := time.Now()
	handle, held, done, err := r.hold(ctx, streamID)
	if err != nil {
		return fmt.Errorf("run upstream for stream %s: %w", streamID, err)
	}
	source, err := r.source(ctx, streamID, handle, held)
	if err != nil {
		return fmt.Errorf("run upstream for stream %s: %w", streamID, err)
	}
	s := r.newSession(streamID, source, req, start)
	s.handle, s.held = handle, held
	first, err := r.provider.StreamRequest(ctx, req)
	if errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUnsupported) {
		code, status := http.StatusBadRequest, "INVALID_ARGUMENT"
		if errors.Is(err, ErrUnsupported) {
			code, status = http.StatusNotImplemented, "UNIMPLEMENTED"
		}
		msg := fmt.Sprintf("run upstream for stream %s: %v", streamID, err)
		res := result{outcomeFailed, streamError(code, status, msg)}
		r.finish(context.WithoutCancel(ctx), streamID, res)
		s.report(ctx, res)
		return nil
	}
	// Someone else closing the stream cancels the upstream request: the handle's close callback
	// does it, run by whoever closes the stream, or else a goroutine waiting on done.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if held {
		stop := handle.AfterClose(func() { cancel(errStreamClosed) })
		defer stop()
	} else {
		defer watchDone(rctx, cancel, done)()
	}
	res := s.run(rctx, first, err)
	r.finish(context.WithoutCancel(ctx), streamID, res)
	s.report(ctx, res)
	return nil
}

// hold returns the stream's handle when the runner's Streams has StreamHandles (held), or else
// its Done channel.
func (r *Runner) hold(ctx context.Context, streamID string) (h manager.Handle, held bool, done <-chan struct{}, err error) {
	if hs, ok := r.streams.(StreamHandles); ok {
		h, err = hs.Handle(ctx, streamID)
		return h, true, nil, err
	}
	done, err = r.streams.Done(ctx, streamID)
	return manager.Handle{}, false, done, err
}

// source returns the stream's manager.LabelSource: from its handle when held, which needs no
// second lookup of the stream on the way to the upstream request, or else from its Info.
func (r *Runner) source(ctx context.Context, streamID string, h manager.Handle, held bool) (string, error) {
	if held {
		return h.Labels()[manager.LabelSource], nil
	}
	info, err := r.streams.Info(ctx, streamID)
	return info.Labels[manager.LabelSource], err
}

// watchDone cancels rctx with errStreamClosed once done is closed, on a goroutine of its own.
// The func it returns ends the watch and waits for the goroutine.
func watchDone(rctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) (release func()) {
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-done:
			cancel(errStreamClosed)
		case <-rctx.Done():
		}
	})
	return func() {
		cancel(nil)
		watch.Wait()
	}
}

// finish closes the stream as res says.
func (r *Runner) finish(ctx context.Context, streamID string, res result) {
	var err error
	switch res.outcome {
	case outcomeClosed:
		r.streamLog(ctx, streamID).Debug("stream closed by another party; upstream request cancelled")
		return
	case outcomeCompleted:
		err = r.streams.CloseStream(ctx, streamID, manager.ReasonCompleted)
	case outcomeSkipped:
		r.streamLog(ctx, streamID).Info("upstream error skipped by decision", "code", res.err.Code, "status", res.err.Status, "error", res.err.Message)
		err = r.streams.CloseStream(ctx, streamID, ReasonSkippedPrefix+res.err.Message)
	case outcomeCancelled:
		r.streamLog(ctx, streamID).Info("upstream request cancelled by the caller", "code", res.err.Code, "error", res.err.Message)
		err = r.streams.HandleStreamError(ctx, streamID, res.err, true)
	case outcomeFailed:
		r.streamLog(ctx, streamID).Warn("upstream stream failed", "code", res.err.Code, "status", res.err.Status, "error", res.err.Message)
		err = r.streams.HandleStreamError(ctx, streamID, res.err, true)
	}
	if err != nil && !manager.IsGone(err) {
		r.streamLog(ctx, streamID).Error("close stream", "error", err)
	}
}

// streamLog returns the runner's logger for one stream ("" for none), with the request ID ctx
// carries. It is made only when something is logged: deriving a logger costs an allocation or
// more on every stream.
func (r *Runner) streamLog(ctx context.Context, streamID string) *slog.Logger {
	args := make([]any, 0, 4)
	if streamID != "" {
		args = append(args, "stream_id", streamID)
	}
	if id := requestIDFrom(ctx); id != "" {
		args = append(args, "request_id", id)
	}
	return r.log.With(args...)
}
