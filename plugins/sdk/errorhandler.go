package sdk

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
)

// ErrorHandler is an error-handler plugin: the host asks it what an upstream or delivery error
// means. Handlers form an ordered chain; ActionDefer passes the error on. Handle must be safe for
// concurrent use and return promptly: the host gives each call a short timeout and falls back to
// its built-in policy when it runs out or Handle returns an error.
type ErrorHandler interface {
	Handle(ctx context.Context, info ErrorInfo) (Decision, error)
}

// ErrorHandlerFunc adapts a function to ErrorHandler.
type ErrorHandlerFunc func(ctx context.Context, info ErrorInfo) (Decision, error)

// Handle implements ErrorHandler.
func (f ErrorHandlerFunc) Handle(ctx context.Context, info ErrorInfo) (Decision, error) {
	return f(ctx, info)
}

type errorHandlerServer struct {
	pb.UnimplementedErrorHandlerServer
	impl ErrorHandler
}

func (s *errorHandlerServer) Handle(ctx context.Context, req *pb.HandleRequest) (*pb.HandleResponse, error) {
	d, err := s.impl.Handle(ctx, errorInfoFromPB(req))
	if err != nil {
		return nil, status.Errorf(codes.Unknown, "handle error: %v", err)
	}
	return decisionToPB(d), nil
}
