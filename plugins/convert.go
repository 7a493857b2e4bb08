package plugins

import (
	"time"

	"github.com/streamgate/streamgate/manager"
	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
	"github.com/streamgate/streamgate/plugins/sdk"
	"github.com/streamgate/streamgate/upstream"
)

func streamErrorToPB(e *manager.StreamError) *pb.Error {
	if e == nil {
		return nil
	}
	return &pb.Error{Code: int32(e.Code), Status: e.Status, Message: e.Message}
}

func streamErrorFromPB(e *pb.Error) *manager.StreamError {
	if e == nil {
		return nil
	}
	return &manager.StreamError{Code: int(e.GetCode()), Status: e.GetStatus(), Message: e.GetMessage()}
}

func chunkToPB(c manager.Chunk) *pb.Chunk {
	out := &pb.Chunk{Id: c.ID, Event: c.Event, Data: c.Data, Error: streamErrorToPB(c.Err)}
	if !c.Time.IsZero() {
		out.TimeUnixNano = c.Time.UnixNano()
	}
	return out
}

func diagnosticsFromPB(in []*pb.Diagnostic) sdk.Diagnostics {
	out := make(sdk.Diagnostics, 0, len(in))
	for _, d := range in {
		sev := sdk.SeverityError
		if d.GetSeverity() == pb.Diagnostic_SEVERITY_WARNING {
			sev = sdk.SeverityWarning
		}
		out = append(out, sdk.Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: d.GetDetail(), Path: d.GetAttributePath()})
	}
	return out
}

func infoFromPB(r *pb.GetInfoResponse) sdk.Info {
	info := sdk.Info{Name: r.GetName(), Version: r.GetVersion(), Description: r.GetDescription(), ConfigSchema: r.GetConfigSchema()}
	for _, k := range r.GetKinds() {
		switch k {
		case pb.Kind_KIND_TRANSPORT:
			info.Kinds = append(info.Kinds, sdk.KindTransport)
		case pb.Kind_KIND_ERROR_HANDLER:
			info.Kinds = append(info.Kinds, sdk.KindErrorHandler)
		}
	}
	return info
}

func errorInfoToPB(info upstream.ErrorInfo) *pb.HandleRequest {
	req := &pb.HandleRequest{
		StreamId:       info.StreamID,
		SubscriptionId: info.Subscription,
		Attempt:        int32(info.Attempt),
		ElapsedNs:      int64(info.Elapsed),
		Error:          streamErrorToPB(info.Err),
	}
	if req.Error == nil {
		req.Error = &pb.Error{}
	}
	req.Error.Retryable = info.Retryable
	req.Error.HttpStatus = int32(info.HTTPStatus)
	switch info.Phase {
	case upstream.PhaseUpstream:
		req.Phase = pb.Phase_PHASE_UPSTREAM
	case upstream.PhaseDelivery:
		req.Phase = pb.Phase_PHASE_DELIVERY
	}
	return req
}

func decisionFromPB(r *pb.HandleResponse) upstream.Decision {
	d := upstream.Decision{RetryAfter: max(0, time.Duration(r.GetRetryAfterNs())), Err: streamErrorFromPB(r.GetError())}
	switch r.GetAction() {
	case pb.Action_ACTION_RETRY:
		d.Action = upstream.ActionRetry
	case pb.Action_ACTION_SKIP:
		d.Action = upstream.ActionSkip
	case pb.Action_ACTION_TERMINATE:
		d.Action = upstream.ActionTerminate
	default:
		d.Action = upstream.ActionDefault
	}
	return d
}
