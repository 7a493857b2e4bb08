package configs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env returns a lookup function over vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestExpandString(t *testing.T) {
	lookup := env(map[string]string{"A": "alpha", "EMPTY": "", "DOLLAR": "${B}", "NL": "a\nb: c"})
	tests := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{"${A}", "alpha"},
		{"x${A}y${A}z", "xalphayalphaz"},
		{"${A:-dflt}", "alpha"},
		{"${UNSET:-dflt}", "dflt"},
		{"${EMPTY:-dflt}", "dflt"},
		{"${EMPTY}", ""},
		{"${UNSET:-}", ""},
		{"${UNSET:-a:-b c}", "a:-b c"},
		{"$${A}", "${A}"},
		{"$$${A}", "$${A}"},
		{"$$$${A}", "$$${A}"},
		{"$${UNSET}", "${UNSET}"},
		{"pa$word $5 $$ $", "pa$word $5 $$ $"},
		{"${DOLLAR}", "${B}"},
		{"${NL}", "a\nb: c"},
		{"${_a1}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expandString(tt.in, func(name string) (string, bool) {
				if name == "_a1" {
					return "", true
				}
				return lookup(name)
			})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExpandStringErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"${UNSET}", "environment variable UNSET is not set (write ${UNSET:-} to allow an empty value)"},
		{"x ${A", errUnterminated.Error()},
		{"${}", errBadReference.Error()},
		{"${1A}", errBadReference.Error()},
		{"${A-b}", errBadReference.Error()},
		{"${A:?b}", errBadReference.Error()},
		{"${A B}", errBadReference.Error()},
		{"${A:-${B}}", errNestedDefault.Error()},
		{"${BINARY}", "environment variable BINARY is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := expandString(tt.in, env(map[string]string{"A": "a", "B": "b", "BINARY": "\xff"}))
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestParseExpansion(t *testing.T) {
	vars := map[string]string{
		"KEY":      "AIza-secret",
		"INJECT":   "a\nb: c",
		"FLOWY":    "{kind: sse}",
		"MAX":      "250",
		"RPS":      "2.5",
		"DUR":      "3s",
		"BOOL":     "true",
		"NULLISH":  "null",
		"ORIGIN":   "https://app.example",
		"HEADER":   "Bearer sk-1",
		"PLUGINNO": "42",
	}
	_, err := Parse([]byte(`
upstream:
  kind: gemini
  api_key: ${KEY}
  simulator:
    text: ${INJECT}
  vertex:
    project: ${UNSET:-proj-1}
    credentials_file: '${NULLISH}'
  base_url: "$${not expanded}"
  sse:
    method: ${FLOWY}
    headers:
      Authorization: ${HEADER}
manager:
  max_streams: ${MAX}
  retain_closed: ${DUR}
limits:
  rate:
    per_key_rps: ${RPS}
cors:
  allowed_origins: [ "${ORIGIN}" ]
log:
  level: ${UNSET:-debug}
plugins:
  - name: p
    path: ./bin/p
    config:
      plain: ${PLUGINNO}
      quoted: "${PLUGINNO}"
      flag: ${BOOL}
      empty: ${UNSET:-}
      nullish: ${NULLISH}
      escaped: $${X}
    attach:
      all: ${BOOL}
`), env(vars))
	// base_url "${not expanded}" is not a URL and sse.method is not a method: validation runs on
	// the expanded values.
	require.Error(t, err)
	assert.Equal(t, []string{"upstream.base_url", "upstream.sse.method"}, fieldsOf(t, err))

	cfg, err := Parse([]byte(`
upstream:
  kind: gemini
  api_key: ${KEY}
  simulator:
    text: ${INJECT}
  vertex:
    project: ${UNSET:-proj-1}
    credentials_file: '${NULLISH}'
  sse:
    headers:
      Authorization: ${HEADER}
manager:
  max_streams: ${MAX}
  retain_closed: ${DUR}
limits:
  rate:
    per_key_rps: ${RPS}
cors:
  allowed_origins: [ "${ORIGIN}" ]
log:
  level: ${UNSET:-debug}
plugins:
  - name: p
    path: ./bin/p
    config:
      plain: ${PLUGINNO}
      quoted: "${PLUGINNO}"
      flag: ${BOOL}
      empty: ${UNSET:-}
      nullish: ${NULLISH}
      escaped: $${X}
    attach:
      all: ${BOOL}
`), env(vars))
	require.NoError(t, err)
	assert.Equal(t, Secret("AIza-secret"), cfg.Upstream.APIKey)
	assert.Equal(t, "a\nb: c", cfg.Upstream.Simulator.Text, "an env value cannot inject YAML structure")
	assert.Equal(t, "proj-1", cfg.Upstream.Vertex.Project)
	assert.Equal(t, "null", cfg.Upstream.Vertex.CredentialsFile)
	assert.Equal(t, map[string]Secret{"Authorization": "Bearer sk-1"}, cfg.Upstream.SSE.Headers)
	assert.Equal(t, 250, cfg.Manager.MaxStreams)
	assert.Equal(t, 3*time.Second, cfg.Manager.RetainClosed)
	assert.Equal(t, 2.5, cfg.Limits.Rate.PerKeyRPS)
	assert.Equal(t, []string{"https://app.example"}, cfg.CORS.AllowedOrigins)
	assert.Equal(t, "debug", cfg.Log.Level)
	assert.Equal(t, map[string]any{
		"plain": 42, "quoted": "42", "flag": true, "empty": "", "nullish": "null", "escaped": "${X}",
	}, cfg.Plugins[0].Config)
	assert.True(t, cfg.Plugins[0].Attach.All)
}

func TestParseInjectionStaysString(t *testing.T) {
	// Whatever the variable holds, it is one scalar value: the parsed document has exactly the
	// keys written in the file.
	for _, v := range []string{"a\nb: c", "x\nupstream:\n  kind: sse", "[1, 2]", "{a: 1}", "&a b", "*a", "!!int 1", "# c", "'q", "\"q"} {
		t.Run(v, func(t *testing.T) {
			cfg, err := Parse([]byte("upstream:\n  simulator:\n    text: ${V}\n"), env(map[string]string{"V": v}))
			require.NoError(t, err)
			assert.Equal(t, v, cfg.Upstream.Simulator.Text)
			want := Default()
			want.Upstream.Simulator.Text = v
			assert.Equal(t, want, cfg)
		})
	}
}

func TestParseExpansionErrors(t *testing.T) {
	_, err := Parse([]byte(`listen: ${LISTEN}
upstream:
  api_key: ${GEMINI_KEY}
  retry:
    max_attempts: ${BAD-NAME}
manager:
  max_streams: "${MAX}"
  history_size: ${EMPTY:-}
plugins:
  - name: p
    path: ${PLUGIN_PATH
`), env(map[string]string{"MAX": "7"}))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{
		"line 1: listen: environment variable LISTEN is not set (write ${LISTEN:-} to allow an empty value)",
		"line 3: upstream.api_key: environment variable GEMINI_KEY is not set (write ${GEMINI_KEY:-} to allow an empty value)",
		"line 5: upstream.retry.max_attempts: " + errBadReference.Error(),
		"line 11: plugins[0].path: " + errUnterminated.Error(),
		"line 7: manager.max_streams: must be an integer",
		"line 8: manager.history_size: must be an integer",
	}, errorStrings(t, err))
}

func TestParseErrorsNeverEchoValues(t *testing.T) {
	secret := "sk-very-secret"
	_, err := Parse([]byte(`
listen: ${S}
heartbeat: ${S}
client_queue_size: ${S}
upstream:
  kind: ${S}
  base_url: ${S}
  api_key: "${S} ${S}"
  retry:
    jitter: ${S}
    multiplier: !!float ${S}
manager:
  on_client_send_error: ${S}
auth:
  keys:
    - {id: a, sha256: "${S}", tenant: t}
log:
  level: ${S}
plugins:
  - name: x
    path: p
    config:
      tagged: !!int ${S}
`), env(map[string]string{"S": secret}))
	require.Error(t, err)
	assert.Equal(t, []string{"heartbeat", "client_queue_size", "upstream.retry.jitter", "upstream.retry.multiplier", "plugins[0].config.tagged"}, fieldsOf(t, err))
	assert.NotContains(t, err.Error(), "secret")

	_, err = Parse([]byte(`
listen: ${S}
upstream:
  kind: ${S}
  base_url: ${S}
  api_key: "${S} ${S}"
manager:
  on_client_send_error: ${S}
auth:
  keys:
    - {id: a, sha256: "${S}", tenant: t}
log:
  level: ${S}
`), env(map[string]string{"S": secret}))
	require.Error(t, err)
	assert.Equal(t, []string{"listen", "upstream.kind", "upstream.base_url", "upstream.api_key", "manager.on_client_send_error", "auth.keys[0].sha256", "log.level"}, fieldsOf(t, err))
	assert.NotContains(t, err.Error(), "secret")
}

// errorStrings returns the message of every FieldError joined in err.
func errorStrings(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, fe := range fieldErrorsOf(t, err) {
		out = append(out, fe.Error())
	}
	return out
}

func TestParseStrict(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // the errors, exactly
	}{
		{"unknown top-level key", "listen: :1\nlisten_addr: x\n", []string{
			"line 2: listen_addr: unknown key (expected one of: listen, shutdown_grace, heartbeat, orphan_grace, client_queue_size, client_queue_bytes, upstream, manager, auth, limits, cors, log, admin, telemetry, plugins, cluster)",
		}},
		{"unknown nested key", "upstream:\n  retry:\n    max_attempt: 3\n", []string{
			"line 3: upstream.retry.max_attempt: unknown key (expected one of: max_attempts, initial_interval, max_interval, multiplier, jitter, max_elapsed)",
		}},
		{"unknown key in list item", "auth:\n  keys:\n    - id: a\n      key: k\n      tenant: t\n      role: admin\n", []string{
			"line 6: auth.keys[0].role: unknown key (expected one of: id, key, sha256, tenant)",
		}},
		{"duplicate key", "heartbeat: 1s\nheartbeat: 2s\n", []string{"line 2: heartbeat: duplicate key (first at line 1)"}},
		{"duplicate header", "upstream:\n  sse:\n    headers:\n      A: x\n      A: y\n", []string{"line 5: upstream.sse.headers.A: duplicate key (first at line 4)"}},
		{"duplicate plugin config key", "plugins:\n- name: a\n  path: p\n  config: {x: 1, x: 2}\n", []string{"line 4: plugins[0].config.x: duplicate key (first at line 4)"}},
		{"merge key", "base: &b {level: info}\n", []string{
			"line 1: base: unknown key (expected one of: listen, shutdown_grace, heartbeat, orphan_grace, client_queue_size, client_queue_bytes, upstream, manager, auth, limits, cors, log, admin, telemetry, plugins, cluster)",
		}},
		{"merge key in mapping", "log:\n  <<: {level: debug}\n", []string{"line 2: log: merge keys (<<) are not supported"}},
		{"non-string key", "log:\n  [a]: b\n", []string{"line 2: log: keys must be strings"}},
		{"document not a mapping", "- a\n- b\n", []string{"line 1: the document must be a mapping of settings"}},
		{"section not a mapping", "upstream: gemini\n", []string{"line 1: upstream: must be a mapping"}},
		{"list not a list", "cors:\n  allowed_origins: https://a.example\n", []string{"line 2: cors.allowed_origins: must be a list"}},
		{"map not a mapping", "upstream:\n  sse:\n    headers: [a]\n", []string{"line 3: upstream.sse.headers: must be a mapping"}},
		{"plugin config not a mapping", "plugins:\n- name: a\n  path: p\n  config: [1]\n", []string{"line 4: plugins[0].config: must be a mapping"}},
		{"string given a mapping", "listen: {a: b}\n", []string{"line 1: listen: must be a string"}},
		{"integer given a float", "manager:\n  max_streams: 1.5\n", []string{"line 2: manager.max_streams: must be an integer"}},
		{"integer given a string", "manager:\n  max_streams: many\n", []string{"line 2: manager.max_streams: must be an integer"}},
		{"integer given a quoted number", "manager:\n  max_streams: \"10\"\n", []string{"line 2: manager.max_streams: must be an integer"}},
		{"integer out of range", "limits:\n  max_body_bytes: 99999999999999999999\n", []string{"line 2: limits.max_body_bytes: must be an integer"}},
		{"integer given a list", "manager:\n  max_streams: [1]\n", []string{"line 2: manager.max_streams: must be an integer"}},
		{"float given a string", "upstream:\n  retry:\n    jitter: half\n", []string{"line 3: upstream.retry.jitter: must be a number"}},
		{"bool given yes", "plugins:\n- name: a\n  path: p\n  attach: {all: yes}\n", []string{"line 4: plugins[0].attach.all: must be true or false"}},
		{"duration without unit", "heartbeat: 15\n", []string{"line 1: heartbeat: must be a duration with a unit, such as 15s or 5m"}},
		{"duration given a mapping", "heartbeat: {s: 1}\n", []string{"line 1: heartbeat: must be a duration such as 15s or 5m"}},
		{"off on an ordinary duration", "heartbeat: off\n", []string{"line 1: heartbeat: must be a duration with a unit, such as 15s or 5m"}},
		{"inactivity zero", "manager:\n  inactivity_timeout: 0s\n", []string{"line 2: manager.inactivity_timeout: must be positive (write off to disable it)"}},
		{"inactivity negative", "manager:\n  inactivity_timeout: -1m\n", []string{"line 2: manager.inactivity_timeout: must be positive (write off to disable it)"}},
		{"infinite float in plugin config", "plugins:\n- name: a\n  path: p\n  config: {x: .inf}\n", []string{"line 4: plugins[0].config.x: must be a finite number (JSON has no infinity or NaN)"}},
		{"alias cycle in plugin config", "plugins: &p\n- name: a\n  path: p\n  config: {x: *p}\n", []string{"line 4: plugins[0].config.x[0].config.x: alias refers to a value that contains it"}},
		{"validation lines", "manager:\n  history_size: 0\n  retain_closed: 0s\nauth:\n  keys:\n  - id: a\n    tenant: t\n", []string{
			"line 2: manager.history_size: must be at least 1",
			"line 3: manager.retain_closed: must be positive",
			"line 6: auth.keys[0]: set exactly one of key and sha256",
		}},
		{"validation of an absent field names the nearest line", "manager:\n  history_size: 9000\n", []string{
			"client_queue_size: must be at least manager.history_size, so that a full replay fits in the queue",
		}},
		{"validation inside a present section", "upstream:\n  kind: vertex\n", []string{
			"line 1: upstream.vertex.project: is required for kind vertex",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), env(nil))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tt.want, errorStrings(t, err))
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"bad indentation", "upstream:\n  kind: a\n bad: b\n", "invalid config: yaml: line 2: did not find expected key"},
		{"two documents", "listen: :1\n---\nlisten: :2\n", "invalid config: yaml: line 2: a configuration is a single YAML document"},
		{"tab", "listen:\t:1\n\tx", "invalid config: yaml: line 2: found a tab character that violates indentation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), env(nil))
			require.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestParseDefaults(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "~\n", "---\n", "listen:\nheartbeat: ~\nauth: {keys: }\n"} {
		t.Run(doc, func(t *testing.T) {
			cfg, err := Parse([]byte(doc), env(nil))
			require.NoError(t, err)
			assert.Equal(t, Default(), cfg)
		})
	}
}

func TestParseValues(t *testing.T) {
	cfg, err := Parse([]byte(`
listen: "0.0.0.0:9000"
heartbeat: 0
orphan_grace: 250ms
upstream:
  kind: sse
  base_url: https://llm.example/v1/stream
  sse:
    method: GET
    headers: {Authorization: "Bearer x", X-Trace: "1"}
  retry: {max_attempts: 1, multiplier: 1}
manager:
  inactivity_timeout: off
auth:
  keys:
    - {id: alice, key: k1, tenant: acme}
    - id: bob
      sha256: `+digestA+`
      tenant: globex
limits: {max_body_bytes: 1_048_576, rate: {per_key_rps: 0, burst: 0}}
cors: {allowed_origins: ["*"]}
log: {level: warn, format: text}
plugins:
  - name: jsonl
    path: ./bin/streamgate-plugin-jsonl
    config: &c
      dir: /tmp/streams
      nested: {list: [1, 2.5, "3", true, null], when: 2024-01-02}
    attach: {models: [gemini-2.5-flash], tenants: [acme]}
  - name: copy
    path: ./bin/copy
    config: *c
`), env(nil))
	require.NoError(t, err)
	want := Default()
	want.Listen = "0.0.0.0:9000"
	want.Heartbeat = 0
	want.OrphanGrace = 250 * time.Millisecond
	want.Upstream.Kind = KindSSE
	want.Upstream.BaseURL = "https://llm.example/v1/stream"
	want.Upstream.SSE.Method = "GET"
	want.Upstream.SSE.Headers = map[string]Secret{"Authorization": "Bearer x", "X-Trace": "1"}
	want.Upstream.Retry.MaxAttempts = 1
	want.Upstream.Retry.Multiplier = 1
	want.Manager.InactivityTimeout = Off
	want.Auth.Keys = []Key{{ID: "alice", Key: "k1", Tenant: "acme"}, {ID: "bob", SHA256: digestA, Tenant: "globex"}}
	want.Limits.MaxBodyBytes = 1 << 20
	want.Limits.Rate = Rate{}
	want.CORS.AllowedOrigins = []string{"*"}
	want.Log = Log{Level: "warn", Format: "text"}
	pluginConfig := map[string]any{
		"dir":    "/tmp/streams",
		"nested": map[string]any{"list": []any{1, 2.5, "3", true, nil}, "when": "2024-01-02"},
	}
	want.Plugins = []Plugin{
		{Name: "jsonl", Path: "./bin/streamgate-plugin-jsonl", Config: pluginConfig,
			Attach: Attach{Models: []string{"gemini-2.5-flash"}, Tenants: []string{"acme"}}},
		{Name: "copy", Path: "./bin/copy", Config: pluginConfig},
	}
	assert.Equal(t, want, cfg)

	js, err := cfg.Plugins[0].ConfigJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"dir":"/tmp/streams","nested":{"list":[1,2.5,"3",true,null],"when":"2024-01-02"}}`, string(js))
}

func TestParseAliasBudget(t *testing.T) {
	// Nine levels of nine aliases expand to 9^9 nodes: refused, quickly.
	doc := "plugins:\n- name: a\n  path: p\n  config:\n    l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		p := "*l" + string(rune('0'+i-1))
		doc += "    l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [" + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + "]\n"
	}
	_, err := Parse([]byte(doc), env(nil))
	require.Error(t, err)
	assert.Len(t, fieldErrorsOf(t, err), 1)
	assert.Contains(t, err.Error(), "too many values (aliases expand beyond 100000 nodes)")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()

	_, err := Load(filepath.Join(dir, "missing.yaml"), env(nil))
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.NotErrorIs(t, err, ErrInvalid)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("listen: x\nlog:\n  level: loud\n"), 0o600))
	_, err = Load(bad, env(nil))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{
		bad + ":1: listen: must be host:port, such as 127.0.0.1:8080",
		bad + ":3: log.level: must be one of debug, info, warn, error",
	}, errorStrings(t, err))
	assert.Equal(t, bad, fieldErrorsOf(t, err)[0].File)

	syntax := filepath.Join(dir, "syntax.yaml")
	require.NoError(t, os.WriteFile(syntax, []byte("a: [\n"), 0o600))
	_, err = Load(syntax, env(nil))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Regexp(t, `^`+syntax+`: invalid config: yaml: line \d+: `, err.Error())

	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("listen: ${ADDR:-127.0.0.1:0}\n"), 0o600))
	cfg, err := Load(good, env(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:0", cfg.Listen)
}

func TestParseNilLookupUsesEnvironment(t *testing.T) {
	t.Setenv("STREAMGATE_TEST_LISTEN", "127.0.0.1:7070")
	cfg, err := Parse([]byte("listen: ${STREAMGATE_TEST_LISTEN}\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7070", cfg.Listen)
}

func TestParseAliasBudgetTyped(t *testing.T) {
	// 400 plugins, each attached to the same 400 models: 160,000 values from a small file.
	doc := "plugins:\n- &p {name: a, path: p, attach: {models: &m [" + strings.Repeat("m, ", 399) + "m]}}\n"
	doc += strings.Repeat("- *p\n", 399)
	_, err := Parse([]byte(doc), env(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too many values (aliases expand beyond 100000 nodes)")
	assert.Len(t, fieldErrorsOf(t, err), 1)
}

func TestParseAdminAndTelemetry(t *testing.T) {
	cfg, err := Parse([]byte(`
admin: {listen: "", pprof: true}
telemetry:
  otlp_endpoint: ${OTLP:-}
  otlp_protocol: grpc
  service_name: gateway-eu
  models: [gemini-2.5-flash, gemini-2.5-pro]
  max_models: 0
`), env(map[string]string{"OTLP": "http://127.0.0.1:4317"}))
	require.NoError(t, err)
	want := Default()
	want.Admin = Admin{Listen: "", Pprof: true}
	want.Telemetry = Telemetry{
		OTLPEndpoint: "http://127.0.0.1:4317",
		OTLPProtocol: "grpc",
		ServiceName:  "gateway-eu",
		Models:       []string{"gemini-2.5-flash", "gemini-2.5-pro"},
		MaxModels:    0,
	}
	assert.Equal(t, want, cfg)
}

func TestParseCluster(t *testing.T) {
	t.Run("the password from a variable, lease and node_id as written", func(t *testing.T) {
		cfg, err := Parse([]byte(`
cluster:
  redis_url: "redis://:${REDIS_PASSWORD}@127.0.0.1:6379/2"
  node_id: gw-a
  lease: 500ms
`), env(map[string]string{"REDIS_PASSWORD": "s3cret"}))
		require.NoError(t, err)
		assert.Equal(t, Cluster{RedisURL: "redis://:s3cret@127.0.0.1:6379/2", NodeID: "gw-a", Lease: 500 * time.Millisecond}, cfg.Cluster)
		assert.True(t, cfg.Cluster.Enabled())
		assert.NotContains(t, cfg.String(), "s3cret")
	})
	t.Run("the block without redis_url keeps cluster mode off", func(t *testing.T) {
		cfg, err := Parse([]byte("cluster:\n  redis_url: \"${STREAMGATE_REDIS_URL:-}\"\n"), env(nil))
		require.NoError(t, err)
		assert.False(t, cfg.Cluster.Enabled())
		assert.Equal(t, Default().Cluster, cfg.Cluster)
	})
	t.Run("a bad URL is named, never quoted", func(t *testing.T) {
		_, err := Parse([]byte("cluster:\n  redis_url: \"http://:s3cret@127.0.0.1:6379\"\n  lease: 10ms\n"), env(nil))
		require.Error(t, err)
		assert.Equal(t, "line 2: cluster.redis_url: must be a redis:// or rediss:// URL with a host, such as redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0 (a password percent-encoded)\n"+
			"line 3: cluster.lease: must be at least 100ms", err.Error())
		assert.NotContains(t, err.Error(), "s3cret")
	})
}
