package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/streamgate/streamgate/manager"
	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
	"github.com/streamgate/streamgate/plugins/sdk"
	"github.com/streamgate/streamgate/upstream"
)

// errPluginLost ends a session whose plugin process died or whose call broke.
var errPluginLost = fmt.Errorf("%w: the plugin's session ended", ErrUnavailable)

// terminatedError ends a session whose delivery failed for good; the subscription is closed
// with Reason and Err.
type terminatedError struct {
	Reason string
	Err    *manager.StreamError
}

func (e *terminatedError) Error() string { return e.Reason }

// batchBytes bounds the encoded chunks of one Batch. gRPC refuses a message above
// sdk.MaxMessageBytes (a batch of 8 chunks of 10 MiB was refused with ResourceExhausted), and the
// HostMessage and Batch around the chunks add a few bytes of framing; the headroom covers them
// with a wide margin.
const batchBytes = sdk.MaxMessageBytes - 64<<10

// sessionConfig is what a session needs from the host.
type sessionConfig struct {
	window, maxBatch int
	maxBytes         int // the most encoded chunk bytes in one message (batchBytes)
	attempts         int // built-in delivery policy: tries per batch
	minBackoff       time.Duration
	maxBackoff       time.Duration
	callTimeout      time.Duration
	decider          upstream.Decider // the error-handler chain
	log              *slog.Logger
	metrics          Metrics
}

// openRequest says what a session delivers.
type openRequest struct {
	streamID, subID string
	labels          map[string]string
	config          []byte
	after           uint64 // resume after this chunk
	// The stream's instance and tenant: a stream ID can name another stream later.
	instance, tenant string
}

// session is the host side of one Transport.Session call: a manager sink. Deliver and Closed are
// called from one goroutine; the reader goroutine receives the plugin's replies.
type session struct {
	cfg    sessionConfig
	req    openRequest
	stream pb.Transport_SessionClient
	cancel context.CancelFunc // ends the call

	acked    *atomic.Uint64 // the subscription's last acknowledged (or skipped) chunk
	ackCh    chan struct{}  // signalled on every ack
	nackCh   chan *pb.Nack
	openedCh chan *pb.Opened
	closedCh chan struct{}
	done     chan struct{} // closed when the reader stops
	readErr  error         // why the reader stopped; read after done

	unacked []manager.Chunk // sent and not acknowledged, in ID order
	lastErr *manager.StreamError
	batch   []*pb.Chunk

	// The current run of nacks, for the decision chain.
	attempt   int
	firstNack time.Time
	bo        *backoff.ExponentialBackOff

	closeOnce sync.Once
	leave     func() // counts the session out of the subscribers, once; nil until it is open
}

// openSession starts a session on c and waits for the plugin to accept it. A refusal is a
// *ConfigError.
func openSession(ctx context.Context, c *conn, plugin string, req openRequest, acked *atomic.Uint64, cfg sessionConfig) (*session, error) {
	callCtx, cancel := context.WithCancel(context.Background())
	stream, err := c.transport.Session(callCtx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: open session: %w", ErrUnavailable, err)
	}
	s := &session{cfg: cfg, req: req, stream: stream, cancel: cancel, acked: acked,
		ackCh: make(chan struct{}, 1), nackCh: make(chan *pb.Nack, 1), openedCh: make(chan *pb.Opened, 1),
		closedCh: make(chan struct{}), done: make(chan struct{})}
	go s.read(callCtx)
	open := &pb.Open{StreamId: req.streamID, StreamInstance: req.instance, Tenant: req.tenant, SubscriptionId: req.subID,
		Metadata: req.labels, Config: req.config, ResumeAfter: req.after}
	if err := stream.Send(&pb.HostMessage{Msg: &pb.HostMessage_Open{Open: open}}); err != nil {
		s.abort()
		return nil, fmt.Errorf("%w: send Open: %w", ErrUnavailable, err)
	}
	ctx, cancelWait := context.WithTimeout(ctx, cfg.callTimeout)
	defer cancelWait()
	var opened *pb.Opened
	select {
	case opened = <-s.openedCh:
	case <-s.done:
		// A plugin that refuses the subscription sends Opened and ends the session: the reader may
		// have handed Opened over before it stopped.
		select {
		case opened = <-s.openedCh:
		default:
			s.abort()
			return nil, fmt.Errorf("%w: session ended before Opened: %w", ErrUnavailable, s.readErr)
		}
	case <-ctx.Done():
		s.abort()
		return nil, fmt.Errorf("%w: waiting for Opened: %w", ErrUnavailable, ctx.Err())
	}
	diags := diagnosticsFromPB(opened.GetDiagnostics())
	if diags.HasError() {
		s.abort()
		return nil, &ConfigError{Plugin: plugin, Subscription: true, Diagnostics: diags}
	}
	for _, d := range diags {
		cfg.log.Warn("subscription configuration", "diagnostic", d.String())
	}
	s.leave = sync.OnceFunc(cfg.metrics.SubscriberJoined(SubscriberRoute))
	return s, nil
}

// read receives the plugin's replies until the call (ctx) ends.
func (s *session) read(ctx context.Context) {
	defer close(s.done)
	for {
		msg, err := s.stream.Recv()
		if err != nil {
			s.readErr = err
			return
		}
		switch m := msg.GetMsg().(type) {
		case *pb.PluginMessage_Opened:
			select {
			case s.openedCh <- m.Opened:
			case <-ctx.Done():
			}
		case *pb.PluginMessage_Ack:
			storeMax(s.acked, m.Ack.GetChunkId())
			select {
			case s.ackCh <- struct{}{}:
			default:
			}
		case *pb.PluginMessage_Nack:
			// The plugin sends one Nack, then waits for a Resume.
			select {
			case s.nackCh <- m.Nack:
			case <-ctx.Done():
			}
		case *pb.PluginMessage_Closed:
			s.closeOnce.Do(func() { close(s.closedCh) })
		}
	}
}

func storeMax(v *atomic.Uint64, id uint64) {
	for {
		old := v.Load()
		if id <= old || v.CompareAndSwap(old, id) {
			return
		}
	}
}

// abort ends the call without a Close and waits for the reader. Every end of a session comes
// here, so it is where the session stops counting as a subscriber.
func (s *session) abort() {
	s.cancel()
	<-s.done
	if s.leave != nil {
		s.leave()
	}
}

// Deliver sends chunks to the plugin, never leaving more than the window unacknowledged. It
// returns a *terminatedError when the decision chain ends the subscription, errPluginLost when
// the plugin goes away, or ctx's error.
func (s *session) Deliver(ctx context.Context, chunks []manager.Chunk) error {
	for len(chunks) > 0 {
		room, err := s.waitForRoom(ctx)
		if err != nil {
			return err
		}
		n, err := s.send(chunks[:min(len(chunks), room, s.cfg.maxBatch)])
		var term *terminatedError
		if errors.As(err, &term) {
			// A chunk too large to send: the plugin gets what precedes it, then the subscription ends.
			if derr := s.drain(ctx); derr != nil {
				return derr
			}
		}
		if err != nil {
			return err
		}
		s.unacked = append(s.unacked, chunks[:n]...)
		if e := chunks[n-1].Err; e != nil {
			s.lastErr = e
		}
		chunks = chunks[n:]
	}
	return nil
}

// waitForRoom handles acks and nacks until the window has room, and returns how much.
func (s *session) waitForRoom(ctx context.Context) (int, error) {
	for {
		s.trim()
		if room := s.cfg.window - len(s.unacked); room > 0 {
			select {
			case nack := <-s.nackCh:
				if err := s.handleNack(ctx, nack); err != nil {
					return 0, err
				}
				continue
			default:
				return room, nil
			}
		}
		if err := s.waitReply(ctx); err != nil {
			return 0, err
		}
	}
}

// waitReply waits for an ack or handles a nack.
func (s *session) waitReply(ctx context.Context) error {
	select {
	case <-s.ackCh:
		return nil
	case nack := <-s.nackCh:
		return s.handleNack(ctx, nack)
	case <-s.done:
		return errPluginLost
	case <-ctx.Done():
		return ctx.Err()
	}
}

// trim drops acknowledged chunks and ends a run of nacks once the plugin moves past it.
func (s *session) trim() {
	acked := s.acked.Load()
	i := 0
	for i < len(s.unacked) && s.unacked[i].ID <= acked {
		i++
	}
	if i > 0 {
		s.unacked = append(s.unacked[:0], s.unacked[i:]...)
		s.attempt = 0
	}
}

// drain waits until the plugin has acknowledged every chunk sent.
func (s *session) drain(ctx context.Context) error {
	for {
		s.trim()
		if len(s.unacked) == 0 {
			return nil
		}
		if err := s.waitReply(ctx); err != nil {
			return err
		}
	}
}

// send sends, in one Batch, the longest run of chunks that fits in cfg.maxBytes, and returns how
// many it sent. A first chunk too large for any message is a *terminatedError.
func (s *session) send(chunks []manager.Chunk) (int, error) {
	s.batch = s.batch[:0]
	size := 0
	for _, c := range chunks {
		pc := chunkToPB(c)
		size += batchedSize(pc)
		if size > s.cfg.maxBytes {
			break
		}
		s.batch = append(s.batch, pc)
	}
	if len(s.batch) == 0 {
		return 0, s.tooLarge(chunks[0])
	}
	if err := s.stream.Send(&pb.HostMessage{Msg: &pb.HostMessage_Batch{Batch: &pb.Batch{Chunks: s.batch}}}); err != nil {
		return 0, fmt.Errorf("%w: %w", errPluginLost, err)
	}
	return len(s.batch), nil
}

// batchedSize is what a chunk adds to a Batch: an element of a repeated message field is a tag,
// a length and the chunk.
func batchedSize(c *pb.Chunk) int {
	return protowire.SizeTag(1) + protowire.SizeBytes(proto.Size(c))
}

// tooLarge ends the subscription at a chunk that no message can carry: sending it again or
// re-attaching cannot help.
func (s *session) tooLarge(c manager.Chunk) error {
	msg := fmt.Sprintf("chunk %d is too large for the plugin transport: %d bytes encoded, one message carries at most %d",
		c.ID, batchedSize(chunkToPB(c)), s.cfg.maxBytes)
	return &terminatedError{Reason: "delivery failed: " + msg,
		Err: &manager.StreamError{Code: 413, Status: manager.StatusForCode(413), Message: msg}}
}

// handleNack asks the decision chain what a rejected batch means and acts on it.
func (s *session) handleNack(ctx context.Context, nack *pb.Nack) error {
	s.trim()
	if s.attempt == 0 {
		s.firstNack = time.Now()
		s.bo = newBackOff(s.cfg.minBackoff, s.cfg.maxBackoff)
	}
	s.attempt++
	nerr := streamErrorFromPB(nack.GetError())
	if nerr == nil {
		nerr = &manager.StreamError{Code: 500, Status: manager.StatusForCode(500), Message: "delivery failed"}
	}
	info := upstream.ErrorInfo{Phase: upstream.PhaseDelivery, StreamID: s.req.streamID, Subscription: s.req.subID,
		Attempt: s.attempt, Elapsed: time.Since(s.firstNack), Err: nerr, Retryable: nack.GetError().GetRetryable()}
	d := s.cfg.decider.Decide(ctx, info)
	s.cfg.log.Warn("plugin rejected chunks", "first_id", nack.GetFirstId(), "last_id", nack.GetLastId(),
		"attempt", s.attempt, "error", nerr.Error(), "decision", d.Action.String())
	switch d.Action {
	case upstream.ActionRetry:
		wait := d.RetryAfter
		if wait <= 0 {
			wait = s.bo.NextBackOff()
		}
		return s.resume(ctx, nack.GetFirstId()-1, wait)
	case upstream.ActionSkip:
		storeMax(s.acked, nack.GetLastId())
		s.trim()
		return s.resume(ctx, nack.GetLastId(), 0)
	case upstream.ActionTerminate:
		if d.Err != nil {
			nerr = d.Err
		}
		return &terminatedError{Reason: "delivery failed: " + nerr.Message, Err: nerr}
	}
	if s.attempt >= s.cfg.attempts {
		return &terminatedError{Reason: fmt.Sprintf("delivery failed after %d attempts: %s", s.attempt, nerr.Message), Err: nerr}
	}
	return s.resume(ctx, nack.GetFirstId()-1, s.bo.NextBackOff())
}

// resume waits, tells the plugin to continue after the given chunk and sends again every
// unacknowledged chunk that follows it.
func (s *session) resume(ctx context.Context, after uint64, wait time.Duration) error {
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
			return errPluginLost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := s.stream.Send(&pb.HostMessage{Msg: &pb.HostMessage_Resume{Resume: &pb.Resume{AfterId: after}}}); err != nil {
		return fmt.Errorf("%w: %w", errPluginLost, err)
	}
	pending := s.unacked
	for len(pending) > 0 && pending[0].ID <= after {
		pending = pending[1:]
	}
	for len(pending) > 0 {
		n, err := s.send(pending[:min(len(pending), s.cfg.maxBatch)])
		if err != nil {
			return err
		}
		pending = pending[n:]
	}
	return nil
}

// Closed delivers the end of the stream: it waits for every chunk to be acknowledged, sends
// Close and waits for the plugin's Closed, then ends the call.
func (s *session) Closed(ctx context.Context, end manager.ClosedError) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	return s.finish(ctx, end.Reason, s.lastErr)
}

// finish sends Close and waits for Closed (at most the call timeout), then ends the call.
func (s *session) finish(ctx context.Context, reason string, serr *manager.StreamError) error {
	defer s.abort()
	msg := &pb.Close{Reason: reason, Error: streamErrorToPB(serr)}
	if err := s.stream.Send(&pb.HostMessage{Msg: &pb.HostMessage_Close{Close: msg}}); err != nil {
		return fmt.Errorf("%w: send Close: %w", errPluginLost, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	select {
	case <-s.closedCh:
		return nil
	case <-s.done:
		select {
		case <-s.closedCh: // Closed came just before the end of the call
			return nil
		default:
		}
		return fmt.Errorf("%w: close: %w", errPluginLost, s.readErr)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for Closed: %w", ErrUnavailable, ctx.Err())
	}
}
