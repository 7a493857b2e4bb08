package plugins

import (
	"errors"
	"strings"

	"github.com/streamgate/streamgate/manager"
	"github.com/streamgate/streamgate/plugins/sdk"
)

// Sentinel errors. Match them with errors.Is; the host wraps them with the plugin's name and the
// underlying cause.
var (
	// ErrInvalidConfig: the host's Config is unusable (the message names the field).
	ErrInvalidConfig = errors.New("invalid plugin config")
	// ErrBinaryNotFound: the plugin's path does not exist.
	ErrBinaryNotFound = errors.New("plugin binary not found")
	// ErrNotExecutable: the plugin's path is a directory or lacks execute permission.
	ErrNotExecutable = errors.New("plugin binary is not executable")
	// ErrChecksumMismatch: the binary's SHA-256 is not the configured one; it was not started.
	ErrChecksumMismatch = errors.New("plugin binary checksum mismatch")
	// ErrMagicCookie: the binary is not a streamgate plugin (it does not know streamgate's
	// handshake cookie).
	ErrMagicCookie = errors.New("plugin handshake failed: not a streamgate plugin (magic cookie mismatch)")
	// ErrIncompatibleVersion: the plugin speaks no protocol version this host does.
	ErrIncompatibleVersion = errors.New("no common plugin protocol version")
	// ErrStart: the plugin failed to start for another reason (it crashed, timed out, or broke
	// the protocol); the message carries the end of its stderr.
	ErrStart = errors.New("plugin failed to start")
	// ErrBadConfig: the plugin refused a configuration, its own or a subscription's. The error is
	// a *ConfigError holding the plugin's diagnostics.
	ErrBadConfig = errors.New("plugin refused the configuration")
	// ErrWrongKind: a plugin does not play the role its configuration gives it.
	ErrWrongKind = errors.New("plugin is not of the required kind")
	// ErrUnknownTransport: Subscribe named no configured transport plugin.
	ErrUnknownTransport = errors.New("unknown transport plugin")
	// ErrNotFound: no such subscription on that stream.
	ErrNotFound = errors.New("subscription not found")
	// ErrUnavailable: the plugin is down (restarting) or did not answer in time.
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrClosed: the Host is closed (or was never started).
	ErrClosed = errors.New("plugin host closed")
)

// answerError is a refusal of Subscribe or Unsubscribe together with what a client is answered:
// errors.As finds the *manager.StreamError, so that a caller (the gateway) maps it without
// importing this package, while errors.Is and the text stay those of the refusal.
type answerError struct {
	se  *manager.StreamError
	err error
}

func (e *answerError) Error() string   { return e.err.Error() }
func (e *answerError) Unwrap() []error { return []error{e.se, e.err} }

// ConfigError reports the diagnostics of a refused configuration. errors.Is(err, ErrBadConfig)
// holds for it.
type ConfigError struct {
	Plugin string
	// Subscription is true when a subscription's config was refused, false for the plugin's own.
	Subscription bool
	Diagnostics  sdk.Diagnostics
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("plugin ")
	b.WriteString(e.Plugin)
	if e.Subscription {
		b.WriteString(" refused the subscription: ")
	} else {
		b.WriteString(" refused its configuration: ")
	}
	b.WriteString(e.Diagnostics.Error())
	return b.String()
}

// Is makes errors.Is(err, ErrBadConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrBadConfig }
