package main

import (
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
)

// dropSessions ends every Transport.Session call with an error when its first batch arrives,
// before the transport sees it: the host loses the session while the plugin keeps running, as
// when a message is refused by the transport.
func dropSessions(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasSuffix(info.FullMethod, "/Session") {
		return handler(srv, ss)
	}
	return handler(srv, droppingStream{ss})
}

type droppingStream struct{ grpc.ServerStream }

func (d droppingStream) RecvMsg(m any) error {
	if err := d.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if msg, ok := m.(*pb.HostMessage); ok && msg.GetBatch() != nil {
		return status.Error(codes.Unavailable, "testplugin drops every session at its first batch")
	}
	return nil
}
