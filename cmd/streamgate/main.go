// Command streamgate runs the streamgate gateway.
//
//	streamgate [-config PATH] [-listen ADDR]
//
// It loads the configuration (configs/streamgate.yaml by default; when that file is missing and
// -config was not given, the built-in defaults), builds the manager, the client keyring, the
// upstream provider and runner (the embedded simulator when no API key is configured) and the
// gateway, prints one ready line with the URL and a curl command to try, and serves until SIGINT or
// SIGTERM, then shuts down gracefully within shutdown_grace.
//
// Exit codes: 0 after a clean shutdown, 2 for an invalid configuration (the message names the
// setting), 1 for any other failure.
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
	"syscall"
	"time"

	"github.com/streamgate/streamgate/auth"
	"github.com/streamgate/streamgate/configs"
	"github.com/streamgate/streamgate/plugins"
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
	configPath := flags.String("config", defaultConfigPath, "configuration file (YAML)")
	listen := flags.String("listen", "", "listen address host:port, overriding the file's listen")
	if err := flags.Parse(args); err != nil {
		return exitConfig
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "streamgate: unexpected arguments %q\n", flags.Args())
		return exitConfig
	}
	explicit := false
	flags.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })

	cfg, err := loadConfig(*configPath, explicit, *listen, lookupEnv)
	if err == nil {
		err = serve(ctx, cfg, stdout, stderr)
	}
	var ce configError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce), errors.Is(err, configs.ErrInvalid):
		fmt.Fprintf(stderr, "streamgate: invalid configuration:\n%v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stderr, "streamgate: %v\n", err)
	return exitFailure
}

// loadConfig loads the configuration file, falling back to the defaults when the default file is
// missing, and applies -listen.
func loadConfig(path string, explicit bool, listen string, lookupEnv func(string) (string, bool)) (*configs.Config, error) {
	cfg, err := configs.Load(path, lookupEnv)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		cfg, err = configs.Default(), nil
		// The shipped file reads the key from GEMINI_API_KEY; the defaults do the same.
		if key, ok := lookupEnv("GEMINI_API_KEY"); ok {
			cfg.Upstream.APIKey = configs.Secret(key)
		}
	}
	if err != nil {
		if errors.Is(err, configs.ErrInvalid) {
			return nil, err
		}
		return nil, configError{err}
	}
	if listen != "" {
		cfg.Listen = listen
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("-listen: %w", err)
		}
	}
	if len(cfg.Auth.Keys) == 0 && !auth.IsLoopback(cfg.Listen) {
		return nil, configError{fmt.Errorf("listen: %s is not a loopback address and auth.keys is empty: "+
			"configure client keys, or listen on 127.0.0.1", cfg.Listen)}
	}
	return cfg, nil
}

// serve builds everything, serves until ctx ends and shuts down: the gateway closes every stream,
// then the plugin processes stop.
func serve(ctx context.Context, cfg *configs.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)
	checkFileLimit(log, cfg.Limits.MaxConnections)
	parts, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer parts.runner.CloseIdleConnections()
	err = listenAndServe(ctx, cfg.Listen, parts, stdout, log)
	if cerr := closePlugins(parts.plugins, cfg.ShutdownGrace); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close plugins: %w", cerr))
	}
	if err != nil {
		return err
	}
	log.Info("streamgate stopped")
	return nil
}

// listenAndServe prints the ready line once the listener accepts, and serves until ctx ends.
func listenAndServe(ctx context.Context, addr string, parts parts, stdout io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Fprintln(stdout, readyLine(ln.Addr().String(), parts.provider, parts.open))
	log.Info("streamgate ready", "addr", ln.Addr().String(), "upstream", parts.provider)
	if err := parts.gateway.Serve(ctx, ln); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// fdHeadroom is the file descriptors kept for everything but client connections: upstream
// connections, plugin pipes, log files.
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
func readyLine(addr, provider string, open bool) string {
	url := "http://" + addr
	key := ""
	if !open {
		key = ` -H "x-goog-api-key: $STREAMGATE_KEY"`
	}
	return fmt.Sprintf("streamgate ready on %s (upstream: %s); try: curl -N '%s/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'%s"+
		` -H 'Content-Type: application/json' -d '{"contents":[{"parts":[{"text":"Hello"}]}]}'`, url, provider, url, key)
}
