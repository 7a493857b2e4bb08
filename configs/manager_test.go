package configs

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The manager's memory keys: parsed as integers, expanded from the environment like every value,
// and refused with the setting and its line when invalid.
func TestParseManagerMemoryKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
manager:
  history_bytes: ${HISTORY_BYTES}
  max_bytes: 2_147_483_648
  max_retained: ${MAX_RETAINED:-500}
`), env(map[string]string{"HISTORY_BYTES": "1048576"}))
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20), cfg.Manager.HistoryBytes)
	assert.Equal(t, int64(2<<30), cfg.Manager.MaxBytes)
	assert.Equal(t, 500, cfg.Manager.MaxRetained)

	for _, tt := range []struct {
		name, doc string
		want      []string // "line: field: message"
	}{
		{"not an integer", "manager:\n  history_bytes: 16MiB\n", []string{"2: manager.history_bytes: must be an integer"}},
		{"quoted", "manager:\n  max_bytes: \"1024\"\n", []string{"2: manager.max_bytes: must be an integer"}},
		{"zero", "manager:\n  history_bytes: 0\n", []string{"2: manager.history_bytes: must be at least 1"}},
		{"max_retained zero", "manager:\n  max_retained: 0\n", []string{"2: manager.max_retained: must be at least 1"}},
		{"max_retained from an empty variable", "manager:\n  max_retained: ${EMPTY:-}\n", []string{"2: manager.max_retained: must be an integer"}},
		{"budget below one history", "manager:\n  history_bytes: 1000\n  max_bytes: 999\n",
			[]string{"3: manager.max_bytes: must be at least manager.history_bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), env(nil))
			require.Error(t, err)
			assert.Equal(t, tt.want, fieldLines(t, err))
		})
	}
}

// fieldLines renders each FieldError of err as "line: field: message".
func fieldLines(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, fe := range fieldErrorsOf(t, err) {
		out = append(out, strconv.Itoa(fe.Line)+": "+fe.Field+": "+fe.Msg)
	}
	return out
}

// Tenant limits: a default and overrides by tenant name, values expanded from the environment,
// and every problem reported at its line.
func TestParseTenantLimits(t *testing.T) {
	cfg, err := Parse([]byte(`
auth:
  keys:
    - {id: a, key: k1, tenant: acme}
    - {id: b, key: k2, tenant: globex}
manager:
  tenant_limits:
    default:
      max_streams: ${TENANT_STREAMS}
      max_bytes: 33554432
    tenants:
      acme:
        max_streams: 900
        max_bytes: ${ACME_BYTES:-536870912}
      globex: {max_streams: 1, max_bytes: 16777216}
`), env(map[string]string{"TENANT_STREAMS": "10"}))
	require.NoError(t, err)
	assert.Equal(t, TenantLimits{
		Default: Quota{MaxStreams: 10, MaxBytes: 32 << 20},
		Tenants: map[string]Quota{"acme": {MaxStreams: 900, MaxBytes: 512 << 20}, "globex": {MaxStreams: 1, MaxBytes: 16 << 20}},
	}, cfg.Manager.TenantLimits)
	assert.Contains(t, cfg.String(), "    tenants:\n      acme:\n        max_streams: 900\n        max_bytes: 536870912\n")

	for _, tt := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown key", "manager:\n  tenant_limits:\n    default:\n      streams: 1\n",
			[]string{"4: manager.tenant_limits.default.streams: unknown key (expected one of: max_streams, max_bytes)"}},
		{"override not a mapping", "manager:\n  tenant_limits:\n    tenants:\n      acme: 5\n",
			[]string{"4: manager.tenant_limits.tenants.acme: must be a mapping"}},
		{"override incomplete", "auth:\n  keys: [{id: a, key: k, tenant: acme}]\nmanager:\n  tenant_limits:\n    tenants:\n      acme:\n        max_streams: 2\n",
			[]string{"6: manager.tenant_limits.tenants.acme.max_bytes: must be at least 1"}},
		{"override of no key's tenant", "auth:\n  keys: [{id: a, key: k, tenant: acme}]\nmanager:\n  tenant_limits:\n    tenants:\n      acne: {max_streams: 1, max_bytes: 16777216}\n",
			[]string{"6: manager.tenant_limits.tenants.acne: names no tenant of auth.keys"}},
		{"default below one history", "manager:\n  tenant_limits:\n    default:\n      max_bytes: 1024\n",
			[]string{"4: manager.tenant_limits.default.max_bytes: must be at least manager.history_bytes, so that a stream fits"}},
		{"unset variable", "manager:\n  tenant_limits:\n    default:\n      max_streams: ${NOPE}\n",
			[]string{"4: manager.tenant_limits.default.max_streams: environment variable NOPE is not set (write ${NOPE:-} to allow an empty value)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), env(nil))
			require.Error(t, err)
			assert.Equal(t, tt.want, fieldLines(t, err))
		})
	}
}
