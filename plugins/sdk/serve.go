package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
)

// parentCheckInterval is how often a serving plugin checks that its host is still alive.
const parentCheckInterval = 200 * time.Millisecond

// Option configures Serve.
type Option func(*options)

type options struct {
	transport Transport
	handler   ErrorHandler
	configure func(ctx context.Context, config json.RawMessage) error
}

// WithTransport serves t: the plugin is a transport.
func WithTransport(t Transport) Option {
	return func(o *options) { o.transport = t }
}

// WithErrorHandler serves h: the plugin is an error handler.
func WithErrorHandler(h ErrorHandler) Option {
	return func(o *options) { o.handler = h }
}

// WithConfigure makes fn receive the plugin's configuration instead of the Configure methods of
// the transport and error handler (see Configurer).
func WithConfigure(fn func(ctx context.Context, config json.RawMessage) error) Option {
	return func(o *options) { o.configure = fn }
}

// Serve runs the plugin until the host stops it, and exits the process when the host dies. It
// never returns on success; when info or the options are invalid, or the binary was not started by
// streamgate, it prints why on stderr and exits with status 1.
func Serve(info Info, opts ...Option) {
	cfg, err := ServeConfig(info, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "streamgate plugin:", err)
		os.Exit(1)
	}
	watchParent(os.Getppid(), parentCheckInterval, func() {
		Logger().Error("host process is gone; plugin exiting")
		os.Exit(3)
	})
	plugin.Serve(cfg)
}

// ServeConfig returns the go-plugin configuration Serve uses, for plugins that embed more than
// one protocol or tests that serve a plugin in-process (go-plugin's ServeConfig.Test).
func ServeConfig(info Info, opts ...Option) (*plugin.ServeConfig, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if info.Name == "" {
		return nil, errors.New("sdk.Info.Name is required")
	}
	if o.transport == nil && o.handler == nil {
		return nil, errors.New("serve needs WithTransport or WithErrorHandler")
	}
	info.Kinds = nil
	if o.transport != nil {
		info.Kinds = append(info.Kinds, KindTransport)
	}
	if o.handler != nil {
		info.Kinds = append(info.Kinds, KindErrorHandler)
	}
	return &plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{MagicCookieKey: MagicCookieKey, MagicCookieValue: MagicCookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &grpcPlugin{info: info, opts: o}},
		},
		GRPCServer: func(so []grpc.ServerOption) *grpc.Server {
			so = append(so, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
			return grpc.NewServer(so...)
		},
	}, nil
}

// grpcPlugin is the plugin side of the go-plugin GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	info Info
	opts options
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	log := Logger()
	pb.RegisterPluginServer(s, &pluginServer{info: p.info, configure: p.opts.configureFunc()})
	if p.opts.transport != nil {
		pb.RegisterTransportServer(s, &transportServer{impl: p.opts.transport, log: log})
	}
	if p.opts.handler != nil {
		pb.RegisterErrorHandlerServer(s, &errorHandlerServer{impl: p.opts.handler})
	}
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("a streamgate plugin has no host side")
}

// configureFunc returns the function Configure calls: WithConfigure's, or one calling each
// component that implements Configurer.
func (o options) configureFunc() func(context.Context, json.RawMessage) error {
	if o.configure != nil {
		return o.configure
	}
	var cs []Configurer
	if c, ok := o.transport.(Configurer); ok {
		cs = append(cs, c)
	}
	if c, ok := o.handler.(Configurer); ok && any(o.handler) != any(o.transport) {
		cs = append(cs, c)
	}
	return func(ctx context.Context, config json.RawMessage) error {
		var diags Diagnostics
		for _, c := range cs {
			diags = append(diags, DiagnosticsFrom(c.Configure(ctx, config))...)
		}
		if len(diags) == 0 {
			return nil
		}
		return diags
	}
}

type pluginServer struct {
	pb.UnimplementedPluginServer
	info      Info
	configure func(context.Context, json.RawMessage) error
}

func (s *pluginServer) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	return &pb.GetInfoResponse{
		Name:         s.info.Name,
		Kinds:        kindsToPB(s.info.Kinds),
		Version:      s.info.Version,
		Description:  s.info.Description,
		ConfigSchema: s.info.ConfigSchema,
	}, nil
}

func (s *pluginServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var config json.RawMessage
	if len(req.GetConfig()) > 0 {
		config = req.GetConfig()
	}
	diags := DiagnosticsFrom(s.configure(ctx, config))
	return &pb.ConfigureResponse{Diagnostics: diagnosticsToPB(diags)}, nil
}
