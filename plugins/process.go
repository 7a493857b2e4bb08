package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/streamgate/streamgate/plugins/internal/pluginpb"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// passedEnv are the host environment variables a plugin inherits; nothing else of the host's
// environment reaches it.
var passedEnv = []string{"PATH", "TMPDIR", "TZ", "LANG", "LC_ALL"}

// newSysProcAttr is sysProcAttr; tests replace it to check the SDK's own parent watch.
var newSysProcAttr = sysProcAttr

// process is one running plugin process.
type process struct {
	client *plugin.Client
	conn   *conn
	info   sdk.Info
}

// pid returns the process ID; 0 once the process was killed.
func (p *process) pid() int {
	id, _ := strconv.Atoi(p.client.ID())
	return id
}

// gracefulKill is how long a plugin has to exit after go-plugin asks it to.
const gracefulKill = 2 * time.Second

// kill stops the process and waits until go-plugin's goroutines are done. go-plugin first asks
// the plugin to shut down, with no time limit; a plugin that does not exit within grace (at once
// when grace is 0, for a plugin known to hang) gets SIGKILL, which ends that request.
func (p *process) kill(grace time.Duration) {
	pid := p.pid()
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	if pid > 0 {
		if proc, err := os.FindProcess(pid); err == nil {
			_ = proc.Kill() // it may have exited meanwhile
		}
	}
	<-done
}

// launch starts the plugin pc describes, performs the handshake, and configures it. Its errors
// match ErrBinaryNotFound, ErrNotExecutable, ErrChecksumMismatch, ErrMagicCookie,
// ErrIncompatibleVersion, ErrStart or ErrBadConfig.
func launch(ctx context.Context, pc PluginConfig, startTimeout time.Duration, log *slog.Logger) (*process, error) {
	if err := checkBinary(pc.Path); err != nil {
		return nil, err
	}
	cmd := exec.Command(pc.Path, pc.Args...)
	cmd.Env = pluginEnv(pc.Env)
	cmd.SysProcAttr = newSysProcAttr()
	stderr := &tailBuffer{max: 4 << 10}
	cc := &plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: sdk.MagicCookieKey, MagicCookieValue: sdk.MagicCookieValue},
		VersionedPlugins: pluginSets(),
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     startTimeout,
		Logger:           newHclogSlog(log),
		Stderr:           stderr,
		SyncStdout:       &lineLogger{log: log.With("output", "stdout")},
		SyncStderr:       &lineLogger{log: log.With("output", "stderr")},
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes))},
	}
	if pc.SHA256 != "" {
		sum, _ := hex.DecodeString(pc.SHA256) // validated by Config.validate
		cc.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(cc)
	c, err := dispense(client)
	if err != nil {
		client.Kill() // not started, so no shutdown request; waits for the stderr reader
		return nil, classifyStartError(pc, err, stderr.String())
	}
	p := &process{client: client, conn: c}
	if err := p.setUp(ctx, pc, startTimeout, log); err != nil {
		p.kill(0)
		return nil, err
	}
	return p, nil
}

func dispense(client *plugin.Client) (*conn, error) {
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, err
	}
	return raw.(*conn), nil
}

// setUp asks the plugin who it is and hands it its configuration.
func (p *process) setUp(ctx context.Context, pc PluginConfig, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := p.conn.plugin.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		return fmt.Errorf("plugin %s: %w: GetInfo: %w", pc.Name, ErrStart, err)
	}
	p.info = infoFromPB(info)
	if len(p.info.Kinds) == 0 {
		return fmt.Errorf("plugin %s: %w: it reports no kind", pc.Name, ErrWrongKind)
	}
	resp, err := p.conn.plugin.Configure(ctx, &pb.ConfigureRequest{Config: pc.Config})
	if err != nil {
		return fmt.Errorf("plugin %s: %w: Configure: %w", pc.Name, ErrStart, err)
	}
	diags := diagnosticsFromPB(resp.GetDiagnostics())
	if diags.HasError() {
		return fmt.Errorf("plugin %s: %w", pc.Name, &ConfigError{Plugin: pc.Name, Diagnostics: diags})
	}
	for _, d := range diags {
		log.Warn("plugin configuration", "diagnostic", d.String())
	}
	return nil
}

func checkBinary(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s", ErrBinaryNotFound, path)
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrNotExecutable, path, err)
	case fi.IsDir():
		return fmt.Errorf("%w: %s is a directory", ErrNotExecutable, path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%w: %s has mode %v", ErrNotExecutable, path, fi.Mode().Perm())
	}
	return nil
}

func pluginEnv(extra map[string]string) []string {
	env := make([]string, 0, len(passedEnv)+len(extra))
	for _, k := range passedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// classifyStartError maps go-plugin's start errors, which are mostly plain strings, to the host's
// sentinels.
func classifyStartError(pc PluginConfig, err error, stderr string) error {
	msg := err.Error()
	var sentinel error
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		sentinel = ErrChecksumMismatch
	case strings.Contains(stderr, "This binary is a plugin"):
		sentinel = ErrMagicCookie
	case strings.Contains(msg, "incompatible API version"):
		sentinel = ErrIncompatibleVersion
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, exec.ErrNotFound):
		sentinel = ErrNotExecutable
	default:
		sentinel = ErrStart
	}
	if stderr != "" && sentinel != ErrChecksumMismatch {
		return fmt.Errorf("plugin %s (%s): %w: %w; stderr: %s", pc.Name, pc.Path, sentinel, err, stderr)
	}
	return fmt.Errorf("plugin %s (%s): %w: %w", pc.Name, pc.Path, sentinel, err)
}
