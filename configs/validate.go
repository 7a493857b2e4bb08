package configs

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Messages shared by several rules.
const (
	msgNotNegative = "must not be negative"
	msgPositive    = "must be positive"
	msgAtLeastOne  = "must be at least 1"
	msgRequired    = "is required"
	msgKeyText     = "must be printable ASCII without spaces"
	msgHex         = "must be 64 hexadecimal digits (a SHA-256 digest)"
	// msgTokenSecretLen explains minTokenSecretLen, which is auth.MinTokenSecretLen.
	msgTokenSecretLen = "must be at least 32 bytes: an HS256 key as long as its hash (RFC 7518), such as the output of openssl rand -base64 32"
)

// minTokenSecretLen is the shortest stream token secret, in bytes, as package auth requires.
const minTokenSecretLen = 32

var (
	pluginNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
	authNameRe   = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)
	keyTextRe    = regexp.MustCompile(`^[\x21-\x7e]+$`)
	hexDigestRe  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	locationRe   = regexp.MustCompile(`^[a-z0-9-]+$`)
	projectRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]*$`)
	httpTokenRe  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	mediaTypeRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$`)
)

// Validate checks every setting of c and returns all problems joined with errors.Join, each a
// *FieldError matching ErrInvalid, or nil. Parse and Load call it; use it for a Config built or
// changed in Go. Messages name the setting and the rule, never the value.
func (c *Config) Validate() error {
	fe := &fieldErrors{}
	c.validate(fe)
	return fe.err()
}

func (c *Config) validate(fe *fieldErrors) {
	_, port, err := net.SplitHostPort(c.Listen)
	_, perr := strconv.ParseUint(port, 10, 16)
	fe.check(err == nil && perr == nil, "listen", "must be host:port, such as 127.0.0.1:8080")
	fe.check(c.ShutdownGrace >= 0, "shutdown_grace", msgNotNegative)
	fe.check(c.Heartbeat >= 0, "heartbeat", msgNotNegative)
	fe.check(c.OrphanGrace >= 0, "orphan_grace", msgNotNegative)
	if c.ClientQueueSize < 1 {
		fe.add("client_queue_size", msgAtLeastOne)
	} else {
		fe.check(c.ClientQueueSize >= c.Manager.HistorySize, "client_queue_size", "must be at least manager.history_size, so that a full replay fits in the queue")
	}
	if c.ClientQueueBytes != 0 {
		fe.check(c.ClientQueueBytes >= c.Manager.HistoryBytes, "client_queue_bytes", "must be 0 or at least manager.history_bytes, so that a full replay fits in the queue")
	}
	c.Upstream.validate(fe)
	c.Manager.validate(fe)
	c.Auth.validate(fe)
	c.validateTenantLimits(fe)
	c.Limits.validate(fe)
	c.CORS.validate(fe)
	c.Log.validate(fe)
	c.Admin.validate(fe, c.Listen)
	c.Telemetry.validate(fe)
	validatePlugins(fe, c.Plugins)
	c.Cluster.validate(fe)
}

// Bounds of the cluster block, as package cluster has them.
const (
	minLease        = 100 * time.Millisecond
	maxNodeIDLength = 128
)

var nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func (c *Cluster) validate(fe *fieldErrors) {
	if c.RedisURL == "" {
		fe.check(c.NodeID == "", "cluster.node_id", "needs cluster.redis_url: cluster mode is off without it")
	} else {
		fe.check(isRedisURL(string(c.RedisURL)), "cluster.redis_url",
			"must be a redis:// or rediss:// URL with a host, such as redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0 (a password percent-encoded)")
	}
	if c.NodeID != "" {
		fe.check(nodeIDRe.MatchString(c.NodeID), "cluster.node_id",
			"must be 1 to "+strconv.Itoa(maxNodeIDLength)+" ASCII letters, digits and . _ : -")
	}
	fe.check(c.Lease >= minLease, "cluster.lease", "must be at least 100ms")
}

// isRedisURL accepts what package cluster connects to: redis:// or rediss:// with a host and an
// optional numeric database.
func isRedisURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Hostname() == "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		return true
	}
	_, err = strconv.ParseUint(db, 10, 8)
	return err == nil
}

func (u *Upstream) validate(fe *fieldErrors) {
	switch u.Kind {
	case KindAuto, KindSimulator, KindGemini, KindVertex, KindSSE:
	default:
		fe.add("upstream.kind", "must be one of auto, simulator, gemini, vertex, sse")
	}
	kind := u.EffectiveKind()
	if u.BaseURL != "" {
		fe.check(isHTTPURL(u.BaseURL), "upstream.base_url", "must be an absolute http or https URL")
	} else {
		fe.check(kind != KindSSE, "upstream.base_url", "is required for kind sse (the full URL of the stream)")
	}
	if u.APIKey != "" {
		fe.check(keyTextRe.MatchString(string(u.APIKey)), "upstream.api_key", msgKeyText)
	} else {
		fe.check(kind != KindGemini, "upstream.api_key", "is required for kind gemini (set GEMINI_API_KEY, or use kind auto to fall back to the simulator)")
	}
	u.Vertex.validate(fe, kind)
	u.SSE.validate(fe)
	fe.check(u.Simulator.Chunks >= 1, "upstream.simulator.chunks", msgAtLeastOne)
	fe.check(u.Simulator.Interval >= 0, "upstream.simulator.interval", msgNotNegative)
	u.Retry.validate(fe)
	fe.check(u.Timeouts.Connect > 0, "upstream.timeouts.connect", msgPositive)
	fe.check(u.Timeouts.FirstEvent > 0, "upstream.timeouts.first_event", msgPositive)
	fe.check(u.Timeouts.Idle > 0, "upstream.timeouts.idle", msgPositive)
}

func (v *Vertex) validate(fe *fieldErrors, kind Kind) {
	if v.Project != "" {
		fe.check(projectRe.MatchString(v.Project), "upstream.vertex.project", "must be a Google Cloud project ID")
	} else {
		fe.check(kind != KindVertex, "upstream.vertex.project", "is required for kind vertex")
	}
	if v.Location != "" {
		fe.check(locationRe.MatchString(v.Location), "upstream.vertex.location", "must be a region such as us-central1, or global")
	} else {
		fe.check(kind != KindVertex, "upstream.vertex.location", "is required for kind vertex")
	}
}

func (s *SSE) validate(fe *fieldErrors) {
	fe.check(httpTokenRe.MatchString(s.Method), "upstream.sse.method", "must be an HTTP method such as POST")
	for _, name := range slices.Sorted(maps.Keys(s.Headers)) {
		field := "upstream.sse.headers." + name
		fe.check(httpTokenRe.MatchString(name), field, "is not a valid header name")
		fe.check(!strings.ContainsAny(string(s.Headers[name]), "\r\n\x00"), field, "must not contain CR, LF or NUL")
	}
	fe.check(len(s.ContentTypes) > 0, "upstream.sse.content_types", "must list at least one media type, such as text/event-stream")
	for i, t := range s.ContentTypes {
		fe.check(mediaTypeRe.MatchString(t), indexPath("upstream.sse.content_types", i), "must be a media type such as text/event-stream, without parameters or wildcards")
	}
}

func (r *Retry) validate(fe *fieldErrors) {
	fe.check(r.MaxAttempts >= 1, "upstream.retry.max_attempts", msgAtLeastOne)
	fe.check(r.InitialInterval > 0, "upstream.retry.initial_interval", msgPositive)
	fe.check(r.MaxInterval >= r.InitialInterval, "upstream.retry.max_interval", "must be at least upstream.retry.initial_interval")
	fe.check(r.Multiplier >= 1 && !math.IsInf(r.Multiplier, 1), "upstream.retry.multiplier", "must be a finite number of at least 1")
	fe.check(r.Jitter >= 0 && r.Jitter <= 1, "upstream.retry.jitter", "must be between 0 and 1")
	fe.check(r.MaxElapsed >= 0, "upstream.retry.max_elapsed", msgNotNegative)
}

func (m *Manager) validate(fe *fieldErrors) {
	fe.check(m.MaxStreams >= 1, "manager.max_streams", msgAtLeastOne)
	fe.check(m.MaxClientsPerStream >= 1, "manager.max_clients_per_stream", msgAtLeastOne)
	fe.check(m.HistorySize >= 1, "manager.history_size", msgAtLeastOne)
	fe.check(m.HistoryBytes >= 1, "manager.history_bytes", msgAtLeastOne)
	fe.check(m.MaxBytes >= max(m.HistoryBytes, 1), "manager.max_bytes", "must be at least manager.history_bytes")
	fe.check(m.RetainClosed > 0, "manager.retain_closed", msgPositive)
	fe.check(m.MaxRetained >= 1, "manager.max_retained", msgAtLeastOne)
	fe.check(m.InactivityTimeout > 0, "manager.inactivity_timeout", "must be positive (write off to disable it)")
	switch m.OnClientSendError {
	case "log", "deregister", "throw":
	default:
		fe.add("manager.on_client_send_error", "must be one of log, deregister, throw")
	}
	m.TenantLimits.Default.validate(fe, "manager.tenant_limits.default", m)
	for _, name := range slices.Sorted(maps.Keys(m.TenantLimits.Tenants)) {
		m.TenantLimits.Tenants[name].validate(fe, "manager.tenant_limits.tenants."+name, m)
	}
}

// validate checks a quota. Values above the global limits are allowed: the global limits cap
// them.
func (q Quota) validate(fe *fieldErrors, path string, m *Manager) {
	fe.check(q.MaxStreams >= 1, path+".max_streams", msgAtLeastOne)
	switch {
	case q.MaxBytes < 1:
		fe.add(path+".max_bytes", msgAtLeastOne)
	case q.MaxBytes < m.HistoryBytes:
		fe.add(path+".max_bytes", "must be at least manager.history_bytes, so that a stream fits")
	}
}

// validateTenantLimits checks that every tenant named in manager.tenant_limits.tenants is the
// tenant of a key: a misspelt name would silently leave that tenant with the default.
func (c *Config) validateTenantLimits(fe *fieldErrors) {
	tenants := map[string]bool{}
	for _, k := range c.Auth.Keys {
		tenants[k.Tenant] = true
	}
	for _, name := range slices.Sorted(maps.Keys(c.Manager.TenantLimits.Tenants)) {
		path := "manager.tenant_limits.tenants." + name
		if !authNameRe.MatchString(name) {
			fe.add(path, "is not a tenant name: 1 to 128 ASCII letters, digits and -_.:@")
			continue
		}
		fe.check(tenants[name], path, "names no tenant of auth.keys")
	}
}

func (a *Auth) validate(fe *fieldErrors) {
	a.validateKeys(fe)
	a.validateTokenSecret(fe)
}

// validateKeys checks each key's names and key, and that no ID or key is used twice.
func (a *Auth) validateKeys(fe *fieldErrors) {
	ids := map[string]string{}     // id -> field of its first use
	digests := map[string]string{} // lower-case hex digest -> field of its first use
	for i, k := range a.Keys {
		path := indexPath("auth.keys", i)
		validateName(fe, path+".id", k.ID)
		if first, dup := ids[k.ID]; dup && k.ID != "" {
			fe.add(path+".id", "duplicates "+first)
		} else {
			ids[k.ID] = path + ".id"
		}
		validateName(fe, path+".tenant", k.Tenant)
		digest := keyDigest(fe, path, k)
		if first, dup := digests[digest]; dup && digest != "" {
			fe.add(path, "has the same key as "+first)
		} else {
			digests[digest] = path
		}
	}
}

// keyDigest checks that k sets exactly one of key and sha256, well formed, and returns the key's
// lower-case hex SHA-256 digest, or "" if there is none to compare.
func keyDigest(fe *fieldErrors, path string, k Key) string {
	switch {
	case (k.Key == "") == (k.SHA256 == ""):
		fe.add(path, "set exactly one of key and sha256")
	case k.Key != "":
		fe.check(keyTextRe.MatchString(string(k.Key)), path+".key", msgKeyText)
		sum := sha256.Sum256([]byte(k.Key))
		return hex.EncodeToString(sum[:])
	case hexDigestRe.MatchString(k.SHA256):
		return strings.ToLower(k.SHA256)
	default:
		fe.add(path+".sha256", msgHex)
	}
	return ""
}

// validateTokenSecret checks each secret of stream tokens; a lone one is named without an index.
func (a *Auth) validateTokenSecret(fe *fieldErrors) {
	for i, s := range a.TokenSecret {
		field := "auth.token_secret"
		if len(a.TokenSecret) > 1 {
			field = indexPath(field, i)
		}
		switch {
		case len(s) < minTokenSecretLen:
			fe.add(field, msgTokenSecretLen)
		case strings.ContainsFunc(string(s), unicode.IsControl):
			fe.add(field, "must not contain control characters (a newline read from a file, often)")
		}
	}
}

// validateName checks a key ID or tenant by the rules of the auth package.
func validateName(fe *fieldErrors, field, s string) {
	if s == "" {
		fe.add(field, msgRequired)
		return
	}
	fe.check(authNameRe.MatchString(s), field, "must be 1 to 128 ASCII letters, digits and -_.:@")
}

func (l *Limits) validate(fe *fieldErrors) {
	fe.check(l.MaxBodyBytes >= 1, "limits.max_body_bytes", msgAtLeastOne)
	fe.check(l.IdleTimeout > 0, "limits.idle_timeout", msgPositive)
	fe.check(l.ReadTimeout > 0, "limits.read_timeout", msgPositive)
	fe.check(l.MaxConnections >= 1, "limits.max_connections", msgAtLeastOne)
	fe.check(l.Rate.PerKeyRPS >= 0 && !math.IsInf(l.Rate.PerKeyRPS, 1), "limits.rate.per_key_rps", "must be a finite number, at least 0 (0 disables rate limiting)")
	switch {
	case l.Rate.Burst < 0:
		fe.add("limits.rate.burst", msgNotNegative)
	case l.Rate.PerKeyRPS > 0 && l.Rate.Burst < 1:
		fe.add("limits.rate.burst", "must be at least 1 when limits.rate.per_key_rps is set")
	}
}

func (c *CORS) validate(fe *fieldErrors) {
	for i, o := range c.AllowedOrigins {
		field := indexPath("cors.allowed_origins", i)
		if o == "*" {
			fe.check(len(c.AllowedOrigins) == 1, field, `"*" must be the only origin`)
			continue
		}
		fe.check(isOrigin(o), field, "must be an origin such as https://app.example: lower-case scheme and host, an optional port, no path")
	}
}

func (l *Log) validate(fe *fieldErrors) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		fe.add("log.level", "must be one of debug, info, warn, error")
	}
	switch l.Format {
	case "json", "text":
	default:
		fe.add("log.format", "must be json or text")
	}
}

func (a *Admin) validate(fe *fieldErrors, listen string) {
	if a.Listen == "" {
		return
	}
	_, port, err := net.SplitHostPort(a.Listen)
	_, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil {
		fe.add("admin.listen", `must be host:port, such as 127.0.0.1:9464, or "" to disable the admin listener`)
		return
	}
	fe.check(port == "0" || a.Listen != listen, "admin.listen", "must differ from listen")
}

// maxModelLen is the longest model name admitted as a metrics label, as in package telemetry.
const maxModelLen = 128

func (t *Telemetry) validate(fe *fieldErrors) {
	fe.check(t.OTLPEndpoint == "" || isOTLPEndpoint(t.OTLPEndpoint),
		"telemetry.otlp_endpoint", "must be an http or https URL without user, query or fragment, such as http://127.0.0.1:4318")
	switch t.OTLPProtocol {
	case "", "grpc", "http/protobuf":
	default:
		fe.add("telemetry.otlp_protocol", `must be grpc, http/protobuf, or "" for OTEL_EXPORTER_OTLP_PROTOCOL`)
	}
	fe.check(!strings.ContainsFunc(t.ServiceName, unicode.IsControl), "telemetry.service_name", "must not contain control characters")
	t.validateModels(fe)
	fe.check(t.MaxModels >= 0, "telemetry.max_models", msgNotNegative)
}

// isOTLPEndpoint reports whether s is an http or https URL with a host and without user, query or
// fragment.
func isOTLPEndpoint(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// validateModels checks that each admitted model is a usable label value, named once.
func (t *Telemetry) validateModels(fe *fieldErrors) {
	seen := map[string]string{}
	for i, m := range t.Models {
		field := indexPath("telemetry.models", i)
		switch first, dup := seen[m]; {
		case !isModelLabel(m):
			fe.add(field, "must be 1 to 128 bytes of printable UTF-8")
		case m == "other":
			fe.add(field, `must not be "other", the label of every model not admitted`)
		case dup:
			fe.add(field, "duplicates "+first)
		default:
			seen[m] = field
		}
	}
}

// isModelLabel reports whether m is 1 to maxModelLen bytes of printable UTF-8.
func isModelLabel(m string) bool {
	return m != "" && len(m) <= maxModelLen && utf8.ValidString(m) &&
		!strings.ContainsFunc(m, func(r rune) bool { return !unicode.IsPrint(r) })
}

func validatePlugins(fe *fieldErrors, plugins []Plugin) {
	names := map[string]string{}
	for i, p := range plugins {
		path := indexPath("plugins", i)
		switch first, dup := names[p.Name]; {
		case p.Name == "":
			fe.add(path+".name", msgRequired)
		case !pluginNameRe.MatchString(p.Name):
			fe.add(path+".name", "must be made of a-z, 0-9, - and _")
		case dup:
			fe.add(path+".name", "duplicates "+first)
		default:
			names[p.Name] = path + ".name"
		}
		fe.check(p.Path != "", path+".path", msgRequired)
		fe.check(p.SHA256 == "" || hexDigestRe.MatchString(p.SHA256), path+".sha256", msgHex)
		_, err := p.ConfigJSON()
		fe.check(err == nil, path+".config", "cannot be encoded as JSON")
		fe.check(!p.Attach.All || len(p.Attach.Models)+len(p.Attach.Tenants) == 0, path+".attach.all", "excludes attach.models and attach.tenants")
		for j, m := range p.Attach.Models {
			fe.check(m != "", indexPath(path+".attach.models", j), "must not be empty")
		}
		for j, t := range p.Attach.Tenants {
			fe.check(t != "", indexPath(path+".attach.tenants", j), "must not be empty")
		}
	}
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isOrigin reports whether s is a serialized web origin: scheme://host[:port], lower case.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		s == u.Scheme+"://"+u.Host && s == strings.ToLower(s)
}
