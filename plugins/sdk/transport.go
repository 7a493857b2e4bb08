package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
)

// Transport is a transport plugin: the host opens one Session per subscription, that is per
// stream the plugin is attached to. Open may run concurrently for different streams.
type Transport interface {
	// Open starts delivering one stream. Returning an error refuses the subscription; return
	// Diagnostics (see Invalid) when req.Config is at fault.
	Open(ctx context.Context, req OpenRequest) (Session, error)
}

// Session delivers the chunks of one stream. The SDK calls its methods from one goroutine, in order.
type Session interface {
	// Deliver hands over a batch of chunks in ID order. When it returns nil the SDK acknowledges
	// the batch, and the host will not send those chunks again unless the plugin restarts before
	// the acknowledgement arrives. When it returns an error (an *Error says which) the host
	// decides, through its error handlers, to send the batch again, skip it or end the
	// subscription. The slice is reused after Deliver returns; the chunks' Data is not.
	Deliver(ctx context.Context, chunks []Chunk) error
	// Close ends the session after the last chunk: the stream closed, the subscription was
	// removed, or delivery failed for good.
	Close(ctx context.Context, info CloseInfo) error
}

// Aborter is implemented by sessions that hold resources. When the host goes away without closing
// the session (it crashed, or it is restarting the plugin's connection), the SDK calls Abort
// instead of Close: the host will open the session again later, from its last acknowledged chunk.
type Aborter interface {
	Abort()
}

// Configurer is implemented by a Transport or ErrorHandler that accepts a configuration. Configure
// receives the `config` block of the plugin's entry in the host's configuration, as JSON (nil when
// there is none), once after every launch and before any session or Handle call. Returning
// Diagnostics (see DecodeConfig and Invalid) points the operator at the offending field.
type Configurer interface {
	Configure(ctx context.Context, config json.RawMessage) error
}

type transportServer struct {
	pb.UnimplementedTransportServer
	impl Transport
	log  *slog.Logger
}

func (s *transportServer) Session(stream pb.Transport_SessionServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "the first message of a session must be Open")
	}
	req := openFromPB(open)
	sess, err := s.impl.Open(ctx, req)
	if err != nil {
		diags := DiagnosticsFrom(err)
		if !diags.HasError() {
			diags = append(diags, Diagnostic{Severity: SeverityError, Summary: "session refused", Detail: err.Error()})
		}
		return stream.Send(&pb.PluginMessage{Msg: &pb.PluginMessage_Opened{Opened: &pb.Opened{Diagnostics: diagnosticsToPB(diags)}}})
	}
	if err := stream.Send(&pb.PluginMessage{Msg: &pb.PluginMessage_Opened{Opened: &pb.Opened{}}}); err != nil {
		abort(sess)
		return err
	}
	r := &sessionRunner{stream: stream, sess: sess, acked: req.ResumeAfter,
		log: s.log.With("stream_id", req.StreamID, "subscription_id", req.SubscriptionID)}
	return r.run(ctx)
}

// sessionRunner is the plugin side of one Transport.Session call.
type sessionRunner struct {
	stream pb.Transport_SessionServer
	sess   Session
	log    *slog.Logger
	acked  uint64 // the last chunk acknowledged (or skipped) in this session
	failed bool   // a Nack was sent and no Resume has come yet
	buf    []Chunk
}

func (r *sessionRunner) run(ctx context.Context) error {
	for {
		msg, err := r.stream.Recv()
		if err != nil {
			abort(r.sess)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch m := msg.GetMsg().(type) {
		case *pb.HostMessage_Batch:
			if err := r.deliver(ctx, m.Batch.GetChunks()); err != nil {
				abort(r.sess)
				return err
			}
		case *pb.HostMessage_Resume:
			r.failed = false
			r.acked = max(r.acked, m.Resume.GetAfterId())
		case *pb.HostMessage_Close:
			info := CloseInfo{Reason: m.Close.GetReason(), Err: errorFromPB(m.Close.GetError())}
			if err := r.sess.Close(ctx, info); err != nil {
				return status.Errorf(codes.Internal, "close session: %v", err)
			}
			return r.stream.Send(&pb.PluginMessage{Msg: &pb.PluginMessage_Closed{Closed: &pb.Closed{}}})
		default:
			abort(r.sess)
			return status.Errorf(codes.InvalidArgument, "unexpected %T in a session", m)
		}
	}
}

// deliver hands one batch to the session and acknowledges or rejects it. Chunks already
// acknowledged are dropped, and so is every batch between a Nack and the host's Resume.
func (r *sessionRunner) deliver(ctx context.Context, in []*pb.Chunk) error {
	if r.failed {
		return nil
	}
	for len(in) > 0 && in[0].GetId() <= r.acked {
		in = in[1:]
	}
	if len(in) == 0 {
		return nil
	}
	r.buf = chunksFromPB(in, r.buf)
	first, last := r.buf[0].ID, r.buf[len(r.buf)-1].ID
	if err := r.sess.Deliver(ctx, r.buf); err != nil {
		r.failed = true
		r.log.Debug("delivery failed", "first_id", first, "last_id", last, "error", err)
		nack := &pb.Nack{FirstId: first, LastId: last, Error: errorToPB(asError(err))}
		return r.stream.Send(&pb.PluginMessage{Msg: &pb.PluginMessage_Nack{Nack: nack}})
	}
	r.acked = last
	return r.stream.Send(&pb.PluginMessage{Msg: &pb.PluginMessage_Ack{Ack: &pb.Ack{ChunkId: last}}})
}

func abort(s Session) {
	if a, ok := s.(Aborter); ok {
		a.Abort()
	}
}

// asError returns err as an *Error: an *Error in err's chain keeps its fields, any other error
// becomes Code 500, Status "INTERNAL", retryable.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: 500, Status: "INTERNAL", Message: err.Error(), Retryable: true}
}
