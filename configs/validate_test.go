package configs

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fieldErrorsOf returns the FieldErrors joined in err, in order.
func fieldErrorsOf(t *testing.T, err error) []*FieldError {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*FieldError, len(errs))
	for i, e := range errs {
		var fe *FieldError
		require.True(t, errors.As(e, &fe), "not a *FieldError: %v", e)
		out[i] = fe
	}
	return out
}

// fieldsOf returns the Field of every FieldError joined in err.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var fields []string
	for _, fe := range fieldErrorsOf(t, err) {
		fields = append(fields, fe.Field)
	}
	return fields
}

const (
	digestA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // sha256("")
	// digestOfKeyK is sha256("k").
	digestOfKeyK = "8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		fields []string // exactly the fields reported, in order; nil means valid
	}{
		{"defaults", func(*Config) {}, nil},

		{"cluster on", func(c *Config) {
			c.Cluster = Cluster{RedisURL: "redis://:pw@127.0.0.1:6379/0", NodeID: "a-1", Lease: time.Second}
		}, nil},
		{"cluster over TLS without db", func(c *Config) { c.Cluster.RedisURL = "rediss://user:p%40ss@redis.internal:6380" }, nil},
		{"cluster url not redis", func(c *Config) { c.Cluster.RedisURL = "http://127.0.0.1:6379" }, []string{"cluster.redis_url"}},
		{"cluster url without host", func(c *Config) { c.Cluster.RedisURL = "redis:///0" }, []string{"cluster.redis_url"}},
		{"cluster url db not a number", func(c *Config) { c.Cluster.RedisURL = "redis://127.0.0.1:6379/zero" }, []string{"cluster.redis_url"}},
		{"cluster url unparsable", func(c *Config) { c.Cluster.RedisURL = "redis://a b:x" }, []string{"cluster.redis_url"}},
		{"cluster node_id without url", func(c *Config) { c.Cluster.NodeID = "a" }, []string{"cluster.node_id"}},
		{"cluster node_id with a space", func(c *Config) {
			c.Cluster = Cluster{RedisURL: "redis://127.0.0.1:6379", NodeID: "a b", Lease: time.Second}
		}, []string{"cluster.node_id"}},
		{"cluster node_id too long", func(c *Config) {
			c.Cluster = Cluster{RedisURL: "redis://127.0.0.1:6379", NodeID: strings.Repeat("n", 129), Lease: time.Second}
		}, []string{"cluster.node_id"}},
		{"cluster lease too short", func(c *Config) { c.Cluster.Lease = 99 * time.Millisecond }, []string{"cluster.lease"}},

		{"listen empty", func(c *Config) { c.Listen = "" }, []string{"listen"}},
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, []string{"listen"}},
		{"listen port out of range", func(c *Config) { c.Listen = "127.0.0.1:65536" }, []string{"listen"}},
		{"listen named port", func(c *Config) { c.Listen = "127.0.0.1:http" }, []string{"listen"}},
		{"listen all interfaces", func(c *Config) { c.Listen = ":8080" }, nil},
		{"listen ipv6 any port", func(c *Config) { c.Listen = "[::1]:0" }, nil},

		{"shutdown_grace negative", func(c *Config) { c.ShutdownGrace = -time.Second }, []string{"shutdown_grace"}},
		{"shutdown_grace zero", func(c *Config) { c.ShutdownGrace = 0 }, nil},
		{"heartbeat negative", func(c *Config) { c.Heartbeat = -1 }, []string{"heartbeat"}},
		{"heartbeat zero disables", func(c *Config) { c.Heartbeat = 0 }, nil},
		{"orphan_grace negative", func(c *Config) { c.OrphanGrace = -1 }, []string{"orphan_grace"}},
		{"client_queue_size zero", func(c *Config) { c.ClientQueueSize = 0 }, []string{"client_queue_size"}},
		{"client_queue_size below history", func(c *Config) { c.ClientQueueSize = 4095 }, []string{"client_queue_size"}},
		{"client_queue_size equal to history", func(c *Config) { c.ClientQueueSize = 4096 }, nil},
		{"history above queue", func(c *Config) { c.Manager.HistorySize = 10000 }, []string{"client_queue_size"}},

		{"kind unknown", func(c *Config) { c.Upstream.Kind = "gemni" }, []string{"upstream.kind"}},
		{"kind empty", func(c *Config) { c.Upstream.Kind = "" }, []string{"upstream.kind"}},
		{"kind simulator", func(c *Config) { c.Upstream.Kind = KindSimulator }, nil},
		{"base_url not http", func(c *Config) { c.Upstream.BaseURL = "ftp://example.com" }, []string{"upstream.base_url"}},
		{"base_url relative", func(c *Config) { c.Upstream.BaseURL = "/v1beta" }, []string{"upstream.base_url"}},
		{"base_url without host", func(c *Config) { c.Upstream.BaseURL = "http://" }, []string{"upstream.base_url"}},
		{"base_url unparsable", func(c *Config) { c.Upstream.BaseURL = "http://a b:x" }, []string{"upstream.base_url"}},
		{"base_url valid", func(c *Config) { c.Upstream.BaseURL = "http://127.0.0.1:9000/base" }, nil},
		{"sse without base_url", func(c *Config) { c.Upstream.Kind = KindSSE }, []string{"upstream.base_url"}},
		{"sse with base_url", func(c *Config) {
			c.Upstream.Kind = KindSSE
			c.Upstream.BaseURL = "https://llm.example/v1/chat/completions?stream=true"
		}, nil},
		{"gemini without api_key", func(c *Config) { c.Upstream.Kind = KindGemini }, []string{"upstream.api_key"}},
		{"gemini with api_key", func(c *Config) { c.Upstream.Kind = KindGemini; c.Upstream.APIKey = "AIza-key" }, nil},
		{"auto without api_key", func(c *Config) { c.Upstream.Kind = KindAuto }, nil},
		{"api_key with space", func(c *Config) { c.Upstream.APIKey = "AIza key" }, []string{"upstream.api_key"}},
		{"api_key with trailing newline", func(c *Config) { c.Upstream.APIKey = "AIza-key\n" }, []string{"upstream.api_key"}},
		{"api_key non-ASCII", func(c *Config) { c.Upstream.APIKey = "AIza-kéy" }, []string{"upstream.api_key"}},
		{"vertex without project", func(c *Config) { c.Upstream.Kind = KindVertex }, []string{"upstream.vertex.project"}},
		{"vertex with project", func(c *Config) { c.Upstream.Kind = KindVertex; c.Upstream.Vertex.Project = "my-proj-1" }, nil},
		{"vertex domain-scoped project", func(c *Config) {
			c.Upstream.Kind = KindVertex
			c.Upstream.Vertex.Project = "example.com:my-proj"
		}, nil},
		{"vertex project with slash", func(c *Config) { c.Upstream.Vertex.Project = "a/b" }, []string{"upstream.vertex.project"}},
		{"vertex without location", func(c *Config) {
			c.Upstream.Kind = KindVertex
			c.Upstream.Vertex.Project = "p"
			c.Upstream.Vertex.Location = ""
		}, []string{"upstream.vertex.location"}},
		{"vertex location empty unused", func(c *Config) { c.Upstream.Vertex.Location = "" }, nil},
		{"vertex location bad", func(c *Config) { c.Upstream.Vertex.Location = "US Central" }, []string{"upstream.vertex.location"}},
		{"vertex location global", func(c *Config) { c.Upstream.Vertex.Location = "global" }, nil},
		{"sse method empty", func(c *Config) { c.Upstream.SSE.Method = "" }, []string{"upstream.sse.method"}},
		{"sse method with space", func(c *Config) { c.Upstream.SSE.Method = "PO ST" }, []string{"upstream.sse.method"}},
		{"sse header name", func(c *Config) {
			c.Upstream.SSE.Headers = map[string]Secret{"Bad Header": "x", "Good": "y"}
		}, []string{"upstream.sse.headers.Bad Header"}},
		{"sse header value CRLF", func(c *Config) {
			c.Upstream.SSE.Headers = map[string]Secret{"B": "x\r\nInjected: 1", "A": "a\x00"}
		}, []string{"upstream.sse.headers.A", "upstream.sse.headers.B"}},
		{"sse content_types empty", func(c *Config) { c.Upstream.SSE.ContentTypes = nil }, []string{"upstream.sse.content_types"}},
		{"sse content_types bad", func(c *Config) {
			c.Upstream.SSE.ContentTypes = []string{"text/event-stream", "text/*", "text/plain; charset=utf-8", "text", "Application/X-NDJSON"}
		}, []string{"upstream.sse.content_types[1]", "upstream.sse.content_types[2]", "upstream.sse.content_types[3]"}},
		{"simulator chunks zero", func(c *Config) { c.Upstream.Simulator.Chunks = 0 }, []string{"upstream.simulator.chunks"}},
		{"simulator interval negative", func(c *Config) { c.Upstream.Simulator.Interval = -1 }, []string{"upstream.simulator.interval"}},
		{"simulator interval zero", func(c *Config) { c.Upstream.Simulator.Interval = 0 }, nil},

		{"retry max_attempts zero", func(c *Config) { c.Upstream.Retry.MaxAttempts = 0 }, []string{"upstream.retry.max_attempts"}},
		{"retry max_attempts one", func(c *Config) { c.Upstream.Retry.MaxAttempts = 1 }, nil},
		{"retry initial_interval zero", func(c *Config) { c.Upstream.Retry.InitialInterval = 0 }, []string{"upstream.retry.initial_interval"}},
		{"retry max_interval below initial", func(c *Config) { c.Upstream.Retry.MaxInterval = 100 * time.Millisecond }, []string{"upstream.retry.max_interval"}},
		{"retry multiplier below 1", func(c *Config) { c.Upstream.Retry.Multiplier = 0.5 }, []string{"upstream.retry.multiplier"}},
		{"retry multiplier NaN", func(c *Config) { c.Upstream.Retry.Multiplier = math.NaN() }, []string{"upstream.retry.multiplier"}},
		{"retry multiplier infinite", func(c *Config) { c.Upstream.Retry.Multiplier = math.Inf(1) }, []string{"upstream.retry.multiplier"}},
		{"retry multiplier 1", func(c *Config) { c.Upstream.Retry.Multiplier = 1 }, nil},
		{"retry jitter negative", func(c *Config) { c.Upstream.Retry.Jitter = -0.1 }, []string{"upstream.retry.jitter"}},
		{"retry jitter above 1", func(c *Config) { c.Upstream.Retry.Jitter = 1.5 }, []string{"upstream.retry.jitter"}},
		{"retry jitter bounds", func(c *Config) { c.Upstream.Retry.Jitter = 1 }, nil},
		{"retry max_elapsed negative", func(c *Config) { c.Upstream.Retry.MaxElapsed = -1 }, []string{"upstream.retry.max_elapsed"}},
		{"retry max_elapsed zero", func(c *Config) { c.Upstream.Retry.MaxElapsed = 0 }, nil},
		{"timeouts zero", func(c *Config) {
			c.Upstream.Timeouts = Timeouts{Connect: 0, FirstEvent: -1, Idle: 0}
		}, []string{"upstream.timeouts.connect", "upstream.timeouts.first_event", "upstream.timeouts.idle"}},

		{"manager zero limits", func(c *Config) {
			c.Manager.MaxStreams, c.Manager.MaxClientsPerStream, c.Manager.HistorySize = 0, 0, 0
		}, []string{"manager.max_streams", "manager.max_clients_per_stream", "manager.history_size"}},
		{"manager history_bytes zero", func(c *Config) { c.Manager.HistoryBytes = 0 }, []string{"manager.history_bytes"}},
		{"manager max_bytes below history_bytes", func(c *Config) { c.Manager.MaxBytes = c.Manager.HistoryBytes - 1 }, []string{"manager.max_bytes"}},
		{"manager max_bytes equal to history_bytes", func(c *Config) { c.Manager.MaxBytes = c.Manager.HistoryBytes }, nil},
		{"manager budget negative", func(c *Config) {
			c.Manager.HistoryBytes, c.Manager.MaxBytes = -1, -1
		}, []string{"manager.history_bytes", "manager.max_bytes"}},
		{"manager max_retained zero", func(c *Config) { c.Manager.MaxRetained = 0 }, []string{"manager.max_retained"}},
		{"manager max_retained one", func(c *Config) { c.Manager.MaxRetained = 1 }, nil},
		{"tenant default zero", func(c *Config) {
			c.Manager.TenantLimits.Default = Quota{}
		}, []string{"manager.tenant_limits.default.max_streams", "manager.tenant_limits.default.max_bytes"}},
		{"tenant default below one history", func(c *Config) {
			c.Manager.TenantLimits.Default.MaxBytes = c.Manager.HistoryBytes - 1
		}, []string{"manager.tenant_limits.default.max_bytes"}},
		{"tenant default above the global limits", func(c *Config) {
			c.Manager.TenantLimits.Default = Quota{MaxStreams: 5000, MaxBytes: 8 << 30}
		}, nil},
		{"tenant override", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k", Tenant: "acme"}}
			c.Manager.TenantLimits.Tenants = map[string]Quota{"acme": {MaxStreams: 1, MaxBytes: 16 << 20}}
		}, nil},
		{"tenant override incomplete", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k", Tenant: "acme"}, {ID: "b", Key: "l", Tenant: "globex"}}
			c.Manager.TenantLimits.Tenants = map[string]Quota{"globex": {MaxBytes: 16 << 20}, "acme": {MaxStreams: 3}}
		}, []string{"manager.tenant_limits.tenants.acme.max_bytes", "manager.tenant_limits.tenants.globex.max_streams"}},
		{"tenant override of no key's tenant", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k", Tenant: "acme"}}
			c.Manager.TenantLimits.Tenants = map[string]Quota{"acmee": {MaxStreams: 1, MaxBytes: 16 << 20}}
		}, []string{"manager.tenant_limits.tenants.acmee"}},
		{"tenant override without keys", func(c *Config) {
			c.Manager.TenantLimits.Tenants = map[string]Quota{"acme": {MaxStreams: 1, MaxBytes: 16 << 20}}
		}, []string{"manager.tenant_limits.tenants.acme"}},
		{"tenant override bad name", func(c *Config) {
			c.Manager.TenantLimits.Tenants = map[string]Quota{"acme/eu": {MaxStreams: 1, MaxBytes: 16 << 20}}
		}, []string{"manager.tenant_limits.tenants.acme/eu"}},
		{"manager retain_closed zero", func(c *Config) { c.Manager.RetainClosed = 0 }, []string{"manager.retain_closed"}},
		{"manager inactivity negative", func(c *Config) { c.Manager.InactivityTimeout = -1 }, []string{"manager.inactivity_timeout"}},
		{"manager inactivity zero", func(c *Config) { c.Manager.InactivityTimeout = 0 }, []string{"manager.inactivity_timeout"}},
		{"manager inactivity off", func(c *Config) { c.Manager.InactivityTimeout = Off }, nil},
		{"manager on_client_send_error unknown", func(c *Config) { c.Manager.OnClientSendError = "panic" }, []string{"manager.on_client_send_error"}},
		{"manager on_client_send_error throw", func(c *Config) { c.Manager.OnClientSendError = "throw" }, nil},
		{"manager on_client_send_error deregister", func(c *Config) { c.Manager.OnClientSendError = "deregister" }, nil},

		{"auth valid", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "alice", Key: "k", Tenant: "acme"}, {ID: "bob", SHA256: strings.ToUpper(digestA), Tenant: "acme"}}
		}, nil},
		{"auth id missing", func(c *Config) { c.Auth.Keys = []Key{{Key: "k", Tenant: "t"}} }, []string{"auth.keys[0].id"}},
		{"auth id with space", func(c *Config) { c.Auth.Keys = []Key{{ID: "a b", Key: "k", Tenant: "t"}} }, []string{"auth.keys[0].id"}},
		{"auth id non-ASCII", func(c *Config) { c.Auth.Keys = []Key{{ID: "é", Key: "k", Tenant: "t"}} }, []string{"auth.keys[0].id"}},
		{"auth id too long", func(c *Config) {
			c.Auth.Keys = []Key{{ID: strings.Repeat("a", 129), Key: "k", Tenant: "t"}}
		}, []string{"auth.keys[0].id"}},
		{"auth id and tenant punctuation", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "svc-1_a.b:c@d", Key: "k", Tenant: strings.Repeat("t", 128)}}
		}, nil},
		{"auth tenant bad", func(c *Config) { c.Auth.Keys = []Key{{ID: "a", Key: "k", Tenant: "acme/eu"}} }, []string{"auth.keys[0].tenant"}},
		{"auth duplicate id", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k1", Tenant: "t"}, {ID: "a", Key: "k2", Tenant: "t"}}
		}, []string{"auth.keys[1].id"}},
		{"auth neither key nor sha256", func(c *Config) { c.Auth.Keys = []Key{{ID: "a", Tenant: "t"}} }, []string{"auth.keys[0]"}},
		{"auth both key and sha256", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k", SHA256: digestA, Tenant: "t"}}
		}, []string{"auth.keys[0]"}},
		{"auth sha256 too short", func(c *Config) { c.Auth.Keys = []Key{{ID: "a", SHA256: "abc", Tenant: "t"}} }, []string{"auth.keys[0].sha256"}},
		{"auth sha256 not hex", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", SHA256: strings.Repeat("g", 64), Tenant: "t"}}
		}, []string{"auth.keys[0].sha256"}},
		{"auth key with space", func(c *Config) { c.Auth.Keys = []Key{{ID: "a", Key: "k k", Tenant: "t"}} }, []string{"auth.keys[0].key"}},
		{"auth key non-ASCII", func(c *Config) { c.Auth.Keys = []Key{{ID: "a", Key: "kéy", Tenant: "t"}} }, []string{"auth.keys[0].key"}},
		{"auth tenant missing", func(c *Config) { c.Auth.Keys = []Key{{ID: "a", Key: "k"}} }, []string{"auth.keys[0].tenant"}},
		{"auth same key twice", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k", Tenant: "t"}, {ID: "b", Key: "k", Tenant: "u"}}
		}, []string{"auth.keys[1]"}},
		{"auth key and its digest", func(c *Config) {
			c.Auth.Keys = []Key{{ID: "a", Key: "k", Tenant: "t"}, {ID: "b", SHA256: strings.ToUpper(digestOfKeyK), Tenant: "u"}}
		}, []string{"auth.keys[1]"}},

		{"client_queue_bytes below history_bytes", func(c *Config) { c.ClientQueueBytes = c.Manager.HistoryBytes - 1 }, []string{"client_queue_bytes"}},
		{"max_body_bytes zero", func(c *Config) { c.Limits.MaxBodyBytes = 0 }, []string{"limits.max_body_bytes"}},
		{"connection limits zero", func(c *Config) {
			c.Limits.IdleTimeout, c.Limits.ReadTimeout, c.Limits.MaxConnections = 0, 0, 0
		}, []string{"limits.idle_timeout", "limits.read_timeout", "limits.max_connections"}},
		{"rate negative", func(c *Config) { c.Limits.Rate = Rate{PerKeyRPS: -1, Burst: -1} }, []string{"limits.rate.per_key_rps", "limits.rate.burst"}},
		{"rate infinite", func(c *Config) { c.Limits.Rate.PerKeyRPS = math.Inf(1) }, []string{"limits.rate.per_key_rps"}},
		{"rate disabled", func(c *Config) { c.Limits.Rate = Rate{} }, nil},
		{"rate without burst", func(c *Config) { c.Limits.Rate = Rate{PerKeyRPS: 10} }, []string{"limits.rate.burst"}},

		{"cors star", func(c *Config) { c.CORS.AllowedOrigins = []string{"*"} }, nil},
		{"cors origins", func(c *Config) {
			c.CORS.AllowedOrigins = []string{"https://app.example", "http://localhost:3000"}
		}, nil},
		{"cors star with others", func(c *Config) {
			c.CORS.AllowedOrigins = []string{"https://app.example", "*"}
		}, []string{"cors.allowed_origins[1]"}},
		{"cors bad origins", func(c *Config) {
			c.CORS.AllowedOrigins = []string{"https://app.example/", "https://App.example", "app.example", "ftp://a.example", ""}
		}, []string{"cors.allowed_origins[0]", "cors.allowed_origins[1]", "cors.allowed_origins[2]", "cors.allowed_origins[3]", "cors.allowed_origins[4]"}},

		{"log level unknown", func(c *Config) { c.Log.Level = "verbose" }, []string{"log.level"}},
		{"log format unknown", func(c *Config) { c.Log.Format = "xml" }, []string{"log.format"}},
		{"log debug text", func(c *Config) { c.Log = Log{Level: "debug", Format: "text"} }, nil},

		{"admin disabled", func(c *Config) { c.Admin = Admin{Listen: "", Pprof: true} }, nil},
		{"admin all interfaces", func(c *Config) { c.Admin.Listen = ":9464" }, nil},
		{"admin without port", func(c *Config) { c.Admin.Listen = "127.0.0.1" }, []string{"admin.listen"}},
		{"admin named port", func(c *Config) { c.Admin.Listen = "127.0.0.1:metrics" }, []string{"admin.listen"}},
		{"admin same as listen", func(c *Config) { c.Admin.Listen = c.Listen }, []string{"admin.listen"}},
		{"admin and listen both port 0", func(c *Config) { c.Listen, c.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0" }, nil},
		{"telemetry valid", func(c *Config) {
			c.Telemetry = Telemetry{OTLPEndpoint: "https://collector.example:4317", OTLPProtocol: "grpc", ServiceName: "gateway eu",
				Models: []string{"gemini-2.5-flash", "gemini-2.5-pro"}, MaxModels: 0}
		}, nil},
		{"telemetry http/protobuf with path", func(c *Config) {
			c.Telemetry.OTLPEndpoint, c.Telemetry.OTLPProtocol = "http://127.0.0.1:4318/v1/traces", "http/protobuf"
		}, nil},
		{"telemetry endpoint not a URL", func(c *Config) { c.Telemetry.OTLPEndpoint = "collector:4317" }, []string{"telemetry.otlp_endpoint"}},
		{"telemetry endpoint with query", func(c *Config) { c.Telemetry.OTLPEndpoint = "http://c:4318/?k=v" }, []string{"telemetry.otlp_endpoint"}},
		{"telemetry endpoint with user", func(c *Config) { c.Telemetry.OTLPEndpoint = "http://u:p@c:4318" }, []string{"telemetry.otlp_endpoint"}},
		{"telemetry protocol unknown", func(c *Config) { c.Telemetry.OTLPProtocol = "http/json" }, []string{"telemetry.otlp_protocol"}},
		{"telemetry service name control", func(c *Config) { c.Telemetry.ServiceName = "a\nb" }, []string{"telemetry.service_name"}},
		{"telemetry models bad", func(c *Config) {
			c.Telemetry.Models = []string{"m", "", "other", "m", strings.Repeat("x", 129), "a\tb", "\xff"}
		}, []string{"telemetry.models[1]", "telemetry.models[2]", "telemetry.models[3]", "telemetry.models[4]", "telemetry.models[5]", "telemetry.models[6]"}},
		{"telemetry max models negative", func(c *Config) { c.Telemetry.MaxModels = -1 }, []string{"telemetry.max_models"}},

		{"plugin valid", func(c *Config) {
			c.Plugins = []Plugin{{Name: "json-l_1", Path: "./bin/p", SHA256: digestA, Config: map[string]any{"dir": "/tmp"},
				Attach: Attach{Models: []string{"gemini-2.5-flash"}, Tenants: []string{"acme"}}}}
		}, nil},
		{"plugin name missing", func(c *Config) { c.Plugins = []Plugin{{Path: "p"}} }, []string{"plugins[0].name"}},
		{"plugin name bad", func(c *Config) { c.Plugins = []Plugin{{Name: "Json L", Path: "p"}} }, []string{"plugins[0].name"}},
		{"plugin name duplicate", func(c *Config) {
			c.Plugins = []Plugin{{Name: "a", Path: "p"}, {Name: "b", Path: "p"}, {Name: "a", Path: "q"}}
		}, []string{"plugins[2].name"}},
		{"plugin path missing", func(c *Config) { c.Plugins = []Plugin{{Name: "a"}} }, []string{"plugins[0].path"}},
		{"plugin sha256 bad", func(c *Config) { c.Plugins = []Plugin{{Name: "a", Path: "p", SHA256: "abc"}} }, []string{"plugins[0].sha256"}},
		{"plugin config not JSON", func(c *Config) {
			c.Plugins = []Plugin{{Name: "a", Path: "p", Config: map[string]any{"c": make(chan int)}}}
		}, []string{"plugins[0].config"}},
		{"plugin attach all with models", func(c *Config) {
			c.Plugins = []Plugin{{Name: "a", Path: "p", Attach: Attach{All: true, Models: []string{"m"}}}}
		}, []string{"plugins[0].attach.all"}},
		{"plugin attach empty entries", func(c *Config) {
			c.Plugins = []Plugin{{Name: "a", Path: "p", Attach: Attach{Models: []string{"m", ""}, Tenants: []string{""}}}}
		}, []string{"plugins[0].attach.models[1]", "plugins[0].attach.tenants[0]"}},

		{"every error collected", func(c *Config) {
			c.Listen = "x"
			c.Upstream.Retry.MaxAttempts = 0
			c.Manager.OnClientSendError = "x"
			c.Log.Format = "x"
			c.Plugins = []Plugin{{Name: "a"}}
		}, []string{"listen", "upstream.retry.max_attempts", "manager.on_client_send_error", "log.format", "plugins[0].path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tt.fields, fieldsOf(t, err))
			for _, fe := range fieldErrorsOf(t, err) {
				assert.Zero(t, fe.Line, "a Go Config has no lines")
				assert.True(t, strings.HasPrefix(fe.Error(), fe.Field+": "), "Error() names the field: %q", fe.Error())
			}
		})
	}
}

func TestValidateNeverPrintsSecrets(t *testing.T) {
	c := Default()
	c.Upstream.Kind = KindGemini
	c.Upstream.APIKey = "AIza top secret\n"
	c.Upstream.SSE.Headers = map[string]Secret{"Authorization": "Bearer sk-hidden\r\n"}
	c.Auth.Keys = []Key{{ID: "a", Key: "client secret", Tenant: "t"}, {ID: "b", Key: "client secret", Tenant: "t"}}
	err := c.Validate()
	require.Error(t, err)
	assert.Equal(t, []string{"upstream.api_key", "upstream.sse.headers.Authorization", "auth.keys[0].key", "auth.keys[1].key", "auth.keys[1]"}, fieldsOf(t, err))
	for _, secret := range []string{"secret", "hidden"} {
		assert.NotContains(t, err.Error(), secret)
	}
}

func TestGeminiWithoutKeyMessage(t *testing.T) {
	c := Default()
	c.Upstream.Kind = KindGemini
	assert.EqualError(t, c.Validate(), "upstream.api_key: is required for kind gemini (set GEMINI_API_KEY, or use kind auto to fall back to the simulator)")
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{File: "c.yaml", Line: 3, Field: "listen", Msg: "bad"}, "c.yaml:3: listen: bad"},
		{FieldError{File: "c.yaml", Field: "listen", Msg: "bad"}, "c.yaml: listen: bad"},
		{FieldError{Line: 3, Field: "listen", Msg: "bad"}, "line 3: listen: bad"},
		{FieldError{Field: "listen", Msg: "bad"}, "listen: bad"},
		{FieldError{Line: 1, Msg: "bad"}, "line 1: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
			assert.ErrorIs(t, &tt.err, ErrInvalid)
		})
	}
}
