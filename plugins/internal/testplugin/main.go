// Command testplugin is a streamgate plugin for the plugins package's tests. Its -mode flag picks a
// behaviour:
//
//	(none)     a transport and an error handler driven by their configuration (see config)
//	v2             serves protocol version 2 only
//	badcookie      expects another magic cookie
//	crash          exits at once with status 2
//	drop-sessions  a transport whose every session ends with an error at its first batch, the
//	               process running on (see dropSessions)
package main

import (
	"flag"
	"fmt"
	"os"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/streamgate/streamgate/plugins/sdk"
)

func main() {
	mode := flag.String("mode", "", "behaviour: v2, badcookie, crash, drop-sessions or empty")
	flag.Parse()
	info := sdk.Info{Name: "testplugin", Version: "0.0.1"}
	t := &transport{}
	switch *mode {
	case "":
		sdk.Serve(info, sdk.WithTransport(t), sdk.WithErrorHandler(&handler{t: t}), sdk.WithConfigure(t.configure))
	case "v2", "badcookie":
		cfg, err := sdk.ServeConfig(info, sdk.WithTransport(t))
		if err != nil {
			panic(err)
		}
		if *mode == "v2" {
			cfg.VersionedPlugins = map[int]plugin.PluginSet{2: cfg.VersionedPlugins[sdk.ProtocolVersion]}
		} else {
			cfg.MagicCookieValue = "not-the-streamgate-cookie"
		}
		plugin.Serve(cfg)
	case "drop-sessions":
		cfg, err := sdk.ServeConfig(info, sdk.WithTransport(t), sdk.WithConfigure(t.configure))
		if err != nil {
			panic(err)
		}
		newServer := cfg.GRPCServer
		cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
			return newServer(append(opts, grpc.ChainStreamInterceptor(dropSessions)))
		}
		plugin.Serve(cfg)
	case "crash":
		fmt.Fprintln(os.Stderr, "testplugin: crashing on purpose")
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "testplugin: unknown mode %q\n", *mode)
		os.Exit(2)
	}
}
