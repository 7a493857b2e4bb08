package plugins

import (
	"context"
	"errors"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// hostPlugin is the host side of the go-plugin GRPCPlugin: it turns the connection to a plugin
// process into a *conn.
type hostPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (hostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the streamgate host serves no plugin")
}

// GRPCClient is called by go-plugin with a context it cancels when the plugin process exits.
func (hostPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return newConn(ctx, cc), nil
}

func pluginSets() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{sdk.ProtocolVersion: {sdk.PluginName: hostPlugin{}}}
}

// conn is one live connection to a plugin process.
type conn struct {
	done      <-chan struct{} // closed when the process exits
	plugin    pb.PluginClient
	transport pb.TransportClient
	handler   pb.ErrorHandlerClient
	health    grpc_health_v1.HealthClient
}

func newConn(ctx context.Context, cc *grpc.ClientConn) *conn {
	return &conn{
		done:      ctx.Done(),
		plugin:    pb.NewPluginClient(cc),
		transport: pb.NewTransportClient(cc),
		handler:   pb.NewErrorHandlerClient(cc),
		health:    grpc_health_v1.NewHealthClient(cc),
	}
}

// check asks go-plugin's health service whether the plugin still answers.
func (c *conn) check(ctx context.Context) error {
	resp, err := c.health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return err
	}
	if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		return errors.New("plugin health: " + resp.GetStatus().String())
	}
	return nil
}

// exited reports whether the plugin process is gone.
func (c *conn) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
