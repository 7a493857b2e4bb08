// Command streamgate runs the streamgate gateway.
//
//	streamgate [-config PATH] [-listen ADDR] [-admin ADDR]
//	streamgate -version
//
// It loads the configuration (configs/streamgate.yaml by default; when that file is missing and
// -config was not given, the built-in defaults), builds the manager, the client keyring, the
// upstream provider and runner (the embedded simulator when no API key is configured), the
// gateway, the metrics and the tracer provider, opens the gateway's listener and the admin
// listener (/metrics, /healthz, /readyz, /debug/pprof/), prints one ready line naming the
// configuration, the upstream and both addresses with a curl command to try, and serves until
// SIGINT or SIGTERM, then shuts down gracefully within shutdown_grace. The admin listener keeps
// answering while the gateway drains, and stops last. -h describes the flags and the variables.
//
// With cluster.redis_url set it runs in cluster mode (docs/cluster.md): it connects to Redis and
// takes this replica's lease before anything else starts, and hands the cluster Node (the view of
// every replica's streams over this process's manager) to the gateway, the upstream runner and
// the plugin host in place of the manager, and the Redis rate limiter to the gateway. Shutdown
// closes the Node (inside the gateway's), then the plugins, then the Store, releasing the lease.
//
// Exit codes: 0 after a clean shutdown, -h or -version; 2 for an invalid configuration or
// arguments (the message names the setting), or a cluster mode that cannot start (Redis
// unreachable, named by its URL without the password; the node ID held by another live
// replica); 1 for any other failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/configs"
	"github.com/streamgate/streamgate/plugins"
	"github.com/streamgate/streamgate/telemetry"
)

// defaultConfigPath is the file loaded when -config is not given.
const defaultConfigPath = "configs/streamgate.yaml"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// configError marks an error as a configuration problem (exit code 2).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	flags := flag.NewFlagSet("streamgate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {} // printed below: to stdout for -h, to stderr for a mistake
	configPath := flags.String("config", defaultConfigPath, "configuration file `PATH` (YAML); see the search below")
	listen := flags.String("listen", "", "gateway listen address `ADDR` (host:port), overriding the file's listen")
	adminAddr := flags.String("admin", "", "admin listen address `ADDR` (host:port), overriding the file's admin.listen; \"\" disables it")
	version := flags.Bool("version", false, "print the version, revision and Go version, and exit")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, flags)
			return exitOK
		}
		usage(stderr, flags)
		return exitConfig
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "streamgate: unexpected arguments %q\n", flags.Args())
		return exitConfig
	}
	if *version {
		fmt.Fprintln(stdout, telemetry.ReadBuildInfo())
		return exitOK
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var adminOverride *string
	if set["admin"] {
		adminOverride = adminAddr
	}

	cfg, source, err := loadConfig(*configPath, set["config"], *listen, adminOverride, lookupEnv)
	if err == nil {
		err = serve(ctx, cfg, source, stdout, stderr, lookupEnv)
	}
	var ce configError
	var se startError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce), errors.Is(err, configs.ErrInvalid):
		fmt.Fprintf(stderr, "streamgate: invalid configuration:\n%v\n", err)
		return exitConfig
	case errors.As(err, &se):
		fmt.Fprintf(stderr, "streamgate: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stderr, "streamgate: %v\n", err)
	return exitFailure
}

// usage writes the -h text: the flags, the configuration file search and the variables.
func usage(w io.Writer, flags *flag.FlagSet) {
	fmt.Fprint(w, `Usage: streamgate [-config PATH] [-listen ADDR] [-admin ADDR]
       streamgate -version

streamgate is a gateway in front of Gemini-style streaming APIs: it starts each upstream
streamGenerateContent request once and fans its chunks out to any number of clients.

Flags:
`)
	flags.SetOutput(w)
	flags.PrintDefaults()
	flags.SetOutput(io.Discard)
	fmt.Fprint(w, `  -h, -help
    	print this help and exit

Configuration file:
  -config PATH loads PATH, and a missing PATH is an error (exit code 2). Without -config,
  streamgate loads `+defaultConfigPath+` from the working directory, and when that file does
  not exist it runs on the built-in defaults: the embedded simulator on 127.0.0.1:8080, the
  admin listener on 127.0.0.1:9464, no client keys. The ready line names what it loaded.
  Every key is documented in configs/README.md.

Environment:
  GEMINI_API_KEY
    	the Gemini Developer API key. The shipped configuration reads it as upstream.api_key
    	("${GEMINI_API_KEY:-}"), and so do the built-in defaults: set, the gateway proxies the
    	Gemini API; unset or empty, it runs the simulator. It is never logged.
  ${NAME} in the configuration file
    	any variable the file references as ${NAME} or ${NAME:-default}.
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    	the OTLP receiver traces go to when telemetry.otlp_endpoint is empty (the first gets
    	/v1/traces appended for http/protobuf, the second is used as it is). With none of
    	them, tracing is off.
  OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    	grpc or http/protobuf (the default) when telemetry.otlp_protocol is empty.
  OTEL_SERVICE_NAME
    	the traces' service.name when telemetry.service_name is empty (default streamgate).
  OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none
    	turn tracing off whatever else is set.
  OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION,
  OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_*
    	read by the OpenTelemetry exporter and SDK themselves.

Exit codes: 0 after a clean shutdown, -h or -version; 2 for an invalid configuration or
arguments, or a cluster mode that cannot start (Redis unreachable); 1 for any other failure.
See docs/operations.md for metrics, tracing and the admin listener.
`)
}

// loadConfig loads the configuration file, falling back to the defaults when the default file is
// missing, and applies -listen and -admin. It also returns what the ready line calls the source:
// the file's path, or "built-in defaults".
func loadConfig(path string, explicit bool, listen string, adminListen *string, lookupEnv func(string) (string, bool)) (*configs.Config, string, error) {
	source := path
	cfg, err := configs.Load(path, lookupEnv)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		cfg, err, source = configs.Default(), nil, "built-in defaults"
		// The shipped file reads the key from GEMINI_API_KEY; the defaults do the same.
		if key, ok := lookupEnv("GEMINI_API_KEY"); ok {
			cfg.Upstream.APIKey = configs.Secret(key)
		}
	}
	if err != nil {
		if errors.Is(err, configs.ErrInvalid) {
			return nil, "", err
		}
		return nil, "", configError{err}
	}
	var overrides []string
	if listen != "" {
		cfg.Listen = listen
		overrides = append(overrides, "-listen")
	}
	if adminListen != nil {
		cfg.Admin.Listen = *adminListen
		overrides = append(overrides, "-admin")
	}
	if len(overrides) > 0 {
		if err := cfg.Validate(); err != nil {
			return nil, "", fmt.Errorf("%s: %w", strings.Join(overrides, ", "), err)
		}
	}
	if len(cfg.Auth.Keys) == 0 && !auth.IsLoopback(cfg.Listen) {
		return nil, "", configError{fmt.Errorf("listen: %s is not a loopback address and auth.keys is empty: "+
			"configure client keys, or listen on 127.0.0.1", cfg.Listen)}
	}
	return cfg, source, nil
}

// serve builds everything, serves until ctx ends and shuts down: the gateway closes every stream,
// then the plugin processes stop, then the admin listener, and the last spans are flushed.
func serve(ctx context.Context, cfg *configs.Config, source string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) error {
	log := newLogger(cfg.Log, stderr)
	checkFileLimit(log, cfg.Limits.MaxConnections)
	o, err := newOps(ctx, cfg, lookupEnv, log)
	if err != nil {
		return err
	}
	parts, err := build(ctx, cfg, o, log)
	if err != nil {
		return errors.Join(err, o.close())
	}
	defer parts.unobserve()
	defer parts.runner.CloseIdleConnections()
	err = listenAndServe(ctx, cfg, source, parts, o, stdout, log)
	if cerr := closePlugins(parts.plugins, cfg.ShutdownGrace); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close plugins: %w", cerr))
	}
	if cerr := parts.cluster.close(cfg.ShutdownGrace); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close cluster store: %w", cerr))
	}
	if cerr := o.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return err
	}
	log.Info("streamgate stopped")
	return nil
}

// listenAndServe opens the gateway's and the admin listeners, prints the ready line once both
// accept, and serves until ctx ends; the admin listener stops after the gateway has drained.
func listenAndServe(ctx context.Context, cfg *configs.Config, source string, parts parts, o *ops, stdout io.Writer, log *slog.Logger) (err error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	adminLn, err := listenAdmin(cfg.Admin.Listen)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	stopAdmin, err := o.serveAdmin(adminLn, cfg.Admin.Pprof, parts.gateway.Ready, log)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	defer func() { err = errors.Join(err, stopAdmin()) }()

	addr := ln.Addr().String()
	fmt.Fprintln(stdout, readyLine(addr, parts.provider, source, adminURL(adminLn), parts.open))
	log.Info("streamgate ready", "addr", addr, "upstream", parts.provider, "config", source, "admin", adminAddr(adminLn))
	o.ready.Store(true)
	stopReady := context.AfterFunc(ctx, func() { o.ready.Store(false) })
	defer stopReady()
	if err := parts.gateway.Serve(ctx, ln); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// adminAddr is the admin listener's address for the log, "" when it is off.
func adminAddr(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// fdHeadroom is the file descriptors kept for everything but client connections: upstream
// connections, plugin pipes, the admin listener's connections, log files.
const fdHeadroom = 1000

// checkFileLimit raises the open-file limit and warns when it cannot hold maxConns client
// connections plus fdHeadroom: past it, accept fails and every tenant times out.
func checkFileLimit(log *slog.Logger, maxConns int) {
	limit, err := raiseFileLimit()
	switch {
	case err != nil:
		log.Warn("could not raise the open-file limit", "err", err, "fd_limit", limit)
	case limit > 0 && limit < uint64(maxConns)+fdHeadroom:
		log.Warn("the open-file limit is low for limits.max_connections", "fd_limit", limit,
			"max_connections", maxConns)
	default:
		log.Debug("open-file limit", "fd_limit", limit)
	}
}

// closePlugins stops the plugin processes once the gateway has closed every stream.
func closePlugins(host *plugins.Host, grace time.Duration) error {
	if host == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(grace, time.Second))
	defer cancel()
	return host.Close(ctx)
}

// readyLine is the one line printed when the gateway accepts connections.
func readyLine(addr, provider, source, admin string, open bool) string {
	url := "http://" + addr
	key := ""
	if !open {
		key = ` -H "x-goog-api-key: $STREAMGATE_KEY"`
	}
	return fmt.Sprintf("streamgate ready on %s (upstream: %s) from %s, %s; try: curl -N '%s/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'%s"+
		` -H 'Content-Type: application/json' -d '{"contents":[{"parts":[{"text":"Hello"}]}]}'; console: %s/`, url, provider, source, admin, url, key, url)
}
