package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/plugins/pluginstest"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// startHost starts a Host with plugins and closes it when the test ends.
func startHost(t *testing.T, cfg Config) *Host {
	t.Helper()
	h, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, h.Close(context.Background())) })
	return h
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestLaunchErrorsAreDistinct(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644))
	sentinels := []error{ErrBinaryNotFound, ErrNotExecutable, ErrChecksumMismatch, ErrMagicCookie,
		ErrIncompatibleVersion, ErrStart, ErrBadConfig}
	for _, tc := range []struct {
		name    string
		plugin  PluginConfig
		want    error
		message string
	}{
		{name: "binary missing", plugin: PluginConfig{Path: filepath.Join(dir, "nope")}, want: ErrBinaryNotFound, message: "nope"},
		{name: "not executable", plugin: PluginConfig{Path: plain}, want: ErrNotExecutable, message: "mode -rw-r--r--"},
		{name: "directory", plugin: PluginConfig{Path: dir}, want: ErrNotExecutable, message: "is a directory"},
		{name: "checksum mismatch", plugin: PluginConfig{Path: bin("retry"), SHA256: strings.Repeat("ab", 32)}, want: ErrChecksumMismatch, message: "checksums did not match"},
		{name: "wrong magic cookie", plugin: PluginConfig{Path: bin("testplugin"), Args: []string{"-mode=badcookie"}}, want: ErrMagicCookie, message: "This binary is a plugin"},
		{name: "no common protocol version", plugin: PluginConfig{Path: bin("testplugin"), Args: []string{"-mode=v2"}}, want: ErrIncompatibleVersion, message: "Plugin version: 2"},
		{name: "crash at start", plugin: PluginConfig{Path: bin("testplugin"), Args: []string{"-mode=crash"}}, want: ErrStart, message: "crashing on purpose"},
		{name: "bad plugin config", plugin: PluginConfig{Path: bin("retry"), Config: json.RawMessage(`{"rules":[{"codes":[503],"action":"explode"}]}`)},
			want: ErrBadConfig, message: `plugin p refused its configuration: error at /rules/0/action: action must be retry, terminate, skip or defer, not "explode"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.plugin.Name = "p"
			h, err := New(Config{Plugins: []PluginConfig{tc.plugin}})
			require.NoError(t, err)
			err = h.Start(context.Background())
			require.Error(t, err)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.message)
			for _, s := range sentinels {
				if s != tc.want {
					assert.NotErrorIs(t, err, s)
				}
			}
			require.NoError(t, h.Close(context.Background()))
		})
	}
}

func TestBadConfigCarriesDiagnostics(t *testing.T) {
	h, err := New(Config{Plugins: []PluginConfig{{Name: "t", Path: bin("testplugin"), Config: json.RawMessage(`{"refuse":true}`)}}})
	require.NoError(t, err)
	err = h.Start(context.Background())
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "t", ce.Plugin)
	assert.False(t, ce.Subscription)
	assert.Equal(t, sdk.Diagnostics{
		{Severity: sdk.SeverityWarning, Summary: "just a warning"},
		{Severity: sdk.SeverityError, Summary: "refused on purpose", Detail: "refuse is true", Path: "/refuse"},
	}, ce.Diagnostics)
	require.NoError(t, h.Close(context.Background()))
}

func TestMatchingChecksumStarts(t *testing.T) {
	h := startHost(t, Config{Plugins: []PluginConfig{{Name: "retry", Path: bin("retry"), SHA256: sha256File(t, bin("retry"))}}})
	info, ok := h.Info("retry")
	require.True(t, ok)
	assert.Equal(t, sdk.Info{Name: "retry", Version: "1.0.0", Description: info.Description, Kinds: []sdk.Kind{sdk.KindErrorHandler}}, info)
	assert.Len(t, h.Deciders(), 1)
}

func TestInvalidHostConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no name", Config{Plugins: []PluginConfig{{Path: "x"}}}, "plugins[0].name is required"},
		{"duplicate", Config{Plugins: []PluginConfig{{Name: "a", Path: "x"}, {Name: "a", Path: "y"}}}, `plugins[1].name "a" is used twice`},
		{"no path", Config{Plugins: []PluginConfig{{Name: "a"}}}, "plugins[0].path is required"},
		{"bad sha", Config{Plugins: []PluginConfig{{Name: "a", Path: "x", SHA256: "abc"}}}, "plugins[0].sha256 must be 64 hex digits"},
		{"bad json", Config{Plugins: []PluginConfig{{Name: "a", Path: "x", Config: json.RawMessage(`{`)}}}, "plugins[0].config is not valid JSON"},
		{"attach all and models", Config{Plugins: []PluginConfig{{Name: "a", Path: "x", Attach: AttachRule{All: true, Models: []string{"m"}}}}}, "all excludes models and tenants"},
		{"negative window", Config{Window: -1}, "Window must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestNegativeConfigReportsTheFirstField: with every field negative, the error names the first
// in Config's order on every call, not whichever a map iteration reached first.
func TestNegativeConfigReportsTheFirstField(t *testing.T) {
	cfg := Config{
		Window: -1, MaxBatch: -1, QueueSize: -1,
		StartTimeout: -1, CallTimeout: -1, DecisionTimeout: -1,
		HealthInterval: -1, HealthTimeout: -1,
		RestartMinBackoff: -1, RestartMaxBackoff: -1,
		DeliveryAttempts: -1, DeliveryMinBackoff: -1, DeliveryMaxBackoff: -1,
	}
	for range 50 {
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig)
		require.EqualError(t, err, "invalid plugin config: Window must not be negative")
	}
	cfg.Window = 0
	_, err := New(cfg)
	require.EqualError(t, err, "invalid plugin config: MaxBatch must not be negative")
}

func TestAttachNeedsATransport(t *testing.T) {
	h, err := New(Config{Plugins: []PluginConfig{{Name: "retry", Path: bin("retry"), Attach: AttachRule{All: true}}}})
	require.NoError(t, err)
	err = h.Start(context.Background())
	require.ErrorIs(t, err, ErrWrongKind)
	require.NoError(t, h.Close(context.Background()))
	assert.Empty(t, pluginstest.Processes(binDir))
}

func TestPluginOutputReachesTheLogger(t *testing.T) {
	rec := newRecorder()
	startHost(t, Config{
		Logger: slog.New(rec),
		Plugins: []PluginConfig{{Name: "tp", Path: bin("testplugin"), Env: map[string]string{"EXTRA": "1"},
			Config: json.RawMessage(`{"log":"hello from the plugin","print":"printed on stdout","env":true}`)}},
		Streams: newManager(t),
	})
	// Stdout and stderr are read by different goroutines: wait for the lines of both.
	require.Eventually(t, func() bool {
		_, _, printed := rec.find("printed on stdout")
		_, _, logged := rec.find("hello from the plugin")
		return printed && logged
	}, 5*time.Second, 10*time.Millisecond)

	level, attrs, _ := rec.find("hello from the plugin")
	assert.Equal(t, slog.LevelWarn, level)
	assert.Equal(t, "tp", attrs["plugin"])
	assert.Equal(t, "v", attrs["k"])

	_, attrs, _ = rec.find("printed on stdout")
	assert.Equal(t, "tp", attrs["plugin"])
	assert.Equal(t, "stdout", attrs["output"])
}

func TestPluginEnvironmentIsMinimal(t *testing.T) {
	t.Setenv("GEMINI_API_KEY", "secret-key")
	t.Setenv("TZ", "UTC")
	rec := newRecorder()
	startHost(t, Config{
		Logger:  slog.New(rec),
		Plugins: []PluginConfig{{Name: "tp", Path: bin("testplugin"), Env: map[string]string{"EXTRA": "1"}, Config: json.RawMessage(`{"env":true,"print":"done"}`)}},
		Streams: newManager(t),
	})
	require.Eventually(t, func() bool {
		_, _, ok := rec.find("done")
		return ok
	}, 5*time.Second, 10*time.Millisecond)
	var env []string
	for _, m := range rec.messages() {
		if kv, ok := strings.CutPrefix(m, "env: "); ok {
			env = append(env, strings.SplitN(kv, "=", 2)[0])
		}
	}
	assert.Contains(t, env, "EXTRA")
	assert.Contains(t, env, "TZ")
	assert.Contains(t, env, sdk.MagicCookieKey)
	for _, k := range env {
		assert.True(t, k == "EXTRA" || k == sdk.MagicCookieKey || strings.HasPrefix(k, "PLUGIN_") ||
			k == "PATH" || k == "TMPDIR" || k == "TZ" || k == "LANG" || k == "LC_ALL", "unexpected variable %s", k)
	}
	assert.NotContains(t, env, "GEMINI_API_KEY")
}

func TestErrorsMatchOnlyTheirSentinel(t *testing.T) {
	err := &ConfigError{Plugin: "p", Diagnostics: sdk.Invalid("/x", "bad")}
	assert.True(t, errors.Is(err, ErrBadConfig))
	assert.False(t, errors.Is(err, ErrStart))
	assert.Equal(t, "plugin p refused its configuration: error at /x: bad", err.Error())
}
