package sdk

import (
	"time"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
)

func errorFromPB(e *pb.Error) *Error {
	if e == nil {
		return nil
	}
	return &Error{
		Code:       int(e.GetCode()),
		Status:     e.GetStatus(),
		Message:    e.GetMessage(),
		Retryable:  e.GetRetryable(),
		HTTPStatus: int(e.GetHttpStatus()),
	}
}

func errorToPB(e *Error) *pb.Error {
	if e == nil {
		return nil
	}
	return &pb.Error{
		Code:       int32(e.Code),
		Status:     e.Status,
		Message:    e.Message,
		Retryable:  e.Retryable,
		HttpStatus: int32(e.HTTPStatus),
	}
}

func chunksFromPB(in []*pb.Chunk, out []Chunk) []Chunk {
	out = out[:0]
	for _, c := range in {
		ch := Chunk{ID: c.GetId(), Event: c.GetEvent(), Data: c.GetData(), Err: errorFromPB(c.GetError())}
		if ns := c.GetTimeUnixNano(); ns != 0 {
			ch.Time = time.Unix(0, ns)
		}
		out = append(out, ch)
	}
	return out
}

func openFromPB(o *pb.Open) OpenRequest {
	return OpenRequest{
		StreamID:       o.GetStreamId(),
		Instance:       o.GetStreamInstance(),
		Tenant:         o.GetTenant(),
		SubscriptionID: o.GetSubscriptionId(),
		Metadata:       o.GetMetadata(),
		Config:         o.GetConfig(),
		ResumeAfter:    o.GetResumeAfter(),
	}
}

func diagnosticsToPB(d Diagnostics) []*pb.Diagnostic {
	out := make([]*pb.Diagnostic, 0, len(d))
	for _, x := range d {
		sev := pb.Diagnostic_SEVERITY_ERROR
		if x.Severity == SeverityWarning {
			sev = pb.Diagnostic_SEVERITY_WARNING
		}
		out = append(out, &pb.Diagnostic{Severity: sev, Summary: x.Summary, Detail: x.Detail, AttributePath: x.Path})
	}
	return out
}

func kindsToPB(kinds []Kind) []pb.Kind {
	out := make([]pb.Kind, 0, len(kinds))
	for _, k := range kinds {
		switch k {
		case KindTransport:
			out = append(out, pb.Kind_KIND_TRANSPORT)
		case KindErrorHandler:
			out = append(out, pb.Kind_KIND_ERROR_HANDLER)
		}
	}
	return out
}

func errorInfoFromPB(r *pb.HandleRequest) ErrorInfo {
	info := ErrorInfo{
		StreamID:     r.GetStreamId(),
		Subscription: r.GetSubscriptionId(),
		Attempt:      int(r.GetAttempt()),
		Elapsed:      time.Duration(r.GetElapsedNs()),
	}
	switch r.GetPhase() {
	case pb.Phase_PHASE_UPSTREAM:
		info.Phase = PhaseUpstream
	case pb.Phase_PHASE_DELIVERY:
		info.Phase = PhaseDelivery
	}
	if e := errorFromPB(r.GetError()); e != nil {
		info.Err = *e
	}
	return info
}

func decisionToPB(d Decision) *pb.HandleResponse {
	resp := &pb.HandleResponse{RetryAfterNs: int64(d.RetryAfter), Error: errorToPB(d.Err)}
	switch d.Action {
	case ActionRetry:
		resp.Action = pb.Action_ACTION_RETRY
	case ActionSkip:
		resp.Action = pb.Action_ACTION_SKIP
	case ActionTerminate:
		resp.Action = pb.Action_ACTION_TERMINATE
	default:
		resp.Action = pb.Action_ACTION_DEFER
	}
	return resp
}
