// Package plugins runs streamgate's out-of-process plugins (hashicorp/go-plugin over gRPC) and
// connects them to the stream manager and the error-decision chain.
//
// A Host launches every configured plugin, verifying its checksum when one is configured, with a
// minimal environment (no credentials), AutoMTLS, Pdeathsig on Linux, and its output routed to the
// host's slog logger under plugin=<name>. Start fails with a distinct sentinel for each way a
// launch can go wrong: ErrBinaryNotFound, ErrNotExecutable, ErrChecksumMismatch, ErrMagicCookie,
// ErrIncompatibleVersion, ErrBadConfig (a *ConfigError with the plugin's diagnostics) or ErrStart.
//
// Each plugin has one supervisor goroutine, the only one that launches, health-checks, kills and
// restarts its process (with exponential backoff).
//
// A transport plugin receives streams through subscriptions. Each subscription is a manager
// QueuedClient whose sink is a session (session.go): one bidirectional gRPC call carrying batches,
// at most Config.Window chunks unacknowledged, cumulative acks and nacks. A batch holds at most
// Config.MaxBatch chunks and stays under gRPC's message limit (sdk.MaxMessageBytes, less 64 KiB of
// headroom for framing); a single chunk larger than that ends its subscription with a 413 error,
// since no retry could carry it. A nack goes through the error handlers as a delivery-phase error:
// retry, skip the batch, end the subscription, or, by default, retry with backoff
// Config.DeliveryAttempts times before ending it. When the plugin crashes, each subscription waits
// for the restart and registers again from its last acknowledged chunk with
// manager.RegisterClientFrom, so nothing is lost or repeated while the stream's history holds those
// chunks; when it does not, the subscription is closed with a reason that says so. Re-attaching
// waits the subscription's own backoff (Config.RestartMinBackoff to RestartMaxBackoff) unless the
// last attachment made progress, so that a session that breaks again at once is not re-opened in a
// loop. A subscription that ends with an error is logged (with plugin, stream_id and
// subscription_id), told to its plugin, and listed with its reason by Host.StreamSubscriptions for
// the stream's info. A session's Open carries the stream's instance (manager.StreamInfo.Instance)
// and tenant, because a stream ID can name another stream once the first was forgotten; a re-attach
// that finds its ID naming another stream closes the subscription instead of following it.
//
// An error-handler plugin becomes an upstream.Decider (Host.Deciders); every call has
// Config.DecisionTimeout, and a plugin that is down, slow or failing defers to the next decider
// and finally to the built-in policy.
//
// Config.Metrics (an interface declared here; *telemetry.Metrics implements it) is told when a
// plugin's process comes up or goes down and when it restarts, counts every open transport
// session as a subscriber of route "plugin" until the session ends, and counts a subscription
// whose queue overflowed as a slow client.
//
// The plugin side lives in plugins/sdk; the wire protocol in plugins/proto and its generated code
// in plugins/internal/pluginpb, which never leaves this package tree.
//
// Package plugins imports manager, upstream (for the decision types) and plugins/sdk; it must
// never import gateway.
package plugins
